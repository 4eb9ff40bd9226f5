/** GetStats and CompactNow as plain numbers (every counter is below 2^53) and names. */
import type { GetStatsResponse, WireCompactionResult, WireCompactionSummary, WireStoreStatus, WireSyncMode } from '../protocol/wire-types.ts'

export interface RecoverySummary {
  segmentCount: number
  recordCount: number
  bytesScanned: number
  tornTailBytes: number
  damagedRecordCount: number
  damagedRangeCount: number
  removedTemporaryFileCount: number
  durationMs: number
  /** Sealed segments opened from their hint files, without reading the segment. */
  segmentsFromHints: number
  /** Segments read record by record (the newest always is). */
  segmentsScanned: number
  /** Hint files written by that open. */
  hintsWritten: number
  /** Hint files that could not be used (their segments were scanned instead). */
  unusableHintCount: number
}

/** What one compaction did: `compactNow()` resolves to it, and `getStats()` has the last. */
export interface CompactionResult {
  /** Sealed segments merged and removed. */
  segmentsCompacted: number
  /** Segments written in their place. */
  segmentsWritten: number
  /** Bytes of the merged segments, and of the segments written in their place. */
  bytesBefore: number
  bytesAfter: number
  /** `bytesBefore - bytesAfter`; negative when the compaction wrote more than it merged. */
  bytesReclaimed: number
  /** Live records copied. */
  recordsCopied: number
  /** Tombstones copied because an older record they delete may remain elsewhere. */
  tombstonesKept: number
  /** Tombstones dropped: nothing they delete remains. */
  tombstonesDropped: number
  /** Wall time of the compaction, in ms. */
  durationMs: number
}

/** The compactor since the store was opened. */
export interface CompactionSummary {
  /** Whether a compaction is running now. */
  running: boolean
  /** Compactions finished (those that found nothing to merge are not counted). */
  runs: number
  /** Bytes they reclaimed together (their `bytesReclaimed` summed, so it may be negative). */
  bytesReclaimed: number
  /** Compactions that failed. */
  failures: number
  /** The last failure's message; '' when none failed. */
  lastError: string
  /** The last finished compaction; null when none has finished. */
  last: CompactionResult | null
}

export interface ServerStats {
  /** The store's revision: the version given by the newest acknowledged write. 0 from an older server. */
  revision: number
  problemsInIndex: number
  testCasesInIndex: number
  expectedOutputsInIndex: number
  segmentCount: number
  activeSegmentNumber: number
  activeSegmentBytes: number
  diskBytes: number
  liveBytes: number
  deadBytes: number
  indexBytes: number
  cacheBytes: number
  cacheHits: number
  cacheMisses: number
  /** 'unspecified' only from a server newer than this client. */
  syncMode: 'always' | 'interval' | 'none' | 'unspecified'
  syncCount: number
  storeStatus: 'open' | 'disk-full' | 'failed' | 'closing' | 'closed' | 'unspecified'
  /** While writes are refused for a full disk: the file and the bytes the write needed. */
  diskFull: { path: string; bytesNeeded: number; sinceUnixMs: number } | null
  lastRecovery: RecoverySummary
  uptimeMs: number
  compaction: CompactionSummary
}

const syncModes: Record<WireSyncMode, ServerStats['syncMode']> = {
  SYNC_MODE_UNSPECIFIED: 'unspecified',
  SYNC_MODE_ALWAYS: 'always',
  SYNC_MODE_INTERVAL: 'interval',
  SYNC_MODE_NONE: 'none',
}

const storeStatuses: Record<WireStoreStatus, ServerStats['storeStatus']> = {
  STORE_STATUS_UNSPECIFIED: 'unspecified',
  STORE_STATUS_OPEN: 'open',
  STORE_STATUS_CLOSING: 'closing',
  STORE_STATUS_CLOSED: 'closed',
  STORE_STATUS_DISK_FULL: 'disk-full',
  STORE_STATUS_FAILED: 'failed',
}

export function statsFromWire(wire: GetStatsResponse): ServerStats {
  const recovery = wire.lastRecovery
  return {
    revision: Number(wire.revision ?? 0),
    problemsInIndex: Number(wire.problemsInIndex),
    testCasesInIndex: Number(wire.testCasesInIndex),
    expectedOutputsInIndex: Number(wire.expectedOutputsInIndex),
    segmentCount: Number(wire.segmentCount),
    activeSegmentNumber: Number(wire.activeSegmentNumber),
    activeSegmentBytes: Number(wire.activeSegmentBytes),
    diskBytes: Number(wire.diskBytes),
    liveBytes: Number(wire.liveBytes),
    deadBytes: Number(wire.deadBytes),
    indexBytes: Number(wire.indexBytes),
    cacheBytes: Number(wire.cacheBytes),
    cacheHits: Number(wire.cacheHits),
    cacheMisses: Number(wire.cacheMisses),
    syncMode: syncModes[wire.syncMode] ?? 'unspecified',
    syncCount: Number(wire.syncCount),
    storeStatus: storeStatuses[wire.storeStatus] ?? 'unspecified',
    diskFull:
      wire.diskFull === null || wire.diskFull === undefined
        ? null
        : { path: wire.diskFull.path, bytesNeeded: Number(wire.diskFull.bytesNeeded), sinceUnixMs: Number(wire.diskFull.sinceUnixMs) },
    lastRecovery: {
      segmentCount: Number(recovery?.segmentCount ?? 0),
      recordCount: Number(recovery?.recordCount ?? 0),
      bytesScanned: Number(recovery?.bytesScanned ?? 0),
      tornTailBytes: Number(recovery?.tornTailBytes ?? 0),
      damagedRecordCount: Number(recovery?.damagedRecordCount ?? 0),
      damagedRangeCount: Number(recovery?.damagedRangeCount ?? 0),
      removedTemporaryFileCount: Number(recovery?.removedTemporaryFileCount ?? 0),
      durationMs: recovery?.durationMs ?? 0,
      segmentsFromHints: Number(recovery?.segmentsFromHints ?? 0),
      segmentsScanned: Number(recovery?.segmentsScanned ?? 0),
      hintsWritten: Number(recovery?.hintsWritten ?? 0),
      unusableHintCount: Number(recovery?.unusableHintCount ?? 0),
    },
    uptimeMs: Number(wire.uptimeMs),
    compaction: compactionSummaryFromWire(wire.compaction),
  }
}

export function compactionResultFromWire(wire: WireCompactionResult): CompactionResult {
  return {
    segmentsCompacted: Number(wire.segmentsCompacted),
    segmentsWritten: Number(wire.segmentsWritten),
    bytesBefore: Number(wire.bytesBefore),
    bytesAfter: Number(wire.bytesAfter),
    bytesReclaimed: Number(wire.bytesReclaimed),
    recordsCopied: Number(wire.recordsCopied),
    tombstonesKept: Number(wire.tombstonesKept),
    tombstonesDropped: Number(wire.tombstonesDropped),
    durationMs: wire.durationMs,
  }
}

/** An older server sends no summary: then it reads as a compactor that never ran. */
function compactionSummaryFromWire(wire: WireCompactionSummary | null | undefined): CompactionSummary {
  return {
    running: wire?.running ?? false,
    runs: Number(wire?.runs ?? 0),
    bytesReclaimed: Number(wire?.bytesReclaimed ?? 0),
    failures: Number(wire?.failures ?? 0),
    lastError: wire?.lastError ?? '',
    last: wire?.last === null || wire?.last === undefined ? null : compactionResultFromWire(wire.last),
  }
}
