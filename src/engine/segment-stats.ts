/**
 * What the compactor needs to know of each segment beyond its size, which the keydir does not
 * hold: the oldest record in it (so that it can tell when a tombstone can no longer be needed),
 * how many of its bytes are tombstones (which the keydir never points to, yet which may have to be
 * kept), the newest record in it (so that watchers reading the log know which segments hold
 * the changes they look for), and whether recovery found damage in it (a damaged segment is never compacted: what its
 * damaged stretches held is unknown, so nothing in it can be proved dead).
 *
 * Filled by recovery for the segments on disk, by the writer as it appends, and by compaction for
 * the segments it writes.
 */
import { isTombstoneKind, readUint53, recordFlagCreates, RecordKind } from './record.ts'

export interface SegmentStats {
  /** The lowest sequence number of any record in the segment; +Infinity while it holds none. */
  minSeq: number
  /** The highest sequence number of any record in the segment; -Infinity while it holds none. */
  maxSeq: number
  /** Bytes of tombstone records in the segment. */
  tombstoneBytes: number
  /** Recovery found damaged records or ranges in it. */
  damaged: boolean
  /** The writes (changes, for watchers) whose records it holds; 0 in a compaction's output. */
  changes: number
  /** A compaction's output: it holds live records, not a history. */
  compacted: boolean
}

/** Stats of a segment that holds nothing yet. */
export function emptySegmentStats(): SegmentStats {
  return { minSeq: Number.POSITIVE_INFINITY, maxSeq: Number.NEGATIVE_INFINITY, tombstoneBytes: 0, damaged: false, changes: 0, compacted: false }
}

/**
 * Whether a record of this kind and flags ends a change of its own (a write, or an operation of
 * a batch): all but the first record of a two-record write (a created document's blob, a
 * column's name) and the records that are no write (sync marks, watermarks).
 */
export function countsAsChange(kind: number, flags: number): boolean {
  if (kind === RecordKind.syncMark || kind === RecordKind.idWatermark || kind === RecordKind.columnName) return false
  return !(kind === RecordKind.docBlob && (flags & recordFlagCreates) !== 0)
}

export class SegmentStatsTable {
  private readonly bySegment = new Map<number, SegmentStats>()

  get(segmentNumber: number): SegmentStats {
    let stats = this.bySegment.get(segmentNumber)
    if (stats === undefined) {
      stats = emptySegmentStats()
      this.bySegment.set(segmentNumber, stats)
    }
    return stats
  }

  set(segmentNumber: number, stats: SegmentStats): void {
    this.bySegment.set(segmentNumber, stats)
  }

  delete(segmentNumber: number): void {
    this.bySegment.delete(segmentNumber)
  }

  /** Notes an encoded record (see record.ts) appended to a segment. */
  noteEncoded(segmentNumber: number, record: Buffer): void {
    const stats = this.get(segmentNumber)
    const seq = readUint53(record, 16)
    if (seq < stats.minSeq) stats.minSeq = seq
    if (seq > stats.maxSeq) stats.maxSeq = seq
    if (isTombstoneKind(record[8]!)) stats.tombstoneBytes += record.length
    if (countsAsChange(record[8]!, record[9]!)) stats.changes++
  }
}
