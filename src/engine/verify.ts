/**
 * Verifying a closed store's folder (`stratum verify`): every segment read and every record
 * checked, as recovery would, and every hint file compared with its segment, changing nothing.
 *
 * Recovery repairs what it can when a store opens (it cuts a torn tail, rewrites hints, finishes
 * a compaction); verify only reports, so that an operator can look before anything is touched,
 * after a disk scare say. It holds the folder's kernel lock while it reads (a store cannot be
 * opened meanwhile) and refuses a folder that a live process has open; it writes no file.
 *
 * Live bytes are found as recovery finds them: for each id and column the record with the
 * highest sequence number wins, and a tombstone ends its id (a document's, its nodes too). This
 * keeps a small entry a live record in memory.
 */
import { join } from 'node:path'
import { StratumError } from './errors.ts'
import { nodeFileSystem, type FileSystem } from './file-system.ts'
import { hintFileName, replayHint } from './hint-file.ts'
import { KernelLock } from './kernel-lock.ts'
import { recordHeaderBytes } from './limits.ts'
import { refuseLiveHolder, storeLockName } from './lock-file.ts'
import { isTombstoneKind, RecordKind, type RecordHeader } from './record.ts'
import { findLogEnd, scanSegment } from './segment-scan.ts'
import { parseSegmentFileName, readSegmentHeader, segmentFileName } from './segment-file.ts'
import { commitFileName } from './compaction-commit.ts'

/** At most this many damaged records and ranges are listed a segment; all are counted. */
const listedDamageMax = 20

export interface SegmentVerdict {
  segmentNumber: number
  formatVersion: number | undefined
  sizeBytes: number
  records: number
  damagedRecordCount: number
  damagedRecords: Array<{ offset: number; id: number; kind: number }>
  damagedRangeCount: number
  damagedRanges: Array<{ offset: number; lengthBytes: number }>
  /** The newest segment only: bytes the next open cuts, a write that never completed (not damage). */
  tornTail?: { offset: number; droppedBytes: number }
  /** 'none'; 'matches'; or what is wrong with it (the next open scans the segment instead). */
  hint: string
}

export interface VerifyReport {
  dir: string
  segments: SegmentVerdict[]
  records: number
  liveBytes: number
  tombstoneBytes: number
  deadBytes: number
  documents: number
  inputNodes: number
  outputNodes: number
  /** A compaction was decided but not finished: the next open finishes it. */
  compactionPending: boolean
  /** Left by a crash; the next open removes them. */
  temporaryFiles: string[]
  /** Damaged records or ranges anywhere, a segment header that cannot be read, or a hint that disagrees with its segment. */
  damaged: boolean
}

interface Winner {
  seq: number
  sizeBytes: number
  /** The document of an input node or output; 0 for a document's records. */
  parent: number
  deletes: boolean
}

export async function verifyStore(dir: string, fileSystem: FileSystem = nodeFileSystem): Promise<VerifyReport> {
  if (!fileSystem.existsSync(dir)) throw new StratumError('NOT_FOUND', `${dir} does not exist`)
  const lock = await KernelLock.take(storeLockName(fileSystem, dir))
  if (lock === 'busy') throw new StratumError('LOCKED', `${dir} is open in another process: stop it first, then verify`)
  try {
    // A holder the kernel lock cannot see (another network namespace or host) names itself in LOCK.
    refuseLiveHolder(fileSystem, dir)
    return verifyLocked(dir, fileSystem)
  } finally {
    lock.release()
  }
}

function verifyLocked(dir: string, fileSystem: FileSystem): VerifyReport {
  const names = fileSystem.readdirSync(dir)
  const segmentNumbers = names.flatMap((name) => parseSegmentFileName(name) ?? []).sort((left, right) => left - right)
  const report: VerifyReport = {
    dir,
    segments: [],
    records: 0,
    liveBytes: 0,
    tombstoneBytes: 0,
    deadBytes: 0,
    documents: 0,
    inputNodes: 0,
    outputNodes: 0,
    compactionPending: names.includes(commitFileName),
    temporaryFiles: names.filter((name) => name.endsWith('.tmp')),
    damaged: false,
  }
  // Per column ('a': a document's text or a node's value; 'b': metadata or output), by id.
  const columns = { a: new Map<number, Winner>(), b: new Map<number, Winner>() }
  const dead = new Set<number>()
  let recordBytes = 0
  for (const [index, segmentNumber] of segmentNumbers.entries()) {
    const path = join(dir, segmentFileName(segmentNumber))
    const contents = fileSystem.readFileSync(path)
    const verdict: SegmentVerdict = {
      segmentNumber,
      formatVersion: undefined,
      sizeBytes: contents.length,
      records: 0,
      damagedRecordCount: 0,
      damagedRecords: [],
      damagedRangeCount: 0,
      damagedRanges: [],
      hint: 'none',
    }
    report.segments.push(verdict)
    const format = readSegmentHeader(contents.subarray(0, Math.min(contents.length, 40)), path)
    if (format === 'short' && index === segmentNumbers.length - 1) {
      // Created, its header never completed: the next open starts it over (a torn tail, not damage).
      verdict.tornTail = { offset: 0, droppedBytes: contents.length }
      continue
    }
    if (typeof format !== 'object') {
      verdict.damagedRangeCount++
      verdict.damagedRanges.push({ offset: 0, lengthBytes: contents.length })
      continue
    }
    verdict.formatVersion = format.version
    let end = contents.length
    if (index === segmentNumbers.length - 1) {
      const logEnd = findLogEnd(contents, format.headerBytes, format.seeds)
      if (logEnd.torn) verdict.tornTail = { offset: logEnd.keptBytes, droppedBytes: contents.length - logEnd.keptBytes }
      end = logEnd.keptBytes
    }
    const scanned: Array<{ offset: number; header: RecordHeader }> = []
    for (const item of scanSegment(contents.subarray(0, end), format.headerBytes, format.seeds)) {
      if (item.type === 'zeros') {
        // Zeros ahead of the newest segment's tail end its log; in a sealed one they are damage.
        if (index !== segmentNumbers.length - 1) noteRange(verdict, item.offset, end - item.offset)
        break
      }
      if (item.type === 'range') {
        noteRange(verdict, item.offset, item.end - item.offset)
        continue
      }
      verdict.records++
      if (item.type === 'pastEnd' || !item.intact) {
        verdict.damagedRecordCount++
        if (verdict.damagedRecords.length < listedDamageMax) verdict.damagedRecords.push({ offset: item.offset, id: item.header.id, kind: item.header.kind })
      }
      scanned.push({ offset: item.offset, header: item.header })
      const sizeBytes = recordHeaderBytes + item.header.payloadBytes
      recordBytes += sizeBytes
      note(item.header, sizeBytes, columns, dead)
      if (isTombstoneKind(item.header.kind)) report.tombstoneBytes += sizeBytes
    }
    report.records += verdict.records
    if (format.headerDamaged) noteRange(verdict, 0, format.headerBytes)
    verdict.hint = checkHint(fileSystem, dir, segmentNumber, contents.length, scanned, names)
    const hintDisagrees = verdict.hint !== 'none' && verdict.hint !== 'matches' && !verdict.hint.startsWith('unusable')
    if (verdict.damagedRecordCount > 0 || verdict.damagedRangeCount > 0 || hintDisagrees) report.damaged = true
  }
  for (const [id, winner] of columns.a) {
    if (winner.deletes || dead.has(id) || (winner.parent !== 0 && dead.has(winner.parent))) continue
    report.liveBytes += winner.sizeBytes
    if (winner.parent === 0) report.documents++
    else report.inputNodes++
  }
  for (const [id, winner] of columns.b) {
    if (winner.deletes || dead.has(id) || (winner.parent !== 0 && dead.has(winner.parent))) continue
    // An output counts only with its input node live.
    if (winner.parent !== 0 && (columns.a.get(id)?.deletes ?? true)) continue
    report.liveBytes += winner.sizeBytes
    if (winner.parent !== 0) report.outputNodes++
  }
  report.deadBytes = Math.max(0, recordBytes - report.liveBytes - report.tombstoneBytes)
  return report
}

function noteRange(verdict: SegmentVerdict, offset: number, lengthBytes: number): void {
  verdict.damagedRangeCount++
  if (verdict.damagedRanges.length < listedDamageMax) verdict.damagedRanges.push({ offset, lengthBytes })
}

/** Applies one record to the winners, as recovery's replay does. */
function note(header: RecordHeader, sizeBytes: number, columns: { a: Map<number, Winner>; b: Map<number, Winner> }, dead: Set<number>): void {
  switch (header.kind) {
    case RecordKind.docBlob:
    case RecordKind.docMeta:
    case RecordKind.inputPut:
    case RecordKind.outputPut:
    case RecordKind.outputDelete: {
      const column = header.kind === RecordKind.docBlob || header.kind === RecordKind.inputPut ? columns.a : columns.b
      const current = column.get(header.id)
      if (current !== undefined && current.seq >= header.seq) return
      column.set(header.id, { seq: header.seq, sizeBytes, parent: header.parentId, deletes: header.kind === RecordKind.outputDelete })
      return
    }
    case RecordKind.docDelete:
    case RecordKind.inputDelete:
      dead.add(header.id)
      return
  }
}

/** 'none', 'matches', or what is wrong with the segment's hint file. */
function checkHint(
  fileSystem: FileSystem,
  dir: string,
  segmentNumber: number,
  segmentBytes: number,
  scanned: ReadonlyArray<{ offset: number; header: RecordHeader }>,
  names: readonly string[],
): string {
  const name = hintFileName(segmentNumber)
  if (!names.includes(name)) return 'none'
  const entries: Array<{ offset: number; kind: number; seq: number; id: number }> = []
  const problem = replayHint(fileSystem.readFileSync(join(dir, name)), segmentNumber, segmentBytes, (header, offset) => {
    entries.push({ offset, kind: header.kind, seq: header.seq, id: header.id })
  })
  // A hint that fails its own checks is not used: the next open scans the segment. Not damage.
  if (problem !== undefined) return `unusable (${problem}): the next open scans the segment instead`
  // A hint gives exactly what a scan gives (one is written only for a segment without damage).
  if (entries.length !== scanned.length) return `${name} lists ${entries.length} records, the segment holds ${scanned.length}`
  for (const [index, entry] of entries.entries()) {
    const record = scanned[index]!
    if (entry.offset !== record.offset || entry.kind !== record.header.kind || entry.seq !== record.header.seq || entry.id !== record.header.id) {
      return `${name} disagrees with its segment at record ${index + 1} (offset ${record.offset})`
    }
  }
  return 'matches'
}
