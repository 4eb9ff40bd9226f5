/**
 * The TypeScript client of the Stratum gRPC server. It depends on the contract (proto/lse.proto)
 * only; the value types and constructors are the engine's, declared again in src/protocol.
 */
export { StratumClient, clientResponseMaxBytes } from './stratum-client.ts'
export type {
  CallOptions,
  ClientOptions,
  MetaInput,
  PageRequest,
  ProblemPage,
  TestCase,
  TestCaseListing,
  TestCasePage,
  Versioned,
  WatchRequestOptions,
  WriteOptions,
} from './stratum-client.ts'
export { WatchStream } from './client-watch.ts'
export type { ChangeEvent, ChangeTarget, ChangeType, ChangeValue, ProgressEvent, WatchEvent } from '../protocol/watch-events.ts'
export { StratumClientError, StatusCode, isStratumClientError } from './client-error.ts'
export { BatchRef, ClientBatch } from './client-batch.ts'
export type { BatchCondition, IdOrRef } from './client-batch.ts'
export type { CompactionResult, CompactionSummary, RecoverySummary, ServerStats } from './stats.ts'
export { double, int64, int64List, string, stringList, stringMap } from '../protocol/values.ts'
export type {
  DoubleValue,
  Int64ListValue,
  Int64Value,
  StringListValue,
  StringMapValue,
  StringValue,
  Value,
  ValueType,
} from '../protocol/values.ts'
