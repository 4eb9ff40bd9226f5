/**
 * The TypeScript client of the Stratum server: one method per RPC, native values in and out.
 *
 *   const client = new StratumClient('localhost:50051')
 *   const problemId = await client.createProblem('<p>Add two numbers.</p>', { title: 'A+B' })
 *   const tcId = await client.addTestCase(problemId, int64List([1, 2]))
 *   await client.setExpectedOutput(problemId, tcId, int64(3))
 *   for await (const testCase of client.getAllTestCases(problemId, { includeOutputs: true })) { … }
 *   client.close()
 *
 * Values are the engine's tagged values ({ type: 'int64', value: 3n } …); ids are numbers (every
 * id is below 2^53). Every failure is a StratumClientError with the gRPC status code; a read of an
 * unknown id is NOT_FOUND (where the embedded engine resolves undefined). Each call takes
 * `{ deadlineMs }`, a time limit from the moment of the call; a paged listing applies it to each
 * page. The client depends on the contract only, never on the engine.
 */
import * as grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { protoPath as healthProtoPath } from 'grpc-health-check'
import { lseMethods, type LseMethodDefinition, type LseMethodName } from '../protocol/proto-definition.ts'
import { valueFromWire, WireValueError } from '../protocol/value-wire.ts'
import type { Value } from '../protocol/values.ts'
import type {
  AddTestCaseResponse,
  CommitResponse,
  CompactNowResponse,
  CreateProblemResponse,
  GetAllTestCasesResponse,
  GetProblemHtmlResponse,
  GetProblemMetaResponse,
  GetStatsResponse,
  ListProblemsResponse,
  RevisionResponse,
  ValueResponse,
  VersionResponse,
  WatchResponse,
} from '../protocol/wire-types.ts'
import { ClientBatch } from './client-batch.ts'
import { WatchStream } from './client-watch.ts'
import { watchProgressIntervalMaxMs, watchProgressIntervalMinMs } from '../protocol/watch-events.ts'
import { StratumClientError } from './client-error.ts'
import { columnsOf, condition, id, pageSize, testCaseIds, text, wireValue, type MetaInput } from './wire-arguments.ts'
import { compactionResultFromWire, statsFromWire, type CompactionResult, type ServerStats } from './stats.ts'

export interface CallOptions {
  /** Time limit of the call in ms from now; the server does not start a call whose deadline passed. */
  deadlineMs?: number
}

/** Options of an update or delete: `expectedVersion`, the version its target must be at (FAILED_PRECONDITION otherwise). */
export interface WriteOptions extends CallOptions {
  expectedVersion?: number
}

/** Options of `watch` (see the Watch RPC in proto/lse.proto). */
export interface WatchRequestOptions extends CallOptions {
  /** The first revision to stream (inclusive); omitted, the changes after the current revision. */
  fromRevision?: number
  /** Only this problem's changes. */
  problemId?: number
  /** Include what each write stored. @defaultValue false */
  withValues?: boolean
  /** A progress event after this many ms without a change, 100 to 3,600,000. @defaultValue the server's, 10,000 */
  progressIntervalMs?: number
}

/** A value read with its version (the store's revision at the write that last changed it). */
export interface Versioned<T> {
  value: T
  version: number
}

export interface ClientOptions {
  /** @defaultValue `tls` when given, else plaintext */
  credentials?: grpc.ChannelCredentials
  /**
   * Connect with TLS: `ca` (PEM) verifies the server (the system's CAs when absent); `cert` and
   * `key` (PEM) are the client's certificate, for a server that requires one (mutual TLS).
   */
  tls?: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string }
  /** Sent as "authorization: Bearer <token>" with every call, for a server that checks tokens. */
  token?: string
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions
  /** Deadline of calls that give none. @defaultValue none */
  defaultDeadlineMs?: number
}

export type { MetaInput }

export interface TestCase {
  tcId: number
  value: Value
  /** The expected output, when asked for with `includeOutputs` and one is set. */
  output?: Value
  /** The test case's version, when asked for with `includeVersions`. */
  version?: number
  /** The output's version, when asked for with `includeVersions` and the output is included. */
  outputVersion?: number
}

export interface PageRequest {
  /** Most items in the page: 1 to 100,000. @defaultValue 1,000 */
  pageSize?: number
  /** `nextPageToken` of the previous page; absent for the first. */
  pageToken?: string
}

export interface ProblemPage {
  problemIds: number[]
  /** Absent on the last page. */
  nextPageToken?: string
}

export interface TestCasePage {
  testCases: TestCase[]
  /** Absent on the last page. */
  nextPageToken?: string
}

export interface TestCaseListing extends CallOptions {
  includeOutputs?: boolean
  /** Also give each test case's `version` (and its output's `outputVersion`). */
  includeVersions?: boolean
  pageSize?: number
}

/**
 * Largest response the client accepts: above the server's own send limit (a 16 MiB blob and
 * its framing), with room to spare for a server configured with larger engine limits.
 */
export const clientResponseMaxBytes = 64 * 1024 * 1024

export class StratumClient {
  private readonly grpcClient: grpc.Client
  private readonly methods = lseMethods()
  private readonly defaultDeadlineMs: number | undefined
  private readonly token: string | undefined

  /** `address` is `host:port`, e.g. 'localhost:50051'. Connects lazily, on the first call. */
  constructor(address: string, options: ClientOptions = {}) {
    this.grpcClient = new grpc.Client(address, options.credentials ?? channelCredentials(options.tls), {
      'grpc.max_receive_message_length': clientResponseMaxBytes,
      ...options.channelOptions,
    })
    this.defaultDeadlineMs = options.defaultDeadlineMs
    this.token = options.token
  }

  /** Closes the channel; calls in flight fail with CANCELLED, later calls are refused. */
  close(): void {
    this.grpcClient.close()
  }

  /** Resolves once connected; rejects with UNAVAILABLE past `deadlineMs`. */
  waitForReady(deadlineMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.grpcClient.waitForReady(Date.now() + deadlineMs, (error) => {
        if (error === undefined || error === null) resolve()
        else reject(new StratumClientError('connect', grpc.status.UNAVAILABLE, error.message))
      })
    })
  }

  /**
   * The server's standard health status (grpc.health.v1): 'SERVING' or 'NOT_SERVING' for `service`
   * ('' for the whole server, 'lse.v1.LseService.Writes' for writes, which stop while the disk is
   * full). Needs no token.
   */
  health(service = '', options: CallOptions = {}): Promise<string> {
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs
    const method = healthCheckMethod()
    return new Promise((resolve, reject) => {
      this.grpcClient.makeUnaryRequest<object, object>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { service },
        new grpc.Metadata(),
        deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error !== null) reject(StratumClientError.fromServiceError('Health.Check', error))
          else resolve((response as { status: string }).status)
        },
      )
    })
  }

  // ---------------------------------------------------------------- problems

  async createProblem(html: string, meta?: MetaInput, options?: CallOptions): Promise<number> {
    const request = () => ({ html: text(html, 'html'), columns: columnsOf(meta) })
    const response = await this.call<CreateProblemResponse>('CreateProblem', request, options)
    return Number(response.problemId)
  }

  async getProblemHtml(problemId: number, options?: CallOptions): Promise<string> {
    return (await this.getProblemHtmlVersioned(problemId, options)).value
  }

  /** The problem's text with its version (which covers its text and metadata, not its test cases). */
  async getProblemHtmlVersioned(problemId: number, options?: CallOptions): Promise<Versioned<string>> {
    const response = await this.call<GetProblemHtmlResponse>('GetProblemHtml', () => ({ problemId: id(problemId, 'problemId') }), options)
    return { value: response.html, version: Number(response.version) }
  }

  async getProblemMeta(problemId: number, options?: CallOptions): Promise<Record<string, string>> {
    return (await this.getProblemMetaVersioned(problemId, options)).value
  }

  /** The problem's metadata columns with its version. */
  async getProblemMetaVersioned(problemId: number, options?: CallOptions): Promise<Versioned<Record<string, string>>> {
    const response = await this.call<GetProblemMetaResponse>('GetProblemMeta', () => ({ problemId: id(problemId, 'problemId') }), options)
    return { value: Object.fromEntries(response.columns.map((column) => [column.name, column.value])), version: Number(response.version) }
  }

  /** Resolves to the problem's new version. */
  async updateProblemHtml(problemId: number, html: string, options?: WriteOptions): Promise<number> {
    const request = () => ({ problemId: id(problemId, 'problemId'), html: text(html, 'html'), ...condition(options) })
    return versionOf(await this.call<VersionResponse>('UpdateProblemHtml', request, options))
  }

  /** Resolves to the problem's new version. */
  async updateProblemColumn(problemId: number, column: string, value: string, options?: WriteOptions): Promise<number> {
    const request = () => ({ problemId: id(problemId, 'problemId'), column: text(column, 'column'), value: text(value, 'value'), ...condition(options) })
    return versionOf(await this.call<VersionResponse>('UpdateProblemColumn', request, options))
  }

  /** Resolves to the store's revision at the delete. */
  async deleteProblem(problemId: number, options?: WriteOptions): Promise<number> {
    const response = await this.call<RevisionResponse>('DeleteProblem', () => ({ problemId: id(problemId, 'problemId'), ...condition(options) }), options)
    return Number(response.revision)
  }

  /** Every live problem id, in increasing order, fetched a page at a time. */
  async *listProblems(options: CallOptions & { pageSize?: number } = {}): AsyncGenerator<number, void, undefined> {
    let pageToken: string | undefined
    do {
      const page = await this.listProblemsPage({ pageSize: options.pageSize, pageToken }, options)
      yield* page.problemIds
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
  }

  /** One page of ListProblems. */
  async listProblemsPage(page: PageRequest = {}, options?: CallOptions): Promise<ProblemPage> {
    const request = () => ({ pageSize: pageSize(page.pageSize), pageToken: page.pageToken ?? '' })
    const response = await this.call<ListProblemsResponse>('ListProblems', request, options)
    const problemIds = response.problemIds.map(Number)
    return response.nextPageToken === '' ? { problemIds } : { problemIds, nextPageToken: response.nextPageToken }
  }

  // ---------------------------------------------------------------- test cases

  async addTestCase(problemId: number, value: Value, options?: CallOptions): Promise<number> {
    const request = () => ({ problemId: id(problemId, 'problemId'), value: wireValue(value) })
    const response = await this.call<AddTestCaseResponse>('AddTestCase', request, options)
    return Number(response.tcId)
  }

  async getTestCase(problemId: number, tcId: number, options?: CallOptions): Promise<Value> {
    return (await this.getTestCaseVersioned(problemId, tcId, options)).value
  }

  /** The test case's value with its version (its expected output has one of its own). */
  async getTestCaseVersioned(problemId: number, tcId: number, options?: CallOptions): Promise<Versioned<Value>> {
    const response = await this.call<ValueResponse>('GetTestCase', () => testCaseIds(problemId, tcId), options)
    return { value: this.valueOf(response, 'GetTestCase'), version: Number(response.version) }
  }

  /** Every test case of the problem, in chain order, fetched a page at a time. */
  async *getAllTestCases(problemId: number, options: TestCaseListing = {}): AsyncGenerator<TestCase, void, undefined> {
    let pageToken: string | undefined
    do {
      const page = await this.getAllTestCasesPage(problemId, { ...options, pageToken }, options)
      yield* page.testCases
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
  }

  /** One page of GetAllTestCases. A page may hold fewer than `pageSize` even when more follow. */
  async getAllTestCasesPage(
    problemId: number,
    page: PageRequest & { includeOutputs?: boolean; includeVersions?: boolean } = {},
    options?: CallOptions,
  ): Promise<TestCasePage> {
    const request = () => ({
      problemId: id(problemId, 'problemId'),
      includeOutputs: page.includeOutputs === true,
      pageSize: pageSize(page.pageSize),
      pageToken: page.pageToken ?? '',
    })
    const response = await this.call<GetAllTestCasesResponse>('GetAllTestCases', request, options)
    const testCases = response.testCases.map((wire): TestCase => {
      const testCase: TestCase = { tcId: Number(wire.tcId), value: this.decode(wire.value, 'GetAllTestCases') }
      const hasOutput = wire.expectedOutput !== null && wire.expectedOutput !== undefined
      if (hasOutput) testCase.output = this.decode(wire.expectedOutput ?? null, 'GetAllTestCases')
      if (page.includeVersions === true) {
        testCase.version = Number(wire.version)
        if (hasOutput) testCase.outputVersion = Number(wire.expectedOutputVersion)
      }
      return testCase
    })
    return response.nextPageToken === '' ? { testCases } : { testCases, nextPageToken: response.nextPageToken }
  }

  /** Resolves to the test case's new version. */
  async updateTestCase(problemId: number, tcId: number, value: Value, options?: WriteOptions): Promise<number> {
    const request = () => ({ ...testCaseIds(problemId, tcId), value: wireValue(value), ...condition(options) })
    return versionOf(await this.call<VersionResponse>('UpdateTestCase', request, options))
  }

  /** Resolves to the store's revision at the delete. */
  async deleteTestCase(problemId: number, tcId: number, options?: WriteOptions): Promise<number> {
    const response = await this.call<RevisionResponse>('DeleteTestCase', () => ({ ...testCaseIds(problemId, tcId), ...condition(options) }), options)
    return Number(response.revision)
  }

  // ---------------------------------------------------------------- expected outputs

  /** Resolves to the expected output's version. */
  async setExpectedOutput(problemId: number, tcId: number, value: Value, options?: CallOptions): Promise<number> {
    return versionOf(await this.call<VersionResponse>('SetExpectedOutput', () => ({ ...testCaseIds(problemId, tcId), value: wireValue(value) }), options))
  }

  async getExpectedOutput(problemId: number, tcId: number, options?: CallOptions): Promise<Value> {
    return (await this.getExpectedOutputVersioned(problemId, tcId, options)).value
  }

  /** The expected output with its version. */
  async getExpectedOutputVersioned(problemId: number, tcId: number, options?: CallOptions): Promise<Versioned<Value>> {
    const response = await this.call<ValueResponse>('GetExpectedOutput', () => testCaseIds(problemId, tcId), options)
    return { value: this.valueOf(response, 'GetExpectedOutput'), version: Number(response.version) }
  }

  /** Resolves to the expected output's new version. */
  async updateExpectedOutput(problemId: number, tcId: number, value: Value, options?: WriteOptions): Promise<number> {
    const request = () => ({ ...testCaseIds(problemId, tcId), value: wireValue(value), ...condition(options) })
    return versionOf(await this.call<VersionResponse>('UpdateExpectedOutput', request, options))
  }

  /** Resolves to the store's revision at the delete. */
  async deleteExpectedOutput(problemId: number, tcId: number, options?: WriteOptions): Promise<number> {
    const request = () => ({ ...testCaseIds(problemId, tcId), ...condition(options) })
    return Number((await this.call<RevisionResponse>('DeleteExpectedOutput', request, options)).revision)
  }

  // ---------------------------------------------------------------- admin

  async getStats(options?: CallOptions): Promise<ServerStats> {
    return statsFromWire(await this.call<GetStatsResponse>('GetStats', () => ({}), options))
  }

  async flush(options?: CallOptions): Promise<void> {
    await this.call('Flush', () => ({}), options)
  }

  /**
   * Runs one full compaction on the server and resolves to what it did. It may take a while on a
   * large store: give it a long `deadlineMs` (past the deadline the call fails DEADLINE_EXCEEDED,
   * but the compaction carries on).
   */
  async compactNow(options?: CallOptions): Promise<CompactionResult> {
    const { result } = await this.call<CompactNowResponse>('CompactNow', () => ({}), options)
    // The server always sets it; a response without it is the server's fault, as a bad value is.
    if (result === null || result === undefined) throw new StratumClientError('CompactNow', grpc.status.INTERNAL, 'the response has no result')
    return compactionResultFromWire(result)
  }

  // ---------------------------------------------------------------- batches

  /**
   * Starts an atomic batch (the Commit RPC): add operations, then `commit()`. All are written or
   * none; `createProblem` and `addTestCase` return a ref that later operations take in place of
   * an id, and `commit()` resolves to the ids created, in operation order.
   */
  batch(): ClientBatch {
    return new ClientBatch((operations, options) => this.commit(operations, options))
  }

  private async commit(operations: () => object[], options: CallOptions | undefined): Promise<{ createdIds: number[]; revision: number }> {
    const response = await this.call<CommitResponse>('Commit', () => ({ operations: operations() }), options)
    return { createdIds: response.createdIds.map(Number), revision: Number(response.revision) }
  }

  // ---------------------------------------------------------------- watching

  /**
   * Streams the store's changes (the Watch RPC): an async iterator of one event per acknowledged
   * write, in revision order, from `fromRevision` (inclusive; the last revision seen + 1 to
   * resume, or `resumeFrom` of the stream that ended) or from now (then a progress event with the
   * revision it starts after comes first), of one problem or all, with the values written when
   * asked, and progress events while nothing changes. It fails with
   * OUT_OF_RANGE for a revision the server no longer holds, RESOURCE_EXHAUSTED when it fell too
   * far behind, UNAVAILABLE when the server stops. Leaving the loop cancels the call. It has no
   * deadline unless `deadlineMs` is given.
   */
  watch(options: WatchRequestOptions = {}): WatchStream {
    let request: object
    try {
      request = {
        fromRevision: options.fromRevision === undefined ? '0' : id(options.fromRevision, 'fromRevision'),
        problemId: options.problemId === undefined ? '0' : id(options.problemId, 'problemId'),
        withValues: options.withValues ?? false,
        progressIntervalMs: progressInterval(options.progressIntervalMs),
      }
    } catch (error) {
      if (error instanceof WireValueError) throw new StratumClientError('Watch', grpc.status.INVALID_ARGUMENT, error.message)
      throw error
    }
    const method = this.methods.Watch
    const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs }
    const call = this.grpcClient.makeServerStreamRequest<object, WatchResponse>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize as (bytes: Buffer) => WatchResponse,
      request,
      this.metadata(),
      callOptions,
    )
    return new WatchStream(call, options.fromRevision)
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * Makes one unary call. `buildRequest` runs first, inside the same error handling, so that an
   * argument the wire cannot carry fails as INVALID_ARGUMENT without a call.
   */
  // Per call rather than as call credentials: grpc-js refuses call credentials on a plaintext
  // channel, and a token on loopback without TLS is a setup the server allows.
  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata()
    if (this.token !== undefined) metadata.set('authorization', `Bearer ${this.token}`)
    return metadata
  }

  private call<Response>(name: LseMethodName, buildRequest: () => object, options: CallOptions = {}): Promise<Response> {
    let request: object
    try {
      request = buildRequest()
    } catch (error) {
      if (error instanceof WireValueError) {
        return Promise.reject(new StratumClientError(name, grpc.status.INVALID_ARGUMENT, error.message))
      }
      throw error
    }
    const method: LseMethodDefinition = this.methods[name]
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs
    const callOptions: grpc.CallOptions = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }
    return new Promise((resolve, reject) => {
      this.grpcClient.makeUnaryRequest<object, object>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        callOptions,
        (error, response) => {
          if (error !== null) reject(StratumClientError.fromServiceError(name, error))
          else resolve(response as Response)
        },
      )
    })
  }

  private valueOf(response: ValueResponse, method: string): Value {
    return this.decode(response.value, method)
  }

  /** A value the server sent; one that is not a value is the server's fault (INTERNAL). */
  private decode(wire: ValueResponse['value'], method: string): Value {
    try {
      return valueFromWire(wire, 'the value in the response')
    } catch (error) {
      if (error instanceof WireValueError) throw new StratumClientError(method, grpc.status.INTERNAL, error.message)
      throw error
    }
  }
}

function channelCredentials(tls: ClientOptions['tls']): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure()
  const pem = (value: Buffer | string | undefined): Buffer | null => (value === undefined ? null : Buffer.from(value))
  return grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert))
}

let healthCheck: grpc.MethodDefinition<object, object> | undefined

/** The standard health service's Check method, loaded once from grpc-health-check's proto. */
function healthCheckMethod(): grpc.MethodDefinition<object, object> {
  if (healthCheck === undefined) {
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true })
    healthCheck = (definition['grpc.health.v1.Health'] as grpc.ServiceDefinition)['Check'] as grpc.MethodDefinition<object, object>
  }
  return healthCheck
}

/** The progress_interval_ms field: 0 (the server's default) when not given. */
function progressInterval(progressIntervalMs: number | undefined): number {
  if (progressIntervalMs === undefined) return 0
  if (!Number.isInteger(progressIntervalMs) || progressIntervalMs < watchProgressIntervalMinMs || progressIntervalMs > watchProgressIntervalMaxMs) {
    throw new WireValueError(`progressIntervalMs must be an integer from ${watchProgressIntervalMinMs} to ${watchProgressIntervalMaxMs}, got ${String(progressIntervalMs)}`)
  }
  return progressIntervalMs
}

function versionOf(response: VersionResponse): number {
  return Number(response.version)
}
