/**
 * The messages of proto/lse.proto as the plain objects proto-loader decodes them into (see
 * proto-definition.ts for the options): camelCase fields, 64-bit integers as decimal strings,
 * enums as names, absent scalars and lists filled with defaults, absent messages as null.
 *
 * The same shapes are accepted for encoding, where absent fields may simply be left out.
 */

/** A uint64 or int64 field: a decimal string when decoded; a string or a safe integer to encode. */
export type WireInt64 = string

/** The oneof member names of `Value`, the `kind` proto-loader reports. */
export type WireValueKind =
  | 'int64Value'
  | 'doubleValue'
  | 'stringValue'
  | 'int64ListValue'
  | 'stringListValue'
  | 'stringMapValue'

export interface WireStringMapEntry {
  key: string
  value: string
}

export interface WireValue {
  kind?: WireValueKind
  int64Value?: WireInt64
  doubleValue?: number
  stringValue?: string
  int64ListValue?: { values: WireInt64[] } | null
  stringListValue?: { values: string[] } | null
  stringMapValue?: { entries: WireStringMapEntry[] } | null
}

export interface WireColumn {
  name: string
  value: string
}

export interface CreateProblemRequest {
  html: string
  columns: WireColumn[]
}
export interface CreateProblemResponse {
  problemId: WireInt64
}

/** The condition of an update or delete: write only at this version; "0" (or absent): no condition. */
export interface WireCondition {
  expectedVersion?: WireInt64
}
/** The response of an update or of SetExpectedOutput: the new version. */
export interface VersionResponse {
  version: WireInt64
}
/** The response of a delete: the store's revision at the delete. */
export interface RevisionResponse {
  revision: WireInt64
}

export interface ProblemIdRequest {
  problemId: WireInt64
}
export type GetProblemHtmlRequest = ProblemIdRequest
export interface GetProblemHtmlResponse {
  html: string
  version: WireInt64
}
export type GetProblemMetaRequest = ProblemIdRequest
export interface GetProblemMetaResponse {
  columns: WireColumn[]
  version: WireInt64
}
export interface UpdateProblemHtmlRequest extends WireCondition {
  problemId: WireInt64
  html: string
}
export interface UpdateProblemColumnRequest extends WireCondition {
  problemId: WireInt64
  column: string
  value: string
}
export interface DeleteProblemRequest extends ProblemIdRequest, WireCondition {}

export interface ListProblemsRequest {
  pageSize: number
  pageToken: string
}
export interface ListProblemsResponse {
  problemIds: WireInt64[]
  nextPageToken: string
}

export interface AddTestCaseRequest {
  problemId: WireInt64
  value: WireValue | null
}
export interface AddTestCaseResponse {
  tcId: WireInt64
}

/** A request naming one test case of one problem. */
export interface TestCaseIdRequest {
  problemId: WireInt64
  tcId: WireInt64
}
/** A request naming one test case of one problem and carrying a value (and, for updates, a condition). */
export interface TestCaseValueRequest extends TestCaseIdRequest, WireCondition {
  value: WireValue | null
}
/** A delete of a test case or of its output. */
export interface ConditionalTestCaseIdRequest extends TestCaseIdRequest, WireCondition {}
export interface ValueResponse {
  value: WireValue | null
  version: WireInt64
}

export interface GetAllTestCasesRequest {
  problemId: WireInt64
  includeOutputs: boolean
  pageSize: number
  pageToken: string
}
export interface WireTestCase {
  tcId: WireInt64
  value: WireValue | null
  expectedOutput?: WireValue | null
  version: WireInt64
  /** "0" when expectedOutput is unset. */
  expectedOutputVersion: WireInt64
}
export interface GetAllTestCasesResponse {
  testCases: WireTestCase[]
  nextPageToken: string
}

export type WireSyncMode = 'SYNC_MODE_UNSPECIFIED' | 'SYNC_MODE_ALWAYS' | 'SYNC_MODE_INTERVAL' | 'SYNC_MODE_NONE'
export type WireStoreStatus =
  | 'STORE_STATUS_UNSPECIFIED'
  | 'STORE_STATUS_OPEN'
  | 'STORE_STATUS_CLOSING'
  | 'STORE_STATUS_CLOSED'
  | 'STORE_STATUS_DISK_FULL'
  | 'STORE_STATUS_FAILED'

export interface WireDiskFullSummary {
  path: string
  bytesNeeded: WireInt64
  sinceUnixMs: WireInt64
}

export interface WireRecoverySummary {
  segmentCount: WireInt64
  recordCount: WireInt64
  bytesScanned: WireInt64
  tornTailBytes: WireInt64
  damagedRecordCount: WireInt64
  damagedRangeCount: WireInt64
  removedTemporaryFileCount: WireInt64
  durationMs: number
  segmentsFromHints: WireInt64
  segmentsScanned: WireInt64
  hintsWritten: WireInt64
  unusableHintCount: WireInt64
}

/** CompactionResult: what one compaction did. */
export interface WireCompactionResult {
  segmentsCompacted: WireInt64
  segmentsWritten: WireInt64
  bytesBefore: WireInt64
  bytesAfter: WireInt64
  /** May be negative ('-56'): the compaction wrote more than it merged. */
  bytesReclaimed: WireInt64
  recordsCopied: WireInt64
  tombstonesKept: WireInt64
  tombstonesDropped: WireInt64
  durationMs: number
}
export interface CompactNowResponse {
  /** Always set by this server; null only from a server that sent no result. */
  result: WireCompactionResult | null
}

export interface WireCompactionSummary {
  running: boolean
  runs: WireInt64
  /** May be negative, as a CompactionResult's may. */
  bytesReclaimed: WireInt64
  failures: WireInt64
  /** Empty when no compaction failed. */
  lastError: string
  /** null when no compaction has finished since the store was opened. */
  last: WireCompactionResult | null
}

export interface GetStatsResponse {
  problemsInIndex: WireInt64
  testCasesInIndex: WireInt64
  expectedOutputsInIndex: WireInt64
  segmentCount: WireInt64
  activeSegmentNumber: WireInt64
  activeSegmentBytes: WireInt64
  diskBytes: WireInt64
  liveBytes: WireInt64
  deadBytes: WireInt64
  indexBytes: WireInt64
  cacheBytes: WireInt64
  cacheHits: WireInt64
  cacheMisses: WireInt64
  syncMode: WireSyncMode
  syncCount: WireInt64
  storeStatus: WireStoreStatus
  lastRecovery: WireRecoverySummary | null
  diskFull?: WireDiskFullSummary | null
  uptimeMs: WireInt64
  compaction: WireCompactionSummary | null
  revision: WireInt64
}

/** The message of the RPCs that take or return no fields. */
export type EmptyMessage = Record<string, never>

/** The oneof member names of `Operation`, the `op` proto-loader reports. */
export type WireOperationKind =
  | 'createProblem'
  | 'updateProblemHtml'
  | 'updateProblemColumn'
  | 'deleteProblem'
  | 'addTestCase'
  | 'updateTestCase'
  | 'deleteTestCase'
  | 'setExpectedOutput'
  | 'updateExpectedOutput'
  | 'deleteExpectedOutput'

export interface WireOperation {
  op?: WireOperationKind
  createProblem?: CreateProblemRequest | null
  updateProblemHtml?: UpdateProblemHtmlRequest | null
  updateProblemColumn?: UpdateProblemColumnRequest | null
  deleteProblem?: DeleteProblemRequest | null
  addTestCase?: AddTestCaseRequest | null
  updateTestCase?: TestCaseValueRequest | null
  deleteTestCase?: ConditionalTestCaseIdRequest | null
  setExpectedOutput?: TestCaseValueRequest | null
  updateExpectedOutput?: TestCaseValueRequest | null
  deleteExpectedOutput?: ConditionalTestCaseIdRequest | null
  /** Position (from 1) of an earlier createProblem standing for problemId; 0 when none. */
  problemRef?: number
  /** Position (from 1) of an earlier addTestCase standing for tcId; 0 when none. */
  tcRef?: number
}

export interface CommitRequest {
  operations: WireOperation[]
}
export interface CommitResponse {
  createdIds: WireInt64[]
  revision: WireInt64
}

export interface WatchRequest {
  /** The first revision to stream; "0": after the current one. */
  fromRevision: WireInt64
  /** Only this problem's changes; "0": all. */
  problemId: WireInt64
  withValues: boolean
  /** 0: the server's default. */
  progressIntervalMs: number
}

export type WireChangeType = 'CHANGE_TYPE_UNSPECIFIED' | 'CHANGE_TYPE_CREATED' | 'CHANGE_TYPE_UPDATED' | 'CHANGE_TYPE_DELETED'

export type WireChangeTarget =
  | 'CHANGE_TARGET_UNSPECIFIED'
  | 'CHANGE_TARGET_PROBLEM'
  | 'CHANGE_TARGET_PROBLEM_TEXT'
  | 'CHANGE_TARGET_PROBLEM_COLUMN'
  | 'CHANGE_TARGET_TEST_CASE'
  | 'CHANGE_TARGET_EXPECTED_OUTPUT'

export interface WireChange {
  revision: WireInt64
  type: WireChangeType
  target: WireChangeTarget
  problemId: WireInt64
  tcId: WireInt64
  column: string
  newValue?: 'problem' | 'html' | 'columnValue' | 'value' | 'superseded'
  problem?: { html: string; columns: WireColumn[] } | null
  html?: string
  columnValue?: string
  value?: WireValue | null
  superseded?: boolean
}

export interface WatchResponse {
  changes: WireChange[]
  progress?: { revision: WireInt64 } | null
}
