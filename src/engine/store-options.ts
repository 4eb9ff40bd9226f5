/**
 * The options of `openStore`, their defaults, and their validation.
 */
import { invalidArgument } from './errors.ts'
import { nodeFileSystem, type FileSystem } from './file-system.ts'
import { isValidShard } from './ids.ts'
import {
  cacheSizeDefaultBytes,
  cacheSizeMaxBytes,
  compactionDeadBytesDefault,
  compactionDeadRatioDefault,
  compactionIntervalDefaultMs,
  compactionIntervalMaxMs,
  segmentSizeDefaultBytes,
  segmentSizeMaxBytes,
  segmentSizeMinBytes,
  shardMax,
  syncIntervalDefaultMs,
  syncIntervalMaxMs,
  syncIntervalMinMs,
  watchHistoryDefaultChanges,
  watchHistoryMaxChangesMax,
  watchLogRetainDefaultChanges,
} from './limits.ts'
import { syncModes, type SyncMode } from './segment-writer.ts'
import type { CompactionStep } from './compactor.ts'
import type { StoreObserver } from './store-observer.ts'

export interface StoreOptions {
  /** The store's folder. It holds the segment files and the lock file, and nothing else. */
  dir: string
  /** Create `dir` when it does not exist. @defaultValue true */
  createIfMissing?: boolean
  /**
   * When a write is acknowledged. `always`: after fdatasync, concurrent writes sharing one
   * (group commit). `interval`: after the write reaches the OS, synced every `syncIntervalMs`, so
   * a power cut loses at most that window. `none`: the OS decides. @defaultValue 'always'
   */
  syncMode?: SyncMode
  /** Sync period of `interval` mode, in ms, from 1 to 60,000. @defaultValue 100 */
  syncIntervalMs?: number
  /** Size at which the active segment is sealed and a new one started. @defaultValue 64 MiB */
  segmentSizeBytes?: number
  /**
   * Memory for cached segment blocks, in bytes, 0 (no cache) to 16 GiB. Reads served from the
   * cache cost no system call. @defaultValue 64 MiB
   */
  cacheSizeBytes?: number
  /**
   * How often the background compactor wakes to check for garbage, in ms; 0 turns background
   * compaction off (`compactNow()` still works). At most 24 hours. @defaultValue 30,000
   */
  compactionIntervalMs?: number
  /**
   * The compactor runs when dead bytes (superseded records, tombstones) are at least this share
   * of the sealed segments' bytes, from 0.05 to 1 (1: only the absolute threshold).
   * @defaultValue 0.5
   */
  compactionDeadRatio?: number
  /**
   * The compactor also runs when the sealed segments hold at least this many dead bytes, whatever
   * their share. @defaultValue 1 GiB
   */
  compactionDeadBytes?: number
  /**
   * How many of the newest changes the store keeps in memory for watchers (`watch`), 0 to
   * 10,000,000, about 320 bytes a change (32 MiB by default), since the store was opened. Older
   * changes are read back from the log while it holds them (see `watchLogRetainChanges`). 0
   * turns watching off: every watcher ends at the first change. @defaultValue 100,000
   */
  watchHistoryMaxChanges?: number
  /**
   * Background compaction leaves alone every segment that holds any of the newest this many
   * changes (writes, or operations of a batch), so that a watcher can read them back from the log
   * (after a restart, or once the in-memory history dropped them). 0 lets it compact any sealed
   * segment; `compactNow()` compacts them all regardless. Costs the disk space of the garbage
   * among them. @defaultValue 100,000
   */
  watchLogRetainChanges?: number
  /** Shard number put in the top bits of every id issued, 0 to 2^21-1. @defaultValue 0 */
  shard?: number
  /**
   * Called for damage found on open or on a read, with a message and its details.
   * @defaultValue process.emitWarning
   */
  onWarning?: (message: string, details: Record<string, unknown>) => void
  /**
   * Called when the store's status changes while it is open: to `disk-full` when a write finds no
   * room, back to `open` when a later one does, to `failed` (with the error) when an I/O error or
   * a bug stops it. The server drives its health service with it.
   */
  onStatusChange?: (status: 'open' | 'disk-full' | 'failed', error?: Error) => void
  /** Told of every sync and group commit, with its duration and size (see StoreObserver). */
  observer?: StoreObserver
  /** @internal For tests: the file system to use, e.g. one that injects faults. */
  fileSystem?: FileSystem
  /**
   * @internal For tests: called at each step of a compaction (see `CompactionStep`), so that a
   * test can kill the process or fail there.
   */
  onCompactionStep?: (step: CompactionStep) => void
}

export type ResolvedStoreOptions = Required<Omit<StoreOptions, 'onWarning' | 'onCompactionStep' | 'onStatusChange' | 'observer'>> &
  Pick<StoreOptions, 'onWarning' | 'onCompactionStep' | 'onStatusChange' | 'observer'>

export function resolveStoreOptions(options: StoreOptions): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('openStore needs an options object { dir }')
  const resolved: ResolvedStoreOptions = {
    dir: options.dir,
    createIfMissing: options.createIfMissing ?? true,
    syncMode: options.syncMode ?? 'always',
    syncIntervalMs: options.syncIntervalMs ?? syncIntervalDefaultMs,
    segmentSizeBytes: options.segmentSizeBytes ?? segmentSizeDefaultBytes,
    cacheSizeBytes: options.cacheSizeBytes ?? cacheSizeDefaultBytes,
    compactionIntervalMs: options.compactionIntervalMs ?? compactionIntervalDefaultMs,
    compactionDeadRatio: options.compactionDeadRatio ?? compactionDeadRatioDefault,
    compactionDeadBytes: options.compactionDeadBytes ?? compactionDeadBytesDefault,
    watchHistoryMaxChanges: options.watchHistoryMaxChanges ?? watchHistoryDefaultChanges,
    watchLogRetainChanges: options.watchLogRetainChanges ?? watchLogRetainDefaultChanges,
    shard: options.shard ?? 0,
    onWarning: options.onWarning,
    onCompactionStep: options.onCompactionStep,
    onStatusChange: options.onStatusChange,
    observer: options.observer,
    fileSystem: options.fileSystem ?? nodeFileSystem,
  }
  if (typeof resolved.dir !== 'string' || resolved.dir === '') throw invalidArgument('dir must be a non-empty path')
  if (!syncModes.includes(resolved.syncMode)) {
    throw invalidArgument(`syncMode must be one of ${syncModes.join(', ')}, got ${String(resolved.syncMode)}`)
  }
  checkIntegerInRange('syncIntervalMs', resolved.syncIntervalMs, syncIntervalMinMs, syncIntervalMaxMs)
  checkIntegerInRange('segmentSizeBytes', resolved.segmentSizeBytes, segmentSizeMinBytes, segmentSizeMaxBytes)
  checkIntegerInRange('cacheSizeBytes', resolved.cacheSizeBytes, 0, cacheSizeMaxBytes)
  checkIntegerInRange('compactionIntervalMs', resolved.compactionIntervalMs, 0, compactionIntervalMaxMs)
  const ratio = resolved.compactionDeadRatio
  if (typeof ratio !== 'number' || !(ratio >= 0.05 && ratio <= 1)) {
    throw invalidArgument(`compactionDeadRatio must be a number from 0.05 to 1, got ${String(ratio)}`)
  }
  checkIntegerInRange('compactionDeadBytes', resolved.compactionDeadBytes, 1, Number.MAX_SAFE_INTEGER)
  checkIntegerInRange('watchHistoryMaxChanges', resolved.watchHistoryMaxChanges, 0, watchHistoryMaxChangesMax)
  checkIntegerInRange('watchLogRetainChanges', resolved.watchLogRetainChanges, 0, Number.MAX_SAFE_INTEGER)
  if (!isValidShard(resolved.shard)) throw invalidArgument(`shard must be an integer from 0 to ${shardMax}`)
  return resolved
}

function checkIntegerInRange(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
}
