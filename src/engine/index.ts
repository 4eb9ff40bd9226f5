/**
 * The embedded engine's public surface. Everything not exported here is internal.
 */
export { openStore, Store } from './store.ts'
export { Batch, BatchId } from './batch.ts'
export type { IdOrBatchId, WriteCondition } from './batch.ts'
export type { PageOptions, ProblemPage, StoreStats, StoreStatus, TestCase, TestCasePage, TestCasePageOptions } from './store.ts'
export type { StoreOptions } from './store-options.ts'
export type { StoreObserver } from './store-observer.ts'
export type { CompactionResult, CompactionStats } from './compaction-result.ts'
export type { SyncMode } from './segment-writer.ts'
export type { RecoveryReport, DamagedRecord, DamagedRange } from './recovery.ts'
export type { MetaInput } from './document-meta.ts'
export { Watch } from './watch.ts'
export type { ChangeEvent, ChangeTarget, ChangeType, ChangeValue, ProgressEvent, WatchEvent, WatchOptions } from './change-events.ts'
export { StratumError, CorruptionError, LockedError, errorCodes, isStratumError } from './errors.ts'
export type { ErrorCode, LockHolder } from './errors.ts'
export { double, int64, int64List, string, stringList, stringMap, valueTags } from './values.ts'
export type {
  DoubleValue,
  Int64ListValue,
  Int64Value,
  StringListValue,
  StringMapValue,
  StringValue,
  Value,
  ValueType,
} from './values.ts'
export * as limits from './limits.ts'
