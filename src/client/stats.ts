/** GetStats as plain numbers (every counter is below 2^53) and names. */
import type { GetStatsResponse, WireStoreStatus, WireSyncMode } from '../protocol/wire-types.ts'

export interface RecoverySummary {
  segmentCount: number
  recordCount: number
  bytesScanned: number
  tornTailBytes: number
  damagedRecordCount: number
  damagedRangeCount: number
  removedTemporaryFileCount: number
  durationMs: number
}

export interface ServerStats {
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
  storeStatus: 'open' | 'closing' | 'closed' | 'unspecified'
  lastRecovery: RecoverySummary
  uptimeMs: number
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
}

export function statsFromWire(wire: GetStatsResponse): ServerStats {
  const recovery = wire.lastRecovery
  return {
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
    lastRecovery: {
      segmentCount: Number(recovery?.segmentCount ?? 0),
      recordCount: Number(recovery?.recordCount ?? 0),
      bytesScanned: Number(recovery?.bytesScanned ?? 0),
      tornTailBytes: Number(recovery?.tornTailBytes ?? 0),
      damagedRecordCount: Number(recovery?.damagedRecordCount ?? 0),
      damagedRangeCount: Number(recovery?.damagedRangeCount ?? 0),
      removedTemporaryFileCount: Number(recovery?.removedTemporaryFileCount ?? 0),
      durationMs: recovery?.durationMs ?? 0,
    },
    uptimeMs: Number(wire.uptimeMs),
  }
}
