/**
 * Opening a store: every segment is scanned in number order and its records replayed into the
 * keydir. See docs/format.md#recovery for the rules and the crash analysis.
 *
 * Rules:
 *   - For each id and column the record with the highest sequence number wins, wherever it is.
 *   - A tombstone is final: ids are never reused and nothing is written to a deleted id, so every
 *     other record of that id is older than its tombstone.
 *   - The records of one write (a batch: all but the last flagged BATCH_CONTINUES) are applied
 *     together or not at all when the batch is cut off by the end of the log.
 *   - The newest segment may end in zeros, written ahead of the tail to keep syncs cheap: they
 *     are the end of the log, cut off without a report.
 *   - Damage in the newest segment with no valid record after it is a torn tail: the write was
 *     never acknowledged, and the file is truncated there. Damage anywhere else is corruption:
 *     a record with an intact header is indexed as corrupt (its reads fail with CORRUPTION); bytes
 *     with a damaged header are skipped up to the next valid record and reported as a range.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { StratumError } from './errors.ts'
import { syncDirectory, type FileSystem } from './file-system.ts'
import { localIdOf, shardOf } from './ids.ts'
import { Keydir, pageBits, pageSlots, SlotKind, type Column, type Location } from './keydir.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import {
  decodeIntactRecord,
  decodeRecordHeader,
  isTombstoneKind,
  recordFlagBatchContinues,
  RecordKind,
  recordPayloadIsIntact,
  type RecordHeader,
} from './record.ts'
import { commitFileName, decodeCommit, installOutputs, removeInputs, type CompactionCommit } from './compaction-commit.ts'
import { HintBuilder, hintFileName, parseHintFileName, replayHint as replayHintFile, writeHintFile } from './hint-file.ts'
import type { SegmentStats, SegmentStatsTable } from './segment-stats.ts'
import { checkSegmentHeader, createSegmentFile, parseSegmentFileName, segmentMagic, segmentPath } from './segment-file.ts'
import { SegmentFiles } from './segment-files.ts'

/**
 * Replays a sealed segment from its hint file. False (with the reason in the report) when the
 * hint cannot be used, and the segment must be scanned.
 */
function replayHint(
  options: { fileSystem: FileSystem; dir: string },
  segmentNumber: number,
  segmentBytes: number,
  replay: Replay,
  report: RecoveryReport,
): boolean {
  let bytes: Buffer
  try {
    bytes = options.fileSystem.readFileSync(join(options.dir, hintFileName(segmentNumber)))
  } catch (error) {
    report.unusableHints.push({ segmentNumber, problem: `unreadable: ${String(error)}` })
    return false
  }
  const record: PendingRecord = { header: undefined as unknown as RecordHeader, offset: 0, corrupt: false }
  const problem = replayHintFile(bytes, segmentNumber, segmentBytes, (header, offset, metaPayload) => {
    record.header = header
    record.offset = offset
    replay.apply(segmentNumber, record, metaPayload)
  })
  if (problem !== undefined) {
    report.unusableHints.push({ segmentNumber, problem })
    return false
  }
  report.segmentsFromHints++
  return true
}

/** At most this many damaged records and ranges are listed one by one; all are counted. */
const reportedDamageMax = 100

export interface DamagedRecord {
  segmentNumber: number
  offset: number
  id: number
  kind: RecordKind
}

export interface DamagedRange {
  segmentNumber: number
  offset: number
  lengthBytes: number
}

export interface RecoveryReport {
  segmentCount: number
  recordCount: number
  bytesScanned: number
  /** The torn tail cut from the newest segment, if the last run stopped mid-write. */
  tornTail: { segmentNumber: number; offset: number; droppedBytes: number } | null
  /** Records whose payload failed its checksum (their header, so their id, is intact). */
  damagedRecordCount: number
  damagedRecords: DamagedRecord[]
  /** Byte ranges whose headers failed their checksum: what they held is unknown. */
  damagedRangeCount: number
  damagedRanges: DamagedRange[]
  /**
   * Leftovers removed: temporary files of an interrupted segment, hint or compaction write, and
   * hint files whose segment is gone.
   */
  removedTemporaryFiles: string[]
  /** A compaction that was committed but not finished when the store last stopped, finished now. */
  finishedCompaction: CompactionCommit | null
  /** Sealed segments opened from their hint files, without reading the segment. */
  segmentsFromHints: number
  /** Segments read and checked record by record (the newest always is). */
  segmentsScanned: number
  /** Hint files written by this open, for sealed segments that had none (or a bad one). */
  hintsWritten: number
  /** Hint files that could not be used, and why; their segments were scanned instead. */
  unusableHints: Array<{ segmentNumber: number; problem: string }>
  durationMs: number
}

export interface RecoveredStore {
  report: RecoveryReport
  /** The next local id to issue: above every id found in any record. */
  nextLocalId: number
  /** The next sequence number: above every one found. */
  nextSeq: number
  activeSegmentNumber: number
  activeFd: number
  activeSizeBytes: number
}

interface PendingRecord {
  header: RecordHeader
  offset: number
  corrupt: boolean
}

/** Replays one store folder into `keydir` and `files`; leaves the newest segment open for appends. */
export async function recover(options: {
  fileSystem: FileSystem
  dir: string
  shard: number
  keydir: Keydir
  files: SegmentFiles
  segmentStats: SegmentStatsTable
}): Promise<RecoveredStore> {
  const started = performance.now()
  const { fileSystem, dir } = options
  const report: RecoveryReport = {
    segmentCount: 0,
    recordCount: 0,
    bytesScanned: 0,
    tornTail: null,
    damagedRecordCount: 0,
    damagedRecords: [],
    damagedRangeCount: 0,
    damagedRanges: [],
    removedTemporaryFiles: [],
    finishedCompaction: null,
    segmentsFromHints: 0,
    segmentsScanned: 0,
    hintsWritten: 0,
    unusableHints: [],
    durationMs: 0,
  }
  // First, a compaction that was committed but not finished (see compaction-commit.ts).
  const commitPath = join(dir, commitFileName)
  if (fileSystem.existsSync(commitPath)) {
    const commit = decodeCommit(fileSystem.readFileSync(commitPath), commitPath)
    await installOutputs(fileSystem, dir, commit)
    await removeInputs(fileSystem, dir, commit)
    report.finishedCompaction = commit
  }
  const segmentNumbers: number[] = []
  const hinted = new Set<number>()
  for (const name of fileSystem.readdirSync(dir)) {
    if (name.endsWith('.seg.tmp') || name.endsWith('.hint.tmp') || name === `${commitFileName}.tmp`) {
      fileSystem.unlinkSync(`${dir}/${name}`)
      report.removedTemporaryFiles.push(name)
      continue
    }
    const segmentNumber = parseSegmentFileName(name)
    if (segmentNumber !== undefined) segmentNumbers.push(segmentNumber)
    const hintNumber = parseHintFileName(name)
    if (hintNumber !== undefined) hinted.add(hintNumber)
  }
  segmentNumbers.sort((left, right) => left - right)
  const present = new Set(segmentNumbers)
  for (const hintNumber of hinted) {
    if (present.has(hintNumber)) continue
    const name = hintFileName(hintNumber)
    fileSystem.unlinkSync(join(dir, name))
    report.removedTemporaryFiles.push(name)
  }
  const replay = new Replay(options.keydir, options.shard)

  let active: { segmentNumber: number; fd: number; sizeBytes: number } | undefined
  for (const [index, segmentNumber] of segmentNumbers.entries()) {
    const isNewest = index === segmentNumbers.length - 1
    const path = segmentPath(dir, segmentNumber)
    const fd = fileSystem.openSync(path, isNewest ? 'r+' : 'r')
    let sizeBytes: number
    let keptBytes: number
    replay.startSegment()
    try {
      sizeBytes = fileSystem.fstatSizeBytes(fd)
      if (!isNewest && hinted.has(segmentNumber) && replayHint(options, segmentNumber, sizeBytes, replay, report)) {
        report.segmentCount++
        options.files.add(segmentNumber, sizeBytes, fd)
        replay.finishSegment(options.segmentStats.get(segmentNumber))
        continue
      }
      const contents = Buffer.allocUnsafe(sizeBytes)
      let readBytes = 0
      while (readBytes < sizeBytes) {
        const got = fileSystem.readSync(fd, contents, readBytes, sizeBytes - readBytes, readBytes)
        assert(got > 0, `${path} shrank while it was read`)
        readBytes += got
      }
      report.segmentCount++
      report.segmentsScanned++
      report.bytesScanned += sizeBytes
      const damageBefore = report.damagedRecordCount + report.damagedRangeCount
      // A sealed segment gets a hint file from its scan, unless the scan found damage: a hint
      // must give exactly what a scan gives, and damage is reported by scans only.
      const hint = isNewest ? undefined : new HintBuilder(segmentNumber)
      keptBytes = scanSegment(segmentNumber, contents, isNewest, path, replay, report, hint)
      const damaged = report.damagedRecordCount + report.damagedRangeCount !== damageBefore
      const stats = options.segmentStats.get(segmentNumber)
      replay.finishSegment(stats)
      stats.damaged = damaged
      if (hint !== undefined && !damaged) {
        await writeHintFile(fileSystem, dir, segmentNumber, hint.finish(sizeBytes))
        report.hintsWritten++
      }
    } catch (error) {
      // Not yet in `files`, which the caller closes when recovery fails.
      fileSystem.closeSync(fd)
      throw error
    }
    if (keptBytes < sizeBytes) {
      assert(isNewest)
      fileSystem.ftruncateSync(fd, keptBytes)
      fileSystem.fsyncSync(fd)
    }
    if (keptBytes < segmentHeaderBytes) {
      // Created but its header never completed: rewrite the segment from scratch.
      fileSystem.closeSync(fd)
      fileSystem.unlinkSync(path)
      const freshFd = await createSegmentFile(fileSystem, dir, segmentNumber)
      keptBytes = segmentHeaderBytes
      options.segmentStats.set(segmentNumber, { minSeq: Number.POSITIVE_INFINITY, tombstoneBytes: 0, damaged: false })
      options.files.add(segmentNumber, keptBytes, freshFd)
      active = { segmentNumber, fd: freshFd, sizeBytes: keptBytes }
      continue
    }
    options.files.add(segmentNumber, keptBytes, fd)
    if (isNewest) active = { segmentNumber, fd, sizeBytes: keptBytes }
  }
  if (active === undefined) {
    const fd = await createSegmentFile(fileSystem, dir, 1)
    options.files.add(1, segmentHeaderBytes, fd)
    active = { segmentNumber: 1, fd, sizeBytes: segmentHeaderBytes }
    options.segmentStats.get(1)
  }

  if (report.hintsWritten > 0) syncDirectory(fileSystem, dir)
  // Before the rebuild, which frees the pages whose ids are all issued and dead.
  options.keydir.noteIssued(replay.maxLocalId + 1)
  options.keydir.rebuildAfterRecovery()
  report.recordCount = replay.recordCount
  report.durationMs = performance.now() - started
  return {
    report,
    nextLocalId: replay.maxLocalId + 1,
    nextSeq: replay.maxSeq + 1,
    activeSegmentNumber: active.segmentNumber,
    activeFd: active.fd,
    activeSizeBytes: active.sizeBytes,
  }
}

/**
 * Scans one segment's bytes, replaying every record, and returns how many bytes to keep: all of
 * them, or (newest segment only) the bytes before a torn tail.
 */
function scanSegment(
  segmentNumber: number,
  contents: Buffer,
  isNewest: boolean,
  path: string,
  replay: Replay,
  report: RecoveryReport,
  hint: HintBuilder | undefined,
): number {
  const applyRecord = (record: PendingRecord): void => {
    const start = record.offset + recordHeaderBytes
    const isMeta = record.header.kind === RecordKind.docMeta && !record.corrupt
    replay.apply(segmentNumber, record, isMeta ? contents.subarray(start, start + record.header.payloadBytes) : undefined)
    if (!record.corrupt) hint?.add(contents.subarray(record.offset, start + record.header.payloadBytes), record.offset)
  }
  const headerCheck = checkSegmentHeader(contents.subarray(0, segmentHeaderBytes), path)
  if (headerCheck !== 'ok') {
    const hasRecords = findValidRecord(contents, segmentHeaderBytes) !== undefined
    // Only the newest segment can be caught mid-creation, and then it holds no record yet.
    if (isNewest && !hasRecords) {
      report.tornTail = { segmentNumber, offset: 0, droppedBytes: contents.length }
      return 0
    }
    if (!hasRecords && !contents.subarray(0, segmentMagic.length).equals(segmentMagic)) {
      throw new StratumError('UNSUPPORTED_FORMAT', `${path} is not a Stratum segment file (bad magic, no records)`)
    }
    // A damaged header in front of valid records: the header is fixed, so read the records.
    noteDamagedRange(report, { segmentNumber, offset: 0, lengthBytes: Math.min(segmentHeaderBytes, contents.length) })
  }
  const sizeBytes = contents.length
  let batch: PendingRecord[] = []
  let offset = segmentHeaderBytes
  // Bounded: every pass advances `offset` by at least one byte.
  while (offset < sizeBytes) {
    // The usual case, one checksum: a whole, intact record.
    const whole = decodeIntactRecord(contents, offset)
    const header = whole ?? (sizeBytes - offset >= recordHeaderBytes ? decodeRecordHeader(contents, offset) : undefined)
    const end = header === undefined ? Number.POSITIVE_INFINITY : offset + recordHeaderBytes + header.payloadBytes
    if (header !== undefined && end <= sizeBytes) {
      const intact = whole !== undefined || recordPayloadIsIntact(contents, offset, header)
      if (intact || !isNewest || findValidRecord(contents, end) !== undefined) {
        if (!intact) noteDamagedRecord(report, { segmentNumber, offset, id: header.id, kind: header.kind })
        batch.push({ header, offset, corrupt: !intact })
        if ((header.flags & recordFlagBatchContinues) === 0) {
          for (const record of batch) applyRecord(record)
          batch = []
        }
        offset = end
        continue
      }
    }
    // The header is damaged, or the record runs past the end, or (newest segment) it is damaged
    // with nothing valid after it. First, the usual case: the zeros the writer fills the active
    // segment with ahead of its last write (see segment-writer.ts). That is the end of the log.
    if (isNewest && batch.length === 0 && isAllZero(contents, offset)) return offset
    const next = findValidRecord(contents, offset + 1)
    if (next === undefined && isNewest) {
      // The incomplete batch, if any, was never acknowledged: it is dropped, its bytes with it.
      // Cutting at `offset` instead would leave its first records flagged BATCH_CONTINUES at the
      // end of the file, and the next write appended would complete the batch on the next open.
      const cutAt = batch.length > 0 ? batch[0]!.offset : offset
      report.tornTail = { segmentNumber, offset: cutAt, droppedBytes: sizeBytes - cutAt }
      return cutAt
    }
    const resumeAt = next ?? sizeBytes
    noteDamagedRange(report, { segmentNumber, offset, lengthBytes: resumeAt - offset })
    // What survives of a batch cut by damage was acknowledged (records after it exist): keep it.
    for (const record of batch) applyRecord(record)
    batch = []
    offset = resumeAt
  }
  if (batch.length > 0) {
    // A batch never spans segments, so an unfinished one at the end was cut by a crash.
    if (isNewest) {
      const cutAt = batch[0]!.offset
      report.tornTail = { segmentNumber, offset: cutAt, droppedBytes: sizeBytes - cutAt }
      return cutAt
    }
    for (const record of batch) applyRecord(record)
  }
  return sizeBytes
}

const zeroChunk = Buffer.alloc(64 * 1024)

/** True when every byte of `contents` from `from` on is zero. */
function isAllZero(contents: Buffer, from: number): boolean {
  // Bounded: each pass compares one chunk, with memcmp speed.
  for (let offset = from; offset < contents.length; offset += zeroChunk.length) {
    const end = Math.min(contents.length, offset + zeroChunk.length)
    if (!contents.subarray(offset, end).equals(zeroChunk.subarray(0, end - offset))) return false
  }
  return true
}

/** The offset of the first intact record at or after `from`, if there is one. */
function findValidRecord(contents: Buffer, from: number): number | undefined {
  const last = contents.length - recordHeaderBytes
  const knownKinds = Object.values(RecordKind) as number[]
  for (let offset = from; offset <= last; offset++) {
    // Cheap filters first: a valid header has a known kind and zero reserved bytes.
    if (!knownKinds.includes(contents[offset + 8]!) || contents[offset + 10] !== 0 || contents[offset + 11] !== 0) continue
    if (decodeIntactRecord(contents, offset) !== undefined) return offset
  }
  return undefined
}

function noteDamagedRecord(report: RecoveryReport, record: DamagedRecord): void {
  report.damagedRecordCount++
  if (report.damagedRecords.length < reportedDamageMax) report.damagedRecords.push(record)
}

function noteDamagedRange(report: RecoveryReport, range: DamagedRange): void {
  report.damagedRangeCount++
  if (report.damagedRanges.length < reportedDamageMax) report.damagedRanges.push(range)
}

/** Applies records to the keydir in any order, keeping per id and column the highest sequence. */
class Replay {
  /** Sequence numbers of the records the keydir points to, two columns a slot, during recovery only. */
  private readonly seqPages: Array<Float64Array | undefined> = []
  maxLocalId = 0
  maxSeq = 0
  recordCount = 0
  /** The oldest record and the tombstone bytes of the segment being replayed. */
  private segmentMinSeq = Number.POSITIVE_INFINITY
  private segmentTombstoneBytes = 0
  private readonly location: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }

  constructor(
    private readonly keydir: Keydir,
    private readonly shard: number,
  ) {}

  startSegment(): void {
    this.segmentMinSeq = Number.POSITIVE_INFINITY
    this.segmentTombstoneBytes = 0
  }

  finishSegment(stats: SegmentStats): void {
    stats.minSeq = this.segmentMinSeq
    stats.tombstoneBytes = this.segmentTombstoneBytes
  }

  /** Whether `seq` is newer than what column `column` of `local` holds; if so, it becomes its seq. */
  private claim(local: number, column: Column, seq: number): boolean {
    const pageIndex = local >>> pageBits
    let page = this.seqPages[pageIndex]
    if (page === undefined) {
      page = new Float64Array(pageSlots * 2)
      this.seqPages[pageIndex] = page
    }
    const index = ((local & (pageSlots - 1)) << 1) | (column === 'a' ? 0 : 1)
    if (page[index]! >= seq) return false
    page[index] = seq
    return true
  }

  private localOf(id: number, what: string): number {
    if (shardOf(id) !== this.shard) {
      throw new StratumError(
        'INVALID_ARGUMENT',
        `the store holds ${what} ${id} of shard ${shardOf(id)}, but it was opened as shard ${this.shard}`,
      )
    }
    return localIdOf(id)
  }

  /** Applies one record; `metaPayload` is the payload of a docMeta record (undefined if damaged). */
  apply(segmentNumber: number, record: PendingRecord, metaPayload: Buffer | undefined): void {
    const { header, offset, corrupt } = record
    this.recordCount++
    const local = this.localOf(header.id, 'id')
    this.maxLocalId = Math.max(this.maxLocalId, local)
    this.maxSeq = Math.max(this.maxSeq, header.seq)
    if (header.seq < this.segmentMinSeq) this.segmentMinSeq = header.seq
    if (isTombstoneKind(header.kind)) this.segmentTombstoneBytes += recordHeaderBytes + header.payloadBytes
    // A watermark only raises the ids and sequence numbers seen (above); it indexes nothing.
    if (header.kind === RecordKind.idWatermark) return
    const keydir = this.keydir
    const kind = keydir.kind(local)
    if (kind === SlotKind.dead) return
    // One object for every record: setLocation copies its fields.
    const location = this.location
    location.segmentNumber = segmentNumber
    location.offset = offset
    location.sizeBytes = recordHeaderBytes + header.payloadBytes
    switch (header.kind) {
      case RecordKind.docBlob:
      case RecordKind.docMeta: {
        const column: Column = header.kind === RecordKind.docBlob ? 'a' : 'b'
        if (!this.claim(local, column, header.seq)) return
        if (kind === SlotKind.empty) keydir.recoverSlot(local, SlotKind.doc, 0)
        keydir.setLocation(local, column, location, corrupt)
        if (column === 'b') {
          // Kept encoded, as the keydir holds it; it is decoded (and checked) when read.
          keydir.setMeta(local, corrupt ? undefined : metaPayload)
        }
        return
      }
      case RecordKind.inputPut: {
        if (!this.claim(local, 'a', header.seq)) return
        keydir.recoverSlot(local, SlotKind.input, this.localOf(header.parentId, 'document'))
        keydir.setLocation(local, 'a', location, corrupt)
        return
      }
      case RecordKind.outputPut:
      case RecordKind.outputDelete: {
        if (!this.claim(local, 'b', header.seq)) return
        if (header.kind === RecordKind.outputPut) keydir.setLocation(local, 'b', location, corrupt)
        else keydir.setLocation(local, 'b', undefined)
        return
      }
      case RecordKind.docDelete:
      case RecordKind.inputDelete:
        keydir.setLocation(local, 'a', undefined)
        keydir.setLocation(local, 'b', undefined)
        if (kind === SlotKind.doc) keydir.setMeta(local, undefined)
        keydir.recoverSlot(local, SlotKind.dead, 0)
        return
    }
  }
}
