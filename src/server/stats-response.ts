/** The engine's StoreStats as a GetStatsResponse. */
import type { StoreStats, StoreStatus, SyncMode } from '../engine/index.ts'
import type { GetStatsResponse, WireStoreStatus, WireSyncMode } from '../protocol/wire-types.ts'

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
    },
    uptimeMs: String(Math.max(0, Math.round(uptimeMs))),
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
    default:
      return unknownCase(status)
  }
}

function unknownCase(value: never): never {
  throw new Error(`no wire form for ${String(value)}`)
}
