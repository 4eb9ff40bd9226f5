/** What a compaction reports: `Store.compactNow()` resolves to it, and `stats()` keeps the last. */
export interface CompactionResult {
  /** Sealed segments merged and removed. */
  segmentsCompacted: number
  /** Segments the merge wrote. */
  segmentsWritten: number
  /** Bytes of the merged segments before, and of the segments written in their place. */
  bytesBefore: number
  bytesAfter: number
  /** `bytesBefore - bytesAfter`. */
  bytesReclaimed: number
  /** Live records copied into the new segments. */
  recordsCopied: number
  /** Tombstones copied because an older record they delete may remain in another segment. */
  tombstonesKept: number
  /** Tombstones dropped: nothing they delete remains anywhere. */
  tombstonesDropped: number
  /** Wall time from start to the removal of the merged segments, in ms. */
  durationMs: number
}

/** The compactor's counters since the store was opened (`StoreStats.compaction`). */
export interface CompactionStats {
  /** Whether a compaction is running now. */
  running: boolean
  /** Compactions finished since open (those that found nothing to merge are not counted). */
  runs: number
  /** Bytes reclaimed by them together. */
  bytesReclaimed: number
  /** Compactions that failed since open; the last error's message. */
  failures: number
  lastError: string | undefined
  /** The last finished compaction, if any. */
  last: CompactionResult | undefined
}
