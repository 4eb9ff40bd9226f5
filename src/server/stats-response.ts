/** The engine's StoreStats as a GetStatsResponse, and its CompactionResult on the wire. */
import type { CompactionResult, CompactionStats, StoreStats, StoreStatus, SyncMode } from '../engine/index.ts'
import type { GetStatsResponse, WireCompactionResult, WireCompactionSummary, WireStoreStatus, WireSyncMode } from '../protocol/wire-types.ts'

export function statsResponse(stats: StoreStats, uptimeMs: number): GetStatsResponse {
  const recovery = stats.lastRecovery
  return {
    problemsInIndex: String(stats.documents),
    testCasesInIndex: String(stats.inputNodes),
    expectedOutputsInIndex: String(stats.outputNodes),
    segmentCount: String(stats.segmentCount),
    activeSegmentNumber: String(stats.activeSegmentNumber),
    activeSegmentBytes: String(stats.activeSegmentBytes),
    diskBytes: String(stats.diskBytes),
    liveBytes: String(stats.liveBytes),
    deadBytes: String(stats.deadBytes),
    indexBytes: String(stats.indexBytes),
    cacheBytes: String(stats.cacheBytes),
    cacheHits: String(stats.cacheHits),
    cacheMisses: String(stats.cacheMisses),
    syncMode: wireSyncMode(stats.syncMode),
    syncCount: String(stats.syncCount),
    storeStatus: wireStoreStatus(stats.status),
    lastRecovery: {
      segmentCount: String(recovery.segmentCount),
      recordCount: String(recovery.recordCount),
      bytesScanned: String(recovery.bytesScanned),
      tornTailBytes: String(recovery.tornTail?.droppedBytes ?? 0),
      damagedRecordCount: String(recovery.damagedRecordCount),
      damagedRangeCount: String(recovery.damagedRangeCount),
      removedTemporaryFileCount: String(recovery.removedTemporaryFiles.length),
      durationMs: recovery.durationMs,
      segmentsFromHints: String(recovery.segmentsFromHints),
      segmentsScanned: String(recovery.segmentsScanned),
      hintsWritten: String(recovery.hintsWritten),
      unusableHintCount: String(recovery.unusableHints.length),
    },
    uptimeMs: String(Math.max(0, Math.round(uptimeMs))),
    compaction: compactionSummary(stats.compaction),
    revision: String(stats.revision),
    diskFull:
      stats.diskFull === null
        ? null
        : { path: stats.diskFull.path, bytesNeeded: String(stats.diskFull.bytesNeeded), sinceUnixMs: String(stats.diskFull.since.getTime()) },
  }
}

/** A compaction's result as CompactionResult carries it (in CompactNowResponse and GetStats). */
export function compactionResultToWire(result: CompactionResult): WireCompactionResult {
  return {
    segmentsCompacted: String(result.segmentsCompacted),
    segmentsWritten: String(result.segmentsWritten),
    bytesBefore: String(result.bytesBefore),
    bytesAfter: String(result.bytesAfter),
    bytesReclaimed: String(result.bytesReclaimed),
    recordsCopied: String(result.recordsCopied),
    tombstonesKept: String(result.tombstonesKept),
    tombstonesDropped: String(result.tombstonesDropped),
    durationMs: result.durationMs,
  }
}

function compactionSummary(compaction: CompactionStats): WireCompactionSummary {
  return {
    running: compaction.running,
    runs: String(compaction.runs),
    bytesReclaimed: String(compaction.bytesReclaimed),
    failures: String(compaction.failures),
    lastError: compaction.lastError ?? '',
    last: compaction.last === undefined ? null : compactionResultToWire(compaction.last),
  }
}

function wireSyncMode(mode: SyncMode): WireSyncMode {
  switch (mode) {
    case 'always':
      return 'SYNC_MODE_ALWAYS'
    case 'interval':
      return 'SYNC_MODE_INTERVAL'
    case 'none':
      return 'SYNC_MODE_NONE'
    default:
      return unknownCase(mode)
  }
}

function wireStoreStatus(status: StoreStatus): WireStoreStatus {
  switch (status) {
    case 'open':
      return 'STORE_STATUS_OPEN'
    case 'closing':
      return 'STORE_STATUS_CLOSING'
    case 'closed':
      return 'STORE_STATUS_CLOSED'
    case 'disk-full':
      return 'STORE_STATUS_DISK_FULL'
    case 'failed':
      return 'STORE_STATUS_FAILED'
    default:
      return unknownCase(status)
  }
}

function unknownCase(value: never): never {
  throw new Error(`no wire form for ${String(value)}`)
}
