/**
 * One compaction job: the work the compaction worker thread does (compaction-worker.ts), written
 * against the FileSystem seam so that tests can run it in-process through a file system that
 * fails or loses writes on purpose. It only reads the input segments (sealed: they never change)
 * and writes new files under temporary names; everything that changes what the store is (the
 * commit, renames, the keydir switch-over, removals) is done by the main thread (compactor.ts).
 *
 * Given the live records to copy (in the order the main thread chose for locality) and a
 * threshold for tombstones, it writes:
 *   - output segments `N.seg.tmp`, each starting with an idWatermark record, then the live
 *     records, checked against their input's checksums as they are copied and sealed again with
 *     the output's seeds (each record a group commit of its own, BATCH_CONTINUES cleared: an
 *     output's records stand alone), then the tombstones that must be kept, then a syncMark once
 *     all of it is synced; each output is at most `segmentSizeBytes` (a record larger than that
 *     gets one of its own);
 *   - a hint file `N.hint.tmp` for each, synced.
 * It answers with where each live record went.
 */
import { join } from 'node:path'
import { CorruptionError, StratumError } from './errors.ts'
import type { FileSystem } from './file-system.ts'
import { HintBuilder, hintFileName, replayHint } from './hint-file.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { decodeIntactRecord, isTombstoneKind, readUint53, recordGroupMask, sealRecord, type RecordSeeds } from './record.ts'
import { encodeSegmentHeader, readSegmentHeader, segmentFileName, type SegmentFormat } from './segment-file.ts'
import type { CompactionJob, CompactionOutput, WorkerReply } from './compaction-protocol.ts'
import { intactRecords, SegmentReader } from './segment-reader.ts'
import { encodeSyncMark } from './sync-mark.ts'

/**
 * Bytes gathered before one write to an output, each write followed by an fdatasync. Syncing as
 * it goes keeps the worker's unsynced bytes small: on ext4 (data=ordered), the store's own
 * fdatasync of a write may have to flush the worker's dirty pages first, and a whole output
 * of tens of megabytes would hold it up that long.
 */
const writeBufferBytes = 1024 * 1024

/** An input segment: a reader of it, open as `fd`, and what its header says. */
interface Input {
  reader: SegmentReader
  format: SegmentFormat
}

function openInput(fileSystem: FileSystem, segmentNumber: number, fd: number, path: string): Input {
  const reader = new SegmentReader(segmentNumber, fileSystem.fstatSizeBytes(fd), (target, offset) => {
    let done = 0
    // Bounded: each pass reads at least one byte or throws.
    while (done < target.length) {
      const got = fileSystem.readSync(fd, target, done, target.length - done, offset + done)
      if (got === 0) throw new StratumError('IO_ERROR', `segment ${segmentNumber} shrank while it was compacted`)
      done += got
    }
  })
  const format = readSegmentHeader(reader.read(0, Math.min(segmentHeaderBytes, reader.fileBytes)), path)
  if (typeof format !== 'object') {
    throw new CorruptionError(`the header of segment ${segmentNumber} is damaged; the segment is left uncompacted`, { segmentNumber, offset: 0 })
  }
  return { reader, format }
}

/** Writes `bytes` at `position` of `fd`, all of them. */
function writeAll(fileSystem: FileSystem, fd: number, bytes: Buffer, position: number): void {
  let done = 0
  // Bounded: each pass writes at least one byte or throws.
  while (done < bytes.length) {
    const written = fileSystem.writeSync(fd, done === 0 ? bytes : bytes.subarray(done), position + done)
    if (written <= 0) throw new StratumError('IO_ERROR', `a write of ${bytes.length - done} bytes wrote nothing`)
    done += written
  }
}

/** Writes output segments one after another, with their hints. */
class OutputWriter {
  readonly outputs: CompactionOutput[] = []
  private fd = -1
  private seeds: RecordSeeds | undefined
  /** The tag of the last group commit in the current output: every record is one. */
  private groupTag = 0
  private hint: HintBuilder | undefined
  private buffer = Buffer.allocUnsafe(writeBufferBytes)
  private buffered = 0
  /** Bytes of the current output written or buffered. */
  private sizeBytes = 0
  private flushedBytes = 0
  private current: CompactionOutput | undefined
  private announced = false

  constructor(
    private readonly job: CompactionJob,
    private readonly fileSystem: FileSystem,
    private readonly onWriting: () => void,
  ) {}

  /**
   * Appends one record (copied, then sealed with the output's seeds), starting a new output when
   * it would not fit in the current one.
   */
  append(bytes: Buffer): { segmentNumber: number; offset: number } {
    const sizeBytes = bytes.length
    // A new output when this one is full, unless it holds nothing yet but its header and
    // watermark: a record larger than a segment gets an output of its own.
    const holdsRecords = this.sizeBytes > segmentHeaderBytes + this.job.watermark.length
    if (this.current === undefined || (this.sizeBytes + sizeBytes > this.job.segmentSizeBytes && holdsRecords)) {
      this.finishOutput()
      this.startOutput()
    }
    const output = this.current!
    const offset = this.sizeBytes
    if (this.buffered + sizeBytes > this.buffer.length) this.flushBuffer()
    const large = sizeBytes > this.buffer.length
    const copy = large ? Buffer.from(bytes) : this.buffer.subarray(this.buffered, this.buffered + sizeBytes)
    if (!large) bytes.copy(copy)
    copy[9] = 0 // BATCH_CONTINUES cleared: see the module comment
    this.groupTag = (this.groupTag + 1) & recordGroupMask
    sealRecord(copy, this.seeds!, this.groupTag, true)
    if (large) {
      writeAll(this.fileSystem, this.fd, copy, offset)
      this.fileSystem.fdatasyncSync(this.fd)
      this.flushedBytes += sizeBytes
    } else {
      this.buffered += sizeBytes
    }
    this.sizeBytes += sizeBytes
    this.hint!.add(copy, offset)
    const seq = readUint53(bytes, 16)
    if (seq < output.minSeq) output.minSeq = seq
    if (isTombstoneKind(bytes[8]!)) output.tombstoneBytes += sizeBytes
    return { segmentNumber: output.segmentNumber, offset }
  }

  /** Starts an output if none was. */
  ensureStarted(): void {
    if (this.outputs.length === 0) this.startOutput()
  }

  private startOutput(): void {
    const index = this.outputs.length
    if (index >= this.job.outputNumbersMax) throw new Error(`compaction needs more than the ${this.job.outputNumbersMax} segment numbers it reserved`)
    const segmentNumber = this.job.firstOutputNumber + index
    const header = encodeSegmentHeader()
    this.seeds = header.seeds
    this.groupTag = 0
    this.current = { segmentNumber, sizeBytes: 0, minSeq: Number.POSITIVE_INFINITY, tombstoneBytes: 0, seeds: header.seeds }
    this.outputs.push(this.current)
    this.fd = this.fileSystem.openSync(join(this.job.dir, `${segmentFileName(segmentNumber)}.tmp`), 'w')
    this.hint = new HintBuilder(segmentNumber)
    header.bytes.copy(this.buffer, 0)
    this.buffered = header.bytes.length
    this.sizeBytes = header.bytes.length
    this.flushedBytes = 0
    // Every output starts with the watermark: see RecordKind.idWatermark.
    const watermark = Buffer.from(this.job.watermark)
    this.append(watermark)
  }

  private flushBuffer(): void {
    if (this.buffered === 0) return
    writeAll(this.fileSystem, this.fd, this.buffer.subarray(0, this.buffered), this.flushedBytes)
    this.fileSystem.fdatasyncSync(this.fd)
    if (!this.announced) {
      this.announced = true
      this.onWriting()
    }
    this.flushedBytes += this.buffered
    this.buffered = 0
  }

  /**
   * Writes out and syncs the current output, then a syncMark (everything before it is synced),
   * syncs and closes it, and writes its hint.
   */
  finishOutput(): void {
    const output = this.current
    if (output === undefined) return
    const fileSystem = this.fileSystem
    this.flushBuffer()
    this.groupTag = (this.groupTag + 1) & recordGroupMask
    const mark = encodeSyncMark(this.seeds!, this.groupTag)
    writeAll(fileSystem, this.fd, mark, this.sizeBytes)
    this.hint!.add(mark, this.sizeBytes)
    this.sizeBytes += mark.length
    fileSystem.fsyncSync(this.fd)
    fileSystem.closeSync(this.fd)
    output.sizeBytes = this.sizeBytes
    const hintFd = fileSystem.openSync(join(this.job.dir, `${hintFileName(output.segmentNumber)}.tmp`), 'w')
    try {
      writeAll(fileSystem, hintFd, this.hint!.finish(this.sizeBytes), 0)
      fileSystem.fsyncSync(hintFd)
    } finally {
      fileSystem.closeSync(hintFd)
    }
    this.current = undefined
  }
}

/** Calls `visit(offset, sizeBytes, seq, kind)` for every record of an input: from its hint, or by a scan. */
function forEachRecord(
  fileSystem: FileSystem,
  input: Input,
  dir: string,
  visit: (offset: number, sizeBytes: number, seq: number, kind: number) => void,
): void {
  const reader = input.reader
  let hintBytes: Buffer | undefined
  try {
    hintBytes = fileSystem.readFileSync(join(dir, hintFileName(reader.segmentNumber)))
  } catch {
    hintBytes = undefined
  }
  if (hintBytes !== undefined) {
    const problem = replayHint(hintBytes, reader.segmentNumber, reader.fileBytes, (header, offset) =>
      visit(offset, recordHeaderBytes + header.payloadBytes, header.seq, header.kind),
    )
    if (problem === undefined) return
  }
  for (const { offset, record } of intactRecords(reader, input.format)) {
    if (record === undefined) {
      throw new CorruptionError(`segment ${reader.segmentNumber} is damaged at offset ${offset}; it is left uncompacted`, {
        segmentNumber: reader.segmentNumber,
        offset,
      })
    }
    visit(offset, record.length, readUint53(record, 16), record[8]!)
  }
}

/**
 * The record at `offset` of an input, checked against the input's seeds, its length and (when
 * given) its kind before it is copied: a copy is sealed again with the output's seeds, so a
 * damaged record copied unchecked would come out looking whole. A mismatch is CORRUPTION (the
 * input is then left out of compactions).
 */
function checkedRecord(input: Input, offset: number, sizeBytes: number, kind: number | undefined): Buffer {
  const record = input.reader.read(offset, sizeBytes)
  const header = decodeIntactRecord(record, 0, input.format.seeds)
  if (header === undefined || recordHeaderBytes + header.payloadBytes !== sizeBytes || (kind !== undefined && header.kind !== kind)) {
    const segmentNumber = input.reader.segmentNumber
    throw new CorruptionError(
      `the record at offset ${offset} of segment ${segmentNumber} no longer matches its checksum; the segment is left uncompacted`,
      { segmentNumber, offset },
    )
  }
  return record
}

/**
 * Runs one compaction job through `fileSystem`. `onWriting` is called once the first bytes are in
 * an output file (a step for tests).
 */
export function compact(job: CompactionJob, fileSystem: FileSystem, onWriting: () => void): Extract<WorkerReply, { type: 'done' }> {
  const fds: number[] = []
  const inputs = new Map<number, Input>()
  const output = new OutputWriter(job, fileSystem, onWriting)
  try {
    for (const segmentNumber of job.inputs) {
      const path = join(job.dir, segmentFileName(segmentNumber))
      const fd = fileSystem.openSync(path, 'r')
      fds.push(fd)
      inputs.set(segmentNumber, openInput(fileSystem, segmentNumber, fd, path))
    }
    let count = 0
    for (const block of job.copyBlocks) count += block.count
    const newSegments = new Float64Array(count)
    const newOffsets = new Float64Array(count)
    let index = 0
    for (const block of job.copyBlocks) {
      for (let inBlock = 0; inBlock < block.count; inBlock++, index++) {
        const segmentNumber = block.segments[inBlock]!
        const offset = block.offsets[inBlock]!
        const sizeBytes = block.sizes[inBlock]!
        const placed = output.append(checkedRecord(inputs.get(segmentNumber)!, offset, sizeBytes, undefined))
        newSegments[index] = placed.segmentNumber
        newOffsets[index] = placed.offset
      }
    }
    let tombstonesKept = 0
    let tombstonesDropped = 0
    for (const input of inputs.values()) {
      forEachRecord(fileSystem, input, job.dir, (offset, sizeBytes, seq, kind) => {
        if (!isTombstoneKind(kind)) return
        // Kept while a segment outside this compaction may hold a record older than it.
        if (seq > job.oldestSeqOutside) {
          output.append(checkedRecord(input, offset, sizeBytes, kind))
          tombstonesKept++
        } else tombstonesDropped++
      })
    }
    // Even with nothing to copy there is one output: its watermark keeps the ids of the records
    // dropped here from being issued again.
    output.ensureStarted()
    output.finishOutput()
    return {
      type: 'done',
      outputs: output.outputs,
      newSegments,
      newOffsets,
      recordsCopied: count,
      tombstonesKept,
      tombstonesDropped,
    }
  } finally {
    for (const fd of fds) fileSystem.closeSync(fd)
  }
}

