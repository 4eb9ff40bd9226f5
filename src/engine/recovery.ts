/**
 * Opening a store: every segment is scanned in number order and its records replayed into the
 * keydir. See docs/format.md#recovery for the rules and the crash analysis.
 *
 * Rules:
 *   - Only bytes proven to be records are applied: records reached from the segment header by
 *     their trusted lengths, or found after a damaged stretch with both seeded checksums holding
 *     (see segment-scan.ts). Bytes a client stored can never pass for a record.
 *   - For each id and column the record with the highest sequence number wins, wherever it is.
 *   - A tombstone is final: ids are never reused and nothing is written to a deleted id, so every
 *     other record of that id is older than its tombstone.
 *   - The records of one write (a batch: all but the last flagged BATCH_CONTINUES) are applied
 *     together or not at all when the batch is cut off by the end of the log.
 *   - The newest segment may end in zeros, written ahead of the tail to keep syncs cheap: they
 *     are the end of the log, cut off without a report.
 *   - In the newest segment, the group commit being written when the store stopped (the tail
 *     group) is cut whole when any of it is damaged or it never ended: it was never
 *     acknowledged. Damage anywhere else is corruption, left in place: a record with an intact
 *     header is indexed as corrupt (its reads fail with CORRUPTION); bytes with a damaged header
 *     are reported as a range up to the next proven record.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { isDiskFull, StratumError } from './errors.ts'
import { syncDirectory, type FileSystem } from './file-system.ts'
import { localIdOf, shardOf } from './ids.ts'
import { Keydir, pageBits, pageSlots, SlotKind, type Column, type Location } from './keydir.ts'
import { legacySegmentHeaderBytes, recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import {
  isTombstoneKind,
  legacySeeds,
  recordFlagBatchContinues,
  recordGroupMask,
  RecordKind,
  type RecordHeader,
  type RecordSeeds,
} from './record.ts'
import { encodeSyncMark } from './sync-mark.ts'
import { findLogEnd, legacyRecordAfter, scanSegment, type LogEnd } from './segment-scan.ts'
import { commitFileName, decodeCommit, installOutputs, removeInputs, type CompactionCommit } from './compaction-commit.ts'
import { HintBuilder, hintFileName, parseHintFileName, replayHint as replayHintFile, writeHintFile } from './hint-file.ts'
import { countsAsChange, emptySegmentStats, type SegmentStats, type SegmentStatsTable } from './segment-stats.ts'
import {
  createSegmentFile,
  parseSegmentFileName,
  segmentFileName,
  readSegmentHeader,
  changeNotesFormatVersion,
  segmentFormatVersion,
  segmentMagic,
  segmentPath,
  type SegmentFormat,
} from './segment-file.ts'
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
  /**
   * The torn tail cut from the newest segment, if the last run stopped mid-write, and the file
   * its bytes were kept in (`N.seg.torn-OFFSET`, unless they were all zeros or the disk was full).
   */
  tornTail: { segmentNumber: number; offset: number; droppedBytes: number; keptIn?: string } | null
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
  /** The seeds of the segment to append to, and the tag of its last group commit. */
  activeSeeds: RecordSeeds
  activeLastGroupTag: number
  /** False when the open could not append the syncMark that proves the active segment's log. */
  activeProven: boolean
  report: RecoveryReport
  /** The next local id to issue: above every id found in any record. */
  nextLocalId: number
  /** The next sequence number: above every one found. */
  nextSeq: number
  /**
   * The oldest revision from which the log holds every change as it was written (change-log.ts):
   * above every record of a segment that is a compaction's output (its idWatermark is its newest),
   * of an older format (its records do not say what each write did), or found damaged.
   */
  historyFloor: number
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
  /** False when the process that last had the store open never closed it (its LOCK was left). */
  closedCleanly?: boolean
  /** The wall clock, in ms since the epoch (tests set it). @defaultValue Date.now */
  nowMs?: () => number
}): Promise<RecoveredStore> {
  const started = performance.now()
  const nowMs = options.nowMs?.() ?? Date.now()
  /** A syncMark written by this open carries the sequence counter's floor (see `seqFloorAfter`). */
  let seqFloorKept = false
  /**
   * Whether the store was closed cleanly: its LOCK removed, and its log ending as a close leaves
   * it, with an intact syncMark last (or nothing at all). A syncMark alone does not tell: a flush
   * writes one too, and the unsynced writes after it leave no trace when power is cut.
   */
  let endedCleanly = options.closedCleanly ?? true
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
  /** The newest revision whose change the log may no longer hold as written (see `historyFloor`). */
  let historyCut = 0
  const damagedSegments: number[] = []
  const noteHistoryCut = (segmentNumber: number, cut: number | 'damaged'): void => {
    if (cut === 'damaged') damagedSegments.push(segmentNumber)
    else historyCut = Math.max(historyCut, cut)
  }

  let active: ActiveSegment | undefined
  for (const [index, segmentNumber] of segmentNumbers.entries()) {
    const isNewest = index === segmentNumbers.length - 1
    const path = segmentPath(dir, segmentNumber)
    const fd = fileSystem.openSync(path, isNewest ? 'r+' : 'r')
    let opened: { keptBytes: number; format: SegmentFormat | undefined; logEnd: LogEnd | undefined }
    replay.startSegment()
    try {
      const sizeBytes = fileSystem.fstatSizeBytes(fd)
      if (!isNewest && hinted.has(segmentNumber)) {
        const format = readSegmentHeader(readBytes(fileSystem, fd, Math.min(sizeBytes, segmentHeaderBytes), path), path)
        if (typeof format === 'object' && replayHint(options, segmentNumber, sizeBytes, replay, report)) {
          report.segmentCount++
          options.files.add(segmentNumber, sizeBytes, fd, format)
          replay.finishSegment(options.segmentStats.get(segmentNumber), format)
          noteHistoryCut(segmentNumber, replay.historyCutOf(format, false))
          continue
        }
      }
      const contents = readBytes(fileSystem, fd, sizeBytes, path)
      report.segmentCount++
      report.segmentsScanned++
      report.bytesScanned += sizeBytes
      const damageBefore = report.damagedRecordCount + report.damagedRangeCount
      opened = openSegment(segmentNumber, contents, isNewest, path, report)
      // A sealed segment gets a hint file from its scan, unless the scan found damage: a hint
      // must give exactly what a scan gives, and damage is reported by scans only.
      const hint = isNewest || opened.format === undefined ? undefined : new HintBuilder(segmentNumber)
      if (opened.format !== undefined) {
        replaySegment(segmentNumber, contents.subarray(0, opened.keptBytes), opened.format, replay, report, hint)
      }
      const damaged = report.damagedRecordCount + report.damagedRangeCount !== damageBefore
      const stats = options.segmentStats.get(segmentNumber)
      replay.finishSegment(stats, opened.format)
      stats.damaged = damaged
      noteHistoryCut(segmentNumber, replay.historyCutOf(opened.format, damaged))
      if (hint !== undefined && !damaged && (await tryWriteHintFile(fileSystem, dir, segmentNumber, hint.finish(sizeBytes)))) {
        report.hintsWritten++
      }
      if (opened.keptBytes < sizeBytes) {
        assert(isNewest, 'only the newest segment is ever cut')
        if (report.tornTail !== null && report.tornTail.offset === opened.keptBytes) {
          const kept = await keepTornBytes(fileSystem, dir, segmentNumber, opened.keptBytes, contents.subarray(opened.keptBytes))
          if (kept !== undefined) report.tornTail.keptIn = kept
        }
        fileSystem.ftruncateSync(fd, opened.keptBytes)
        fileSystem.fsyncSync(fd)
      }
    } catch (error) {
      // Not yet in `files`, which the caller closes when recovery fails.
      fileSystem.closeSync(fd)
      throw error
    }
    if (opened.format === undefined || opened.keptBytes < opened.format.headerBytes) {
      // Created but its header never completed: nothing was ever written to it.
      assert(isNewest)
      endedCleanly = false
      fileSystem.closeSync(fd)
      fileSystem.unlinkSync(path)
      active = await startSegment(options, segmentNumber)
      continue
    }
    options.files.add(segmentNumber, opened.keptBytes, fd, opened.format)
    if (!isNewest) continue
    if (opened.format.version < segmentFormatVersion) {
      // Records are only appended to segments of the current format: this one is sealed as it is
      // (its tail already cut), so that what a format-4 write says never lands in an older format.
      // Formats 1 and 2 have no syncMark to prove how the store was closed.
      endedCleanly &&= !opened.format.seeds.legacy && opened.logEnd!.proven
      fileSystem.fsyncSync(fd)
      active = await startSegment(options, segmentNumber + 1)
      continue
    }
    active = { segmentNumber, fd, sizeBytes: opened.keptBytes, seeds: opened.format.seeds, lastGroupTag: opened.logEnd!.lastGroupTag, proven: true }
    endedCleanly &&= opened.logEnd!.proven
    if (!opened.logEnd!.proven && opened.keptBytes > opened.format.headerBytes) {
      // The newest segment is the last replayed: the counter's floor is known (see below).
      const seqFloor = seqFloorAfter(replay.maxSeq, endedCleanly, nowMs)
      active.proven = proveTail(fileSystem, active, seqFloor)
      seqFloorKept = active.proven
      options.files.grow(segmentNumber, active.sizeBytes)
    }
  }
  active ??= await startSegment(options, 1)
  const nextSeq = nextSeqAfter(replay.maxSeq, endedCleanly, nowMs)
  // After a crash the counter jumps above every seq the crashed process may have issued. A mark
  // carrying the jump keeps it when this process closes cleanly without writing: the next open,
  // clean, would otherwise resume below it, and issue again what this one showed as its revision.
  if (!seqFloorKept && nextSeq > replay.maxSeq + 1 && proveTail(fileSystem, active, nextSeq - 1)) {
    active.proven = true
    options.files.grow(active.segmentNumber, active.sizeBytes)
  }

  // A damaged segment may have lost any write older than the first of the segments written after
  // it (compaction outputs aside, which hold older ones), or, with none after it, any at all.
  for (const damagedNumber of damagedSegments) {
    let lostUpTo = replay.maxSeq
    for (const segmentNumber of segmentNumbers) {
      const stats = options.segmentStats.get(segmentNumber)
      if (segmentNumber > damagedNumber && !stats.compacted && stats.minSeq !== Number.POSITIVE_INFINITY) lostUpTo = Math.min(lostUpTo, stats.minSeq - 1)
    }
    historyCut = Math.max(historyCut, lostUpTo)
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
    nextSeq,
    historyFloor: historyCut + 1,
    activeSegmentNumber: active.segmentNumber,
    activeFd: active.fd,
    activeSizeBytes: active.sizeBytes,
    activeSeeds: active.seeds,
    activeLastGroupTag: active.lastGroupTag,
    activeProven: active.proven,
  }
}

interface ActiveSegment {
  segmentNumber: number
  fd: number
  sizeBytes: number
  seeds: RecordSeeds
  lastGroupTag: number
  /** The log ends with an intact syncMark (or holds nothing): nothing of it can be a torn tail. */
  proven: boolean
}

/**
 * The next sequence number: above every one found, and, after a store that did not close cleanly,
 * also at least the wall clock in microseconds. In the `interval` and `none` sync modes a write
 * is acknowledged, and its seq (its version) seen, before it is synced; a crash can lose it, and
 * its seq would be issued again to another write, so that a client holding the lost version could
 * pass a condition it should fail. The counter advances by one a record, far below a million a
 * second, so it stays below the clock in microseconds of its process's start plus its run: the
 * clock at the next open is above every seq the crashed process issued. (A clock set back by more
 * than the store's downtime weakens this to the highest seq found, as without it.) Below 2^53 until
 * the year 2255.
 */
export function nextSeqAfter(maxSeq: number, endedCleanly: boolean, nowMs: number): number {
  return endedCleanly ? maxSeq + 1 : Math.max(maxSeq + 1, Math.floor(nowMs * 1000))
}

/** What a syncMark written at open carries: the counter's floor after a jump, else 0 (none). */
function seqFloorAfter(maxSeq: number, endedCleanly: boolean, nowMs: number): number {
  const nextSeq = nextSeqAfter(maxSeq, endedCleanly, nowMs)
  return nextSeq > maxSeq + 1 ? nextSeq - 1 : 0
}

/** Creates a new, empty segment to append to. */
async function startSegment(options: { fileSystem: FileSystem; dir: string; files: SegmentFiles; segmentStats: SegmentStatsTable }, segmentNumber: number): Promise<ActiveSegment> {
  const { fd, seeds } = await createSegmentFile(options.fileSystem, options.dir, segmentNumber)
  options.files.add(segmentNumber, segmentHeaderBytes, fd, { version: segmentFormatVersion, headerBytes: segmentHeaderBytes, seeds, headerDamaged: false })
  options.segmentStats.set(segmentNumber, emptySegmentStats())
  return { segmentNumber, fd, sizeBytes: segmentHeaderBytes, seeds, lastGroupTag: 0, proven: true }
}

/**
 * Makes the newest segment's log durable and says so in it: syncs it (the bytes recovery read may
 * be in the page cache only, written by a process that died before its sync), then appends a
 * syncMark and syncs that. Without the first sync, a later group written by this process could
 * reach the disk while these bytes did not, and recovery would take their loss for corruption;
 * without the mark, damage to the last group before the next write would look like a torn tail.
 * `seqFloor`, when given, is the sequence counter's floor the mark carries (see sync-mark.ts).
 */
function proveTail(fileSystem: FileSystem, active: ActiveSegment, seqFloor = 0): boolean {
  fileSystem.fdatasyncSync(active.fd)
  const groupTag = (active.lastGroupTag + 1) & recordGroupMask
  const mark = encodeSyncMark(active.seeds, groupTag, seqFloor)
  let written: number
  try {
    written = fileSystem.writeSync(active.fd, mark, active.sizeBytes)
  } catch (error) {
    // A full disk must not keep the store from opening: the mark is a defence against damage,
    // not a need. Zeros, or a mark cut short, after the log are its end for the next open.
    if (isDiskFull(error)) return false
    throw error
  }
  assert.equal(written, mark.length, 'a short write of a sync mark')
  fileSystem.fdatasyncSync(active.fd)
  active.lastGroupTag = groupTag
  active.sizeBytes += mark.length
  return true
}

/**
 * Keeps the bytes of a torn tail beside the segment, as `N.seg.torn-OFFSET`, before they are cut
 * (synced, and the folder synced): a torn tail was never acknowledged, but a crash followed by
 * damage to the last acknowledged write looks the same, and what recovery cuts it never
 * destroys. Nothing is kept for a tail of zeros (nothing was written there) or when the disk has
 * no room (the name of the file is returned when one was written). Recovery never reads these
 * files; an operator may delete them.
 */
async function keepTornBytes(fileSystem: FileSystem, dir: string, segmentNumber: number, offset: number, bytes: Buffer): Promise<string | undefined> {
  if (isZero(bytes)) return undefined
  const name = `${segmentFileName(segmentNumber)}.torn-${offset}`
  const path = join(dir, name)
  const fd = fileSystem.openSync(path, 'w')
  try {
    let done = 0
    // Bounded: each pass writes at least one byte or throws.
    while (done < bytes.length) {
      const written = fileSystem.writeSync(fd, bytes.subarray(done), done)
      if (written <= 0) throw new StratumError('IO_ERROR', `a write to ${path} wrote nothing`)
      done += written
    }
    fileSystem.fsyncSync(fd)
  } catch (error) {
    fileSystem.closeSync(fd)
    fileSystem.unlinkSync(path)
    if (isDiskFull(error)) return undefined
    throw error
  }
  fileSystem.closeSync(fd)
  syncDirectory(fileSystem, dir)
  return name
}

/**
 * Writes a hint file; false when the disk has no room for it. A hint only saves the next open a
 * scan, so a full disk must not keep the store from opening.
 */
async function tryWriteHintFile(fileSystem: FileSystem, dir: string, segmentNumber: number, bytes: Buffer): Promise<boolean> {
  try {
    await writeHintFile(fileSystem, dir, segmentNumber, bytes)
    return true
  } catch (error) {
    if (!isDiskFull(error)) throw error
    const temporaryPath = join(dir, `${hintFileName(segmentNumber)}.tmp`)
    if (fileSystem.existsSync(temporaryPath)) fileSystem.unlinkSync(temporaryPath)
    return false
  }
}

/** Reads the first `sizeBytes` of a file. */
function readBytes(fileSystem: FileSystem, fd: number, sizeBytes: number, path: string): Buffer {
  const contents = Buffer.allocUnsafe(sizeBytes)
  let done = 0
  while (done < sizeBytes) {
    const got = fileSystem.readSync(fd, contents, done, sizeBytes - done, done)
    assert(got > 0, `${path} shrank while it was read`)
    done += got
  }
  return contents
}

/**
 * Reads a segment's header and, for the newest segment, where its log ends. `format` is
 * undefined when the file holds no segment yet (the newest one caught mid-creation).
 */
function openSegment(
  segmentNumber: number,
  contents: Buffer,
  isNewest: boolean,
  path: string,
  report: RecoveryReport,
): { keptBytes: number; format: SegmentFormat | undefined; logEnd: LogEnd | undefined } {
  let format = readSegmentHeader(contents.subarray(0, segmentHeaderBytes), path)
  if (format === 'short' && isNewest) {
    // Only the newest segment can be caught mid-creation, before its header was whole.
    report.tornTail = { segmentNumber, offset: 0, droppedBytes: contents.length }
    return { keptBytes: 0, format: undefined, logEnd: undefined }
  }
  if (typeof format !== 'object') {
    // Neither the header nor a copy of the seeds holds. A segment of format 1 or 2 (no seeds) can
    // still be read; one of format 3 cannot be checked at all without its seeds.
    const legacyFormat: SegmentFormat = { version: 2, headerBytes: legacySegmentHeaderBytes, seeds: legacySeeds, headerDamaged: true }
    if (contents.length > legacySegmentHeaderBytes && legacyRecordAfter(contents, legacySegmentHeaderBytes)) {
      format = legacyFormat
    } else if (isNewest && isZero(contents.subarray(Math.min(contents.length, legacySegmentHeaderBytes)))) {
      // Only the newest segment can be caught mid-creation, and then it holds no record yet.
      report.tornTail = { segmentNumber, offset: 0, droppedBytes: contents.length }
      return { keptBytes: 0, format: undefined, logEnd: undefined }
    } else if (!contents.subarray(0, segmentMagic.length).equals(segmentMagic)) {
      throw new StratumError('UNSUPPORTED_FORMAT', `${path} is not a Stratum segment file (bad magic, no records)`)
    } else {
      // Every record is unverifiable: the whole file is one damaged range, kept as it is (and
      // sealed, if it was the newest: nothing can be appended to it).
      noteDamagedRange(report, { segmentNumber, offset: 0, lengthBytes: contents.length })
      return { keptBytes: contents.length, format: { ...legacyFormat, headerBytes: contents.length, headerDamaged: false }, logEnd: undefined }
    }
  }
  if (format.headerDamaged) noteDamagedRange(report, { segmentNumber, offset: 0, lengthBytes: Math.min(format.headerBytes, contents.length) })
  if (!isNewest) return { keptBytes: contents.length, format, logEnd: undefined }
  const logEnd = findLogEnd(contents, format.headerBytes, format.seeds)
  if (logEnd.torn) report.tornTail = { segmentNumber, offset: logEnd.keptBytes, droppedBytes: contents.length - logEnd.keptBytes }
  return { keptBytes: logEnd.keptBytes, format, logEnd }
}

function isZero(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0) return false
  return true
}

/**
 * Replays the records of one segment's kept bytes (the newest segment is already cut where its
 * log ends: see `findLogEnd`). Damage is reported and indexed, never dropped: a record whose
 * header holds but whose payload does not is indexed as damaged; bytes whose header fails are
 * reported as a range. The records of one write (a batch) are applied together when its last one
 * is read; what survives of a batch that damage cut was acknowledged (the group after it exists),
 * and is applied.
 */
function replaySegment(
  segmentNumber: number,
  contents: Buffer,
  format: SegmentFormat,
  replay: Replay,
  report: RecoveryReport,
  hint: HintBuilder | undefined,
): void {
  let batch: PendingRecord[] = []
  const applyBatch = (): void => {
    for (const record of batch) {
      const start = record.offset + recordHeaderBytes
      const end = Math.min(contents.length, start + record.header.payloadBytes)
      const isMeta = record.header.kind === RecordKind.docMeta && !record.corrupt
      replay.apply(segmentNumber, record, isMeta ? contents.subarray(start, end) : undefined)
      if (!record.corrupt) hint?.add(contents.subarray(record.offset, end), record.offset)
    }
    batch = []
  }
  for (const item of scanSegment(contents, format.headerBytes, format.seeds)) {
    switch (item.type) {
      case 'record':
        if (!item.intact) noteDamagedRecord(report, { segmentNumber, offset: item.offset, id: item.header.id, kind: item.header.kind })
        batch.push({ header: item.header, offset: item.offset, corrupt: !item.intact })
        if ((item.header.flags & recordFlagBatchContinues) === 0) applyBatch()
        break
      case 'pastEnd':
        // A sealed segment cut short (the newest one is cut before such a record): its header
        // names what was lost, so reads of it fail with CORRUPTION rather than find nothing.
        noteDamagedRecord(report, { segmentNumber, offset: item.offset, id: item.header.id, kind: item.header.kind })
        batch.push({ header: item.header, offset: item.offset, corrupt: true })
        applyBatch()
        break
      case 'range':
        noteDamagedRange(report, { segmentNumber, offset: item.offset, lengthBytes: item.end - item.offset })
        applyBatch()
        break
      case 'zeros':
        // Zeros inside a sealed segment, which was cut to its last record when it was sealed.
        noteDamagedRange(report, { segmentNumber, offset: item.offset, lengthBytes: contents.length - item.offset })
        applyBatch()
        break
    }
  }
  applyBatch()
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
  /** The oldest and newest record and the tombstone bytes of the segment being replayed. */
  private segmentMinSeq = Number.POSITIVE_INFINITY
  private segmentMaxSeq = Number.NEGATIVE_INFINITY
  private segmentTombstoneBytes = 0
  /** The changes whose records the segment holds (see `countsAsChange`). */
  private segmentChanges = 0
  /** The idWatermark of the segment being replayed, when it is a compaction's output. */
  private segmentWatermark: { seq: number; historyCut: number } | undefined
  private readonly location: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }

  constructor(
    private readonly keydir: Keydir,
    private readonly shard: number,
  ) {}

  startSegment(): void {
    this.segmentMinSeq = Number.POSITIVE_INFINITY
    this.segmentMaxSeq = Number.NEGATIVE_INFINITY
    this.segmentTombstoneBytes = 0
    this.segmentChanges = 0
    this.segmentWatermark = undefined
  }

  /** The history cut of a compaction's output: its watermark's (its own seq before format 4, which recorded none), and its records'. */
  private outputCut(format: SegmentFormat | undefined): number {
    const watermark = this.segmentWatermark!
    const recorded = format !== undefined && format.version >= changeNotesFormatVersion && !format.headerDamaged
    return Math.max(this.segmentMaxSeq, recorded ? watermark.historyCut : watermark.seq)
  }

  finishSegment(stats: SegmentStats, format: SegmentFormat | undefined): void {
    const compacted = this.segmentWatermark !== undefined
    stats.minSeq = this.segmentMinSeq
    // A compaction's output counts as holding writes up to its cut, as the compactor sets it.
    stats.maxSeq = compacted ? this.outputCut(format) : this.segmentMaxSeq
    stats.tombstoneBytes = this.segmentTombstoneBytes
    stats.changes = compacted ? 0 : this.segmentChanges
    stats.compacted = compacted
  }

  /**
   * For the segment just replayed, the newest revision whose change the log may no longer hold
   * as written: all of it when the segment is a compaction's output (which kept only the live
   * records of its inputs, all older than its watermark) or of a format whose records do not say
   * what each write did; 0 when its records are a whole history. `'damaged'` when recovery found
   * damage in it: a damaged stretch may have held any write up to the next segment's first, which
   * only the segments after it tell (see `recover`).
   */
  historyCutOf(format: SegmentFormat | undefined, damaged: boolean): number | 'damaged' {
    if (this.segmentWatermark !== undefined) return this.outputCut(format)
    if (damaged || format === undefined || format.headerDamaged) return 'damaged'
    if (this.segmentMaxSeq === Number.NEGATIVE_INFINITY) return 0
    return format.version >= changeNotesFormatVersion ? 0 : this.segmentMaxSeq
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
    // A sync mark proves durability to the scan; it names no id and takes no sequence number, but
    // may carry the counter's floor (sync-mark.ts), which the next seq must pass.
    if (header.kind === RecordKind.syncMark) {
      this.maxSeq = Math.max(this.maxSeq, header.seq)
      return
    }
    const local = this.localOf(header.id, 'id')
    this.maxLocalId = Math.max(this.maxLocalId, local)
    this.maxSeq = Math.max(this.maxSeq, header.seq)
    if (header.seq < this.segmentMinSeq) this.segmentMinSeq = header.seq
    if (isTombstoneKind(header.kind)) this.segmentTombstoneBytes += recordHeaderBytes + header.payloadBytes
    // A watermark only raises the ids and sequence numbers seen (above); it indexes nothing. It
    // is no write: its seq is newer than the history its segment holds (see historyCutOf).
    if (header.kind === RecordKind.idWatermark) {
      this.segmentWatermark = { seq: header.seq, historyCut: header.parentId }
      return
    }
    if (header.seq > this.segmentMaxSeq) this.segmentMaxSeq = header.seq
    if (countsAsChange(header.kind, header.flags)) this.segmentChanges++
    // A column's name is for readers of the log; it indexes nothing either.
    if (header.kind === RecordKind.columnName) return
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
        keydir.setSeq(local, column, header.seq)
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
        keydir.setSeq(local, 'a', header.seq)
        return
      }
      case RecordKind.outputPut:
      case RecordKind.outputDelete: {
        if (!this.claim(local, 'b', header.seq)) return
        if (header.kind === RecordKind.outputPut) {
          keydir.setLocation(local, 'b', location, corrupt)
          keydir.setSeq(local, 'b', header.seq)
        } else keydir.setLocation(local, 'b', undefined)
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
