/**
 * The compaction worker: runs in a worker thread, so that reading, checking and writing hundreds
 * of megabytes never blocks the event loop that serves requests. It only reads the input
 * segments (sealed: they never change) and writes new files under temporary names; everything
 * that changes what the store is (the commit, renames, the keydir switch-over, removals) is done
 * by the main thread (compactor.ts).
 *
 * Given the live records to copy (in the order the main thread chose for locality) and a
 * threshold for tombstones, it writes:
 *   - output segments `N.seg.tmp`, each starting with an idWatermark record, then the live
 *     records, checked against their checksums as they are copied, then the tombstones that must
 *     be kept; each output is at most `segmentSizeBytes` (a record larger than that gets one of
 *     its own), synced;
 *   - a hint file `N.hint.tmp` for each, synced.
 * It answers with where each live record went.
 */
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readFileSync, readlinkSync, readSync, writeSync } from 'node:fs'
import { setPriority } from 'node:os'
import { join } from 'node:path'
import { parentPort } from 'node:worker_threads'
import { CorruptionError, StratumError } from './errors.ts'
import { HintBuilder, hintFileName, replayHint } from './hint-file.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { decodeIntactRecord, isTombstoneKind, readUint53 } from './record.ts'
import { encodeSegmentHeader, segmentFileName } from './segment-file.ts'
import type { CompactionJob, CompactionOutput, WorkerReply } from './compaction-protocol.ts'
import { intactRecords, SegmentReader } from './segment-reader.ts'

/**
 * Bytes gathered before one write to an output, each write followed by an fdatasync. Syncing as
 * it goes keeps the worker's unsynced bytes small: on ext4 (data=ordered), the store's own
 * fdatasync of a write may have to flush the worker's dirty pages first, and a whole output
 * of tens of megabytes would hold it up that long.
 */
const writeBufferBytes = 1024 * 1024

/** A reader of input segment `segmentNumber`, open as `fd`. */
function inputReader(segmentNumber: number, fd: number): SegmentReader {
  return new SegmentReader(segmentNumber, fstatSync(fd).size, (target, offset) => {
    let done = 0
    // Bounded: each pass reads at least one byte or throws.
    while (done < target.length) {
      const got = readSync(fd, target, done, target.length - done, offset + done)
      if (got === 0) throw new StratumError('IO_ERROR', `segment ${segmentNumber} shrank while it was compacted`)
      done += got
    }
  })
}

/** Writes output segments one after another, with their hints. */
class OutputWriter {
  readonly outputs: CompactionOutput[] = []
  private fd = -1
  private hint: HintBuilder | undefined
  private buffer = Buffer.allocUnsafe(writeBufferBytes)
  private buffered = 0
  /** Bytes of the current output written or buffered. */
  private sizeBytes = 0
  private flushedBytes = 0
  private current: CompactionOutput | undefined
  private announced = false

  constructor(private readonly job: CompactionJob) {}

  /** Appends one record (copied), starting a new output when it would not fit in the current one. */
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
    if (sizeBytes > this.buffer.length) {
      this.writeAt(bytes, offset)
      fdatasyncSync(this.fd)
      this.flushedBytes += sizeBytes
    } else {
      bytes.copy(this.buffer, this.buffered)
      this.buffered += sizeBytes
    }
    this.sizeBytes += sizeBytes
    this.hint!.add(bytes, offset)
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
    this.current = { segmentNumber, sizeBytes: 0, minSeq: Number.POSITIVE_INFINITY, tombstoneBytes: 0 }
    this.outputs.push(this.current)
    this.fd = openSync(join(this.job.dir, `${segmentFileName(segmentNumber)}.tmp`), 'w')
    this.hint = new HintBuilder(segmentNumber)
    const header = encodeSegmentHeader()
    header.copy(this.buffer, 0)
    this.buffered = header.length
    this.sizeBytes = header.length
    this.flushedBytes = 0
    // Every output starts with the watermark: see RecordKind.idWatermark.
    const watermark = Buffer.from(this.job.watermark)
    this.append(watermark)
  }

  private writeAt(bytes: Buffer, position: number): void {
    let done = 0
    // Bounded: each pass writes at least one byte or throws.
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, position + done)
  }

  private flushBuffer(): void {
    if (this.buffered === 0) return
    this.writeAt(this.buffer.subarray(0, this.buffered), this.flushedBytes)
    fdatasyncSync(this.fd)
    if (!this.announced) {
      this.announced = true
      parentPort?.postMessage({ type: 'writing' } satisfies WorkerReply)
    }
    this.flushedBytes += this.buffered
    this.buffered = 0
  }

  /** Writes out, syncs and closes the current output, and writes its hint. */
  finishOutput(): void {
    const output = this.current
    if (output === undefined) return
    this.flushBuffer()
    fsyncSync(this.fd)
    closeSync(this.fd)
    output.sizeBytes = this.sizeBytes
    const hintPath = join(this.job.dir, `${hintFileName(output.segmentNumber)}.tmp`)
    const hintFd = openSync(hintPath, 'w')
    try {
      const hint = this.hint!.finish(this.sizeBytes)
      let done = 0
      while (done < hint.length) done += writeSync(hintFd, hint, done, hint.length - done, done)
      fsyncSync(hintFd)
    } finally {
      closeSync(hintFd)
    }
    this.current = undefined
  }
}

/** Calls `visit(offset, sizeBytes, seq, kind)` for every record of an input: from its hint, or by a scan. */
function forEachRecord(reader: SegmentReader, dir: string, visit: (offset: number, sizeBytes: number, seq: number, kind: number) => void): void {
  let hintBytes: Buffer | undefined
  try {
    hintBytes = readFileSync(join(dir, hintFileName(reader.segmentNumber)))
  } catch {
    hintBytes = undefined
  }
  if (hintBytes !== undefined) {
    const problem = replayHint(hintBytes, reader.segmentNumber, reader.fileBytes, (header, offset) =>
      visit(offset, recordHeaderBytes + header.payloadBytes, header.seq, header.kind),
    )
    if (problem === undefined) return
  }
  for (const { offset, record } of intactRecords(reader)) {
    if (record === undefined) {
      throw new CorruptionError(`segment ${reader.segmentNumber} is damaged at offset ${offset}; it is left uncompacted`, {
        segmentNumber: reader.segmentNumber,
        offset,
      })
    }
    visit(offset, record.length, readUint53(record, 16), record[8]!)
  }
}

function compact(job: CompactionJob): Extract<WorkerReply, { type: 'done' }> {
  const fds: number[] = []
  const readers = new Map<number, SegmentReader>()
  const output = new OutputWriter(job)
  try {
    for (const segmentNumber of job.inputs) {
      const fd = openSync(join(job.dir, segmentFileName(segmentNumber)), 'r')
      fds.push(fd)
      readers.set(segmentNumber, inputReader(segmentNumber, fd))
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
        const record = readers.get(segmentNumber)!.read(offset, sizeBytes)
        const header = decodeIntactRecord(record, 0)
        if (header === undefined || recordHeaderBytes + header.payloadBytes !== sizeBytes) {
          throw new CorruptionError(
            `the record at offset ${offset} of segment ${segmentNumber} no longer matches its checksum; the segment is left uncompacted`,
            { segmentNumber, offset },
          )
        }
        const placed = output.append(record)
        newSegments[index] = placed.segmentNumber
        newOffsets[index] = placed.offset
      }
    }
    let tombstonesKept = 0
    let tombstonesDropped = 0
    for (const reader of readers.values()) {
      forEachRecord(reader, job.dir, (offset, sizeBytes, seq, kind) => {
        if (!isTombstoneKind(kind)) return
        // Kept while a segment outside this compaction may hold a record older than it.
        if (seq > job.oldestSeqOutside) {
          output.append(reader.read(offset, sizeBytes))
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
    for (const fd of fds) closeSync(fd)
  }
}

/**
 * Compaction is background work: on Linux the worker lowers its own thread's CPU priority, so
 * that on a busy machine the event loop, the thread pool's syncs and the kernel come first.
 * (`/proc/thread-self` names this thread; `setPriority` takes a thread id on Linux.) Elsewhere,
 * or if it is refused, the worker runs at the normal priority.
 */
function lowerPriority(): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, workerNiceness)
  } catch {
    // Not Linux, or not allowed: the normal priority.
  }
}

/** The worker thread's niceness: 10, as `nice` gives by default. */
const workerNiceness = 10

const port = parentPort
if (port === null) throw new Error('compaction-worker.ts runs in a worker thread')
lowerPriority()
port.on('message', (job: CompactionJob) => {
  let reply: WorkerReply
  try {
    reply = compact(job)
  } catch (error) {
    const code = error instanceof StratumError ? error.code : undefined
    const where = error instanceof CorruptionError ? error.segmentNumber : undefined
    reply = { type: 'failed', code, message: error instanceof Error ? error.message : String(error), segmentNumber: where }
  }
  port.postMessage(reply, reply.type === 'done' ? [reply.newSegments.buffer as ArrayBuffer, reply.newOffsets.buffer as ArrayBuffer] : [])
})
