/**
 * The changes a watcher reads back from the log, when the in-memory history (change-history.ts)
 * no longer holds them: after a reopen, or for a watcher that fell behind it.
 *
 * Segments of format 4 say what each write did (record.ts: the CREATES flag, columnName records),
 * so a record read alone gives its change. What the log holds as written starts at the *floor*:
 * above every record of a compaction's output (which kept only what was live), of an older
 * format, or of a segment recovery found damaged (recovery.ts), and raised by each compaction to
 * its history cut before its inputs go (compactor.ts). Records are read only up to the end of the
 * last published write: what follows may be in flight, never acknowledged.
 *
 * One `ChangeLogReader` a watcher: a position in the log and a window of it (`windowBytes`), read
 * forwards, a bounded number of bytes a call so that a long scan never holds up the event loop.
 */
import { CorruptionError } from './errors.ts'
import type { ChangeTarget, ChangeType } from './change-events.ts'
import type { HistoryEntry, RecordRef } from './change-history.ts'
import { localIdOf } from './ids.ts'
import type { Column } from './keydir.ts'
import { recordHeaderBytes } from './limits.ts'
import { decodeRecordHeader, recordFlagCreates, RecordKind, recordPayloadIsIntact, type RecordHeader } from './record.ts'
import type { SegmentFiles } from './segment-files.ts'
import type { SegmentStatsTable } from './segment-stats.ts'

/** Bytes of the log a reader holds at a time. */
const windowBytes = 64 * 1024
/** Bytes a reader scans in one turn of the event loop before it lets others run (`'paused'`). */
const scanSliceBytes = 4 * 1024 * 1024

/** Where the log ends for readers: just after the newest published write. */
export interface LogEnd {
  segmentNumber: number
  offset: number
}

/** What the readers of the log share: the store's segments and where the readable log ends. */
export class ChangeLog {
  /** Every change at or after this revision is in the log as written. */
  floor: number
  readonly end: LogEnd

  constructor(
    readonly files: SegmentFiles,
    readonly segmentStats: SegmentStatsTable,
    floor: number,
    end: LogEnd,
  ) {
    this.floor = floor
    this.end = { ...end }
  }

  /** A compaction cut the history up to `revision` (see compactor.ts). */
  cut(revision: number): void {
    this.floor = Math.max(this.floor, revision + 1)
  }

  /** A write was published, its records ending at `offset` of segment `segmentNumber`. */
  publishedThrough(segmentNumber: number, offset: number): void {
    this.end.segmentNumber = segmentNumber
    this.end.offset = offset
  }

  /** The bytes of segment `segmentNumber` a reader may read: up to the end of the last published write. */
  readableBytes(segmentNumber: number): number {
    if (segmentNumber > this.end.segmentNumber) return 0
    if (segmentNumber === this.end.segmentNumber) return this.end.offset
    return this.files.sizesBytes.get(segmentNumber) ?? 0
  }

  /** The first segment after `after` (0: the first of all) that holds a write at or after `revision`. */
  segmentFrom(after: number, revision: number): number | undefined {
    for (const segmentNumber of this.files.segmentNumbers()) {
      if (segmentNumber <= after || segmentNumber > this.end.segmentNumber) continue
      // Segments hold their writes in sequence order, one segment after another, but for a
      // compaction's outputs, which hold only writes older than the floor (maxSeq is their cut).
      if (this.segmentStats.get(segmentNumber).maxSeq >= revision) return segmentNumber
    }
    return undefined
  }
}

/** A record of the log, its header trusted. */
interface LogRecord {
  header: RecordHeader
  segmentNumber: number
  offset: number
}

export class ChangeLogReader {
  /** The segment read, 0 before the first. */
  private segmentNumber = 0
  /** Offset in it of the next record to read. */
  private offset = 0
  private readonly window = Buffer.allocUnsafe(windowBytes)
  private windowSegment = 0
  private windowStart = 0
  private windowLength = 0
  /** The entry found last, given again until a caller asks for a later revision. */
  private found: HistoryEntry | undefined
  /**
   * The revision of the newest change passed over for being of another problem: the watcher has
   * no change to see up to it (0 before any).
   */
  skippedThrough = 0

  constructor(private readonly log: ChangeLog) {}

  /**
   * The oldest change in the log with a revision from `from` to `through` (of problem
   * `problemId`, when given): `'none'` when there is none, `'paused'` when this turn's slice
   * of bytes is read (call again in a later turn, after `startTurn()`). `from` never goes down between calls. Throws
   * CORRUPTION when a record of the log is damaged.
   * REQUIRES: `from` is at or above the log's floor.
   */
  next(from: number, through: number, problemId: number | undefined): HistoryEntry | 'none' | 'paused' {
    const found = this.found
    if (found !== undefined && found.revision >= from) return found.revision <= through ? found : 'none'
    this.found = undefined
    for (;;) {
      if (this.scannedBytes >= this.turnEndBytes) return 'paused'
      const start = { segmentNumber: this.segmentNumber, offset: this.offset }
      const record = this.readRecord(from)
      if (record === undefined) return 'none'
      const entry = this.entryAt(record)
      if (entry === undefined || entry.revision < from) continue
      if (entry.revision > through) {
        // Not yet: read it again next time.
        this.segmentNumber = start.segmentNumber
        this.offset = start.offset
        return 'none'
      }
      if (problemId !== undefined && entry.problemId !== problemId) {
        this.skippedThrough = entry.revision
        continue
      }
      this.found = entry
      return entry
    }
  }

  /** Bytes of the log this reader has stepped over, for the scan's slices. */
  private scannedBytes = 0
  /** `next()` reads on until `scannedBytes` reaches this, then answers `'paused'`. */
  private turnEndBytes = scanSliceBytes

  /** Starts a turn of the event loop: `next()` calls read at most `scanSliceBytes` in all until the next. */
  startTurn(): void {
    this.turnEndBytes = this.scannedBytes + scanSliceBytes
  }

  /**
   * The next record's header, moving past it; undefined at the end of the readable log. Moves to
   * the next segment holding writes at or after `from` at the end of each.
   */
  private readRecord(from: number): LogRecord | undefined {
    for (;;) {
      const files = this.log.files
      const limit = this.segmentNumber === 0 ? 0 : this.log.readableBytes(this.segmentNumber)
      if (this.segmentNumber === 0 || this.offset + recordHeaderBytes > limit || !files.sizesBytes.has(this.segmentNumber)) {
        // Also when a compaction removed the segment: all it held was older than the floor.
        const next = this.log.segmentFrom(this.segmentNumber, from)
        if (next === undefined) return undefined
        this.segmentNumber = next
        this.offset = files.format(next).headerBytes
        continue
      }
      const at = this.offset
      const header = decodeRecordHeader(this.bytesAt(at, recordHeaderBytes), 0, files.seeds(this.segmentNumber))
      if (header === undefined || at + recordHeaderBytes + header.payloadBytes > limit) {
        throw new CorruptionError(
          `segment ${this.segmentNumber} is damaged at offset ${at}: the changes from there on cannot be read from the log; ` +
            `read the current state, then watch from its revision + 1`,
          { segmentNumber: this.segmentNumber, offset: at },
        )
      }
      const sizeBytes = recordHeaderBytes + header.payloadBytes
      this.offset = at + sizeBytes
      this.scannedBytes += sizeBytes
      return { header, segmentNumber: this.segmentNumber, offset: at }
    }
  }

  /** `sizeBytes` (at most the window) of the current segment at `offset`, from the window. */
  private bytesAt(offset: number, sizeBytes: number): Buffer {
    const inWindow =
      this.windowSegment === this.segmentNumber && offset >= this.windowStart && offset + sizeBytes <= this.windowStart + this.windowLength
    if (!inWindow) {
      const length = Math.min(windowBytes, this.log.readableBytes(this.segmentNumber) - offset)
      this.log.files.read(this.segmentNumber, offset, length, this.window)
      this.windowSegment = this.segmentNumber
      this.windowStart = offset
      this.windowLength = length
    }
    const start = offset - this.windowStart
    return this.window.subarray(start, start + sizeBytes)
  }

  /**
   * The change whose first record is `first`, reading the rest of its records; undefined for
   * records that are no change (sync marks). Mirrors what write-plans.ts writes. A change's
   * revision is the seq of its write's last record.
   */
  private entryAt(first: LogRecord): HistoryEntry | undefined {
    const { header } = first
    const creates = (header.flags & recordFlagCreates) !== 0
    switch (header.kind) {
      case RecordKind.syncMark:
      case RecordKind.idWatermark:
        return undefined
      case RecordKind.docBlob: {
        if (!creates) return this.entry('updated', 'problemText', header.id, 0, undefined, [this.ref(first, 'a')], header.seq)
        const meta = this.partner(first, RecordKind.docMeta)
        return this.entry('created', 'problem', header.id, 0, undefined, [this.ref(first, 'a'), this.ref(meta, 'b')], meta.header.seq)
      }
      case RecordKind.columnName: {
        const column = this.payloadText(first)
        const meta = this.partner(first, RecordKind.docMeta)
        return this.entry('updated', 'problemColumn', header.id, 0, column, [this.ref(meta, 'b')], meta.header.seq)
      }
      case RecordKind.docDelete:
        return this.entry('deleted', 'problem', header.id, 0, undefined, [], header.seq)
      case RecordKind.inputPut:
        return this.entry(creates ? 'created' : 'updated', 'testCase', header.parentId, header.id, undefined, [this.ref(first, 'a')], header.seq)
      case RecordKind.inputDelete:
        return this.entry('deleted', 'testCase', header.parentId, header.id, undefined, [], header.seq)
      case RecordKind.outputPut:
        return this.entry(creates ? 'created' : 'updated', 'expectedOutput', header.parentId, header.id, undefined, [this.ref(first, 'b')], header.seq)
      case RecordKind.outputDelete:
        return this.entry('deleted', 'expectedOutput', header.parentId, header.id, undefined, [], header.seq)
      case RecordKind.docMeta:
        // Written only after a blob that creates its document or a column's name, read with them.
        throw this.unexpected(first, 'a metadata record that follows neither its document nor a column name')
    }
  }

  /** The record after `first`, of the same write: of kind `kind` and the same id. */
  private partner(first: LogRecord, kind: RecordKind): LogRecord {
    const next = this.offset + recordHeaderBytes <= this.log.readableBytes(this.segmentNumber) ? this.readRecord(Number.NEGATIVE_INFINITY) : undefined
    if (next === undefined || next.segmentNumber !== first.segmentNumber || next.header.kind !== kind || next.header.id !== first.header.id) {
      throw this.unexpected(first, `a record of kind ${first.header.kind} not followed by its write's record of kind ${kind}`)
    }
    return next
  }

  private payloadText(record: LogRecord): string {
    const sizeBytes = recordHeaderBytes + record.header.payloadBytes
    const bytes = this.bytesAt(record.offset, sizeBytes)
    if (!recordPayloadIsIntact(bytes, 0, record.header, this.log.files.seeds(record.segmentNumber))) {
      throw new CorruptionError(
        `the record at offset ${record.offset} of segment ${record.segmentNumber} fails its checksum: the change it belongs to cannot be read from the log; ` +
          `read the current state, then watch from its revision + 1`,
        { segmentNumber: record.segmentNumber, offset: record.offset },
      )
    }
    return bytes.toString('utf8', recordHeaderBytes)
  }

  private ref(record: LogRecord, column: Column): RecordRef {
    const { header } = record
    return {
      segmentNumber: record.segmentNumber,
      offset: record.offset,
      sizeBytes: recordHeaderBytes + header.payloadBytes,
      seq: header.seq,
      id: header.id,
      kind: header.kind,
      local: localIdOf(header.id),
      column,
    }
  }

  private entry(
    type: ChangeType,
    target: ChangeTarget,
    problemId: number,
    testCaseId: number,
    column: string | undefined,
    records: RecordRef[],
    revision: number,
  ): HistoryEntry {
    return { revision, type, target, problemId, testCaseId, column, records }
  }

  private unexpected(record: LogRecord, what: string): CorruptionError {
    return new CorruptionError(`segment ${record.segmentNumber} holds, at offset ${record.offset}, ${what}; read the current state, then watch from its revision + 1`, {
      segmentNumber: record.segmentNumber,
      offset: record.offset,
    })
  }

}
