/**
 * The store's side of watching: turns each published write into a history entry, and reads the
 * value a change wrote when a watcher delivers it (watch.ts).
 *
 * A change's value is read from its own records, found the way that survives compaction: while
 * a record is still current, through the keydir (a compaction moves it and updates the keydir);
 * once a later write replaced it, at the place it was written, as long as that segment is still
 * part of the store. When a compaction has reclaimed it, the value is `superseded`: the event of
 * the write that replaced it follows in the same stream.
 */
import { decodeMeta } from './document-meta.ts'
import type { ChangeValue, WatchOptions } from './change-events.ts'
import { ChangeHistory, type HistoryEntry, type RecordRef } from './change-history.ts'
import { ChangeLog, ChangeLogReader, type LogEnd } from './change-log.ts'
import { SlotKind, type Keydir } from './keydir.ts'
import { recordHeaderBytes } from './limits.ts'
import type { CheckedRecord, RecordReader } from './record-reader.ts'
import { readUint53, type RecordKind } from './record.ts'
import type { SegmentFiles } from './segment-files.ts'
import type { SegmentStatsTable } from './segment-stats.ts'
import type { Placed } from './segment-writer.ts'
import { decodeValue } from './values.ts'
import { resolveWatchOptions, Watch, type WatchSource } from './watch.ts'
import type { WritePlan } from './write-plans.ts'

/** Where `seq` lies in a record header (record.ts). */
const seqOffsetInHeader = 16

export interface ChangeFeedParts {
  readonly keydir: Keydir
  readonly files: SegmentFiles
  readonly segmentStats: SegmentStatsTable
  readonly reader: RecordReader
  readonly revision: () => number
  readonly checkOpen: () => void
  readonly isProblemId: (id: number) => boolean
}

export class ChangeFeed implements WatchSource {
  readonly history: ChangeHistory
  readonly log: ChangeLog

  constructor(
    private readonly parts: ChangeFeedParts,
    historyMaxChanges: number,
    openedAtRevision: number,
    /** From recovery: the oldest revision whose change the log holds as written. */
    historyFloor: number,
    /** Where the log ends at open: every write in it is published. */
    logEnd: LogEnd,
  ) {
    this.history = new ChangeHistory(historyMaxChanges, openedAtRevision)
    this.log = new ChangeLog(parts.files, parts.segmentStats, historyFloor, logEnd)
  }

  /** A compaction cut the log's history up to `revision` (see ChangeLog.cut). */
  historyCut(revision: number): void {
    this.log.cut(revision)
  }

  openLog(): ChangeLogReader {
    return new ChangeLogReader(this.log)
  }

  revision(): number {
    return this.parts.revision()
  }

  checkOpen(): void {
    this.parts.checkOpen()
  }

  watch(options: WatchOptions | undefined): Watch {
    this.checkOpen()
    return new Watch(this, resolveWatchOptions(options, this.history, this.log, this.revision(), this.parts.isProblemId))
  }

  /** Records a write just published, its first record at `at`. */
  published(plan: WritePlan, at: Placed): void {
    const change = plan.change
    const records: RecordRef[] = change.valueRecords.map(({ index, local, column }) => {
      let offset = at.offset
      for (let earlier = 0; earlier < index; earlier++) offset += plan.records[earlier]!.length
      const record = plan.records[index]!
      return {
        segmentNumber: at.segmentNumber,
        offset,
        sizeBytes: record.length,
        seq: readUint53(record, seqOffsetInHeader),
        id: readUint53(record, 24),
        kind: record[8] as RecordKind,
        local,
        column,
      }
    })
    this.history.append({
      revision: plan.version,
      type: change.type,
      target: change.target,
      problemId: change.problemId,
      testCaseId: change.testCaseId,
      column: change.column,
      records,
    })
  }

  /** The writes of an append are all published, its records ending at `offset` of segment `segmentNumber`. */
  publishedThrough(segmentNumber: number, offset: number): void {
    this.log.publishedThrough(segmentNumber, offset)
  }

  /** Wakes the watchers waiting for changes (once per group commit), or for the store's failure. */
  wake(): void {
    this.history.wake()
  }

  close(): void {
    this.history.close()
  }

  valueOf(entry: HistoryEntry): ChangeValue {
    const records: CheckedRecord[] = []
    for (const ref of entry.records) {
      const record = this.readRecord(ref)
      if (record === undefined) return { kind: 'superseded' }
      records.push(record)
    }
    const [first, second] = records as [CheckedRecord, CheckedRecord | undefined]
    switch (entry.target) {
      case 'problem':
        return {
          kind: 'problem',
          html: first.bytes.toString('utf8', first.payloadStart, first.payloadEnd),
          columns: decodeMeta(second!.bytes, second!.payloadStart, second!.payloadEnd),
        }
      case 'problemText':
        return { kind: 'text', html: first.bytes.toString('utf8', first.payloadStart, first.payloadEnd) }
      case 'problemColumn':
        return { kind: 'column', value: decodeMeta(first.bytes, first.payloadStart, first.payloadEnd).get(entry.column!) ?? '' }
      case 'testCase':
      case 'expectedOutput':
        return { kind: 'value', value: decodeValue(first.bytes, first.payloadStart, first.payloadEnd) }
    }
  }

  /** The record as written, checked; undefined when a compaction reclaimed it. */
  private readRecord(ref: RecordRef): CheckedRecord | undefined {
    const { keydir, files, reader } = this.parts
    const kind = keydir.kind(ref.local)
    const live = (kind === SlotKind.doc || kind === SlotKind.input) && keydir.seqOf(ref.local, ref.column) === ref.seq
    const location = live ? keydir.location(ref.local, ref.column) : undefined
    if (location !== undefined) return reader.read(location.segmentNumber, location.offset, location.sizeBytes, ref.id, ref.kind)
    if (!files.sizesBytes.has(ref.segmentNumber)) return undefined
    const record = reader.read(ref.segmentNumber, ref.offset, ref.sizeBytes, ref.id, ref.kind)
    // The place is the write's own as long as its segment exists: segments are never rewritten in place.
    if (readUint53(record.bytes, record.payloadStart - recordHeaderBytes + seqOffsetInHeader) !== ref.seq) return undefined
    return record
  }
}
