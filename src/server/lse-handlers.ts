/**
 * The RPCs of LseService over an open store: decode the request, call the engine, encode the
 * response. Nothing else lives here: errors become statuses in unary-call.ts, and the engine
 * validates every value, name and limit itself.
 *
 * Reads of unknown ids resolve to undefined in the engine; here they are NOT_FOUND, with a
 * message naming the ids.
 */
import type { Store } from '../engine/index.ts'
import type { LseMethodName } from '../protocol/proto-definition.ts'
import { valueFromWire, valueToWire } from '../protocol/value-wire.ts'
import type {
  AddTestCaseRequest,
  AddTestCaseResponse,
  CommitRequest,
  CommitResponse,
  CompactNowResponse,
  ConditionalTestCaseIdRequest,
  DeleteProblemRequest,
  RevisionResponse,
  VersionResponse,
  CreateProblemRequest,
  CreateProblemResponse,
  EmptyMessage,
  GetAllTestCasesRequest,
  GetAllTestCasesResponse,
  GetProblemHtmlResponse,
  GetProblemMetaResponse,
  GetStatsResponse,
  ListProblemsRequest,
  ListProblemsResponse,
  ProblemIdRequest,
  TestCaseIdRequest,
  TestCaseValueRequest,
  UpdateProblemColumnRequest,
  UpdateProblemHtmlRequest,
  ValueResponse,
  WireColumn,
} from '../protocol/wire-types.ts'
import { CallError, invalidArgument, notFound } from './call-error.ts'
import { afterIdOfProblemToken, afterIdOfTestCaseToken, problemPageToken, testCasePageToken } from './page-tokens.ts'
import { batchOfCommit } from './commit-operations.ts'
import { columnsOf, expectedVersionOf, idOf, pageSizeOf } from './request-fields.ts'
import { compactionResultToWire, statsResponse } from './stats-response.ts'
import { readTestCasePage } from './test-case-pages.ts'

/** Items of a page when the request leaves page_size 0. */
export const defaultPageSizeItems = 1000

type Handler<Request, Response> = (request: Request) => Promise<Response>

export interface LseHandlers extends Record<LseMethodName, Handler<never, object>> {
  CreateProblem: Handler<CreateProblemRequest, CreateProblemResponse>
  GetProblemHtml: Handler<ProblemIdRequest, GetProblemHtmlResponse>
  GetProblemMeta: Handler<ProblemIdRequest, GetProblemMetaResponse>
  UpdateProblemHtml: Handler<UpdateProblemHtmlRequest, VersionResponse>
  UpdateProblemColumn: Handler<UpdateProblemColumnRequest, VersionResponse>
  DeleteProblem: Handler<DeleteProblemRequest, RevisionResponse>
  ListProblems: Handler<ListProblemsRequest, ListProblemsResponse>
  AddTestCase: Handler<AddTestCaseRequest, AddTestCaseResponse>
  GetTestCase: Handler<TestCaseIdRequest, ValueResponse>
  GetAllTestCases: Handler<GetAllTestCasesRequest, GetAllTestCasesResponse>
  UpdateTestCase: Handler<TestCaseValueRequest, VersionResponse>
  DeleteTestCase: Handler<ConditionalTestCaseIdRequest, RevisionResponse>
  SetExpectedOutput: Handler<TestCaseValueRequest, VersionResponse>
  GetExpectedOutput: Handler<TestCaseIdRequest, ValueResponse>
  UpdateExpectedOutput: Handler<TestCaseValueRequest, VersionResponse>
  DeleteExpectedOutput: Handler<ConditionalTestCaseIdRequest, RevisionResponse>
  GetStats: Handler<EmptyMessage, GetStatsResponse>
  Flush: Handler<EmptyMessage, EmptyMessage>
  CompactNow: Handler<EmptyMessage, CompactNowResponse>
  Commit: Handler<CommitRequest, CommitResponse>
}

export function createLseHandlers(store: Store, startedAtMs: number): LseHandlers {
  const problemIdOf = (request: { problemId: string }): number => idOf(request.problemId, 'problem_id')
  const tcIdOf = (request: { tcId: string }): number => idOf(request.tcId, 'tc_id')

  return {
    async CreateProblem(request) {
      const problemId = await store.createProblem(request.html, columnsOf(request.columns))
      return { problemId: String(problemId) }
    },

    // Reads and their versions: both taken in one tick (the engine reads synchronously), so the
    // version is the one of what is returned.
    async GetProblemHtml(request) {
      const problemId = problemIdOf(request)
      const [html, version] = await Promise.all([store.getProblemHtml(problemId), store.getProblemVersion(problemId)])
      if (html === undefined) throw problemNotFound(problemId)
      return { html, version: String(version) }
    },

    async GetProblemMeta(request) {
      const problemId = problemIdOf(request)
      const [meta, version] = await Promise.all([store.getProblemMeta(problemId), store.getProblemVersion(problemId)])
      if (meta === undefined) throw problemNotFound(problemId)
      return { columns: Object.entries(meta).map(([name, value]) => ({ name, value })), version: String(version) }
    },

    async UpdateProblemHtml(request) {
      return versionResponse(await store.updateProblemHtml(problemIdOf(request), request.html, expectedVersionOf(request)))
    },

    async UpdateProblemColumn(request) {
      return versionResponse(await store.updateProblemColumn(problemIdOf(request), request.column, request.value, expectedVersionOf(request)))
    },

    async DeleteProblem(request) {
      return revisionResponse(await store.deleteProblem(problemIdOf(request), expectedVersionOf(request)))
    },

    async ListProblems(request) {
      const limit = pageSizeOf(request.pageSize, defaultPageSizeItems)
      const afterId = afterIdOfProblemToken(request.pageToken)
      const page = await store.listProblems(afterId === undefined ? { limit } : { afterId, limit })
      return {
        problemIds: page.ids.map(String),
        nextPageToken: page.nextAfterId === undefined ? '' : problemPageToken(page.nextAfterId),
      }
    },

    async AddTestCase(request) {
      const problemId = problemIdOf(request)
      const tcId = await store.addTestCase(problemId, valueFromWire(request.value, 'value'))
      return { tcId: String(tcId) }
    },

    async GetTestCase(request) {
      const problemId = problemIdOf(request)
      const tcId = tcIdOf(request)
      const [value, version] = await Promise.all([store.getTestCase(problemId, tcId), store.getTestCaseVersion(problemId, tcId)])
      if (value === undefined) throw notFound(`test case ${tcId} of problem ${problemId} not found`)
      return { value: valueToWire(value), version: String(version) }
    },

    async GetAllTestCases(request) {
      const problemId = problemIdOf(request)
      const pageSizeItems = pageSizeOf(request.pageSize, defaultPageSizeItems)
      const afterId = afterIdOfTestCaseToken(request.pageToken, problemId)
      const page = await readTestCasePage(store, { problemId, afterId, pageSizeItems, includeOutputs: request.includeOutputs })
      if (page === undefined) throw problemNotFound(problemId)
      return {
        testCases: page.testCases.map((testCase) => ({
          tcId: String(testCase.tcId),
          value: valueToWire(testCase.value),
          expectedOutput: testCase.output === undefined ? null : valueToWire(testCase.output),
          version: String(testCase.version ?? 0),
          expectedOutputVersion: String(testCase.outputVersion ?? 0),
        })),
        nextPageToken: page.nextAfterId === undefined ? '' : testCasePageToken(problemId, page.nextAfterId),
      }
    },

    async UpdateTestCase(request) {
      return versionResponse(await store.updateTestCase(problemIdOf(request), tcIdOf(request), valueFromWire(request.value, 'value'), expectedVersionOf(request)))
    },

    async DeleteTestCase(request) {
      return revisionResponse(await store.deleteTestCase(problemIdOf(request), tcIdOf(request), expectedVersionOf(request)))
    },

    async SetExpectedOutput(request) {
      return versionResponse(await store.setExpectedOutput(problemIdOf(request), tcIdOf(request), valueFromWire(request.value, 'value')))
    },

    async GetExpectedOutput(request) {
      const problemId = problemIdOf(request)
      const tcId = tcIdOf(request)
      const [value, version] = await Promise.all([store.getExpectedOutput(problemId, tcId), store.getExpectedOutputVersion(problemId, tcId)])
      if (value === undefined) {
        throw notFound(`test case ${tcId} of problem ${problemId} not found, or it has no expected output`)
      }
      return { value: valueToWire(value), version: String(version) }
    },

    async UpdateExpectedOutput(request) {
      return versionResponse(
        await store.updateExpectedOutput(problemIdOf(request), tcIdOf(request), valueFromWire(request.value, 'value'), expectedVersionOf(request)),
      )
    },

    async DeleteExpectedOutput(request) {
      return revisionResponse(await store.deleteExpectedOutput(problemIdOf(request), tcIdOf(request), expectedVersionOf(request)))
    },

    async GetStats() {
      return statsResponse(await store.stats(), Date.now() - startedAtMs)
    },

    async Flush() {
      await store.flush()
      return {}
    },

    async CompactNow() {
      // Errors (the store closing, a failed write) become statuses like any call's, in unary-call.ts.
      return { result: compactionResultToWire(await store.compactNow()) }
    },

    async Commit(request) {
      const batch = batchOfCommit(store, request)
      const createdIds = await batch.commit()
      return { createdIds: createdIds.map(String), revision: String(batch.revision) }
    },
  }
}

function versionResponse(version: number): VersionResponse {
  return { version: String(version) }
}

function revisionResponse(revision: number): RevisionResponse {
  return { revision: String(revision) }
}

function problemNotFound(problemId: number): CallError {
  return notFound(`problem ${problemId} not found`)
}
