/**
 * The behaviour suite's subject over the wire: a real server on a loopback ephemeral port and
 * the TypeScript client.
 */
import { isStratumClientError, StatusCode, type StratumClient } from '../../src/client/index.ts'
import { startTestServer } from '../support/test-server.ts'
import { SubjectError, type StoreSubject, type SubjectBatch, type SubjectFactory } from './subject.ts'

/** gRPC statuses back in the engine's terms (see src/server/status-codes.ts for the mapping). */
function engineCodeOf(code: StatusCode): string {
  switch (code) {
    case StatusCode.RESOURCE_EXHAUSTED:
      return 'LIMIT_EXCEEDED'
    case StatusCode.DATA_LOSS:
      return 'CORRUPTION'
    default:
      return StatusCode[code] ?? `status ${code}`
  }
}

async function clientCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (isStratumClientError(error)) throw new SubjectError(engineCodeOf(error.code), error.details)
    throw error
  }
}

/** A read: NOT_FOUND is the engine's undefined. */
async function clientRead<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await clientCall(call)
  } catch (error) {
    if (error instanceof SubjectError && error.code === 'NOT_FOUND') return undefined
    throw error
  }
}

export const clientFactory: SubjectFactory = {
  name: 'client over gRPC (StratumClient → server)',
  async open(): Promise<StoreSubject> {
    const server = await startTestServer()
    const client = (): StratumClient => server.client
    // The subject's writes resolve to nothing; the client's resolve to versions (tested elsewhere).
    const noResult = (): void => undefined
    return {
      createProblem: (html, meta) => clientCall(() => client().createProblem(html, meta)),
      getProblemHtml: (id) => clientRead(() => client().getProblemHtml(id)),
      getProblemMeta: (id) => clientRead(() => client().getProblemMeta(id)),
      updateProblemHtml: (id, html) => clientCall(() => client().updateProblemHtml(id, html).then(noResult)),
      updateProblemColumn: (id, column, value) => clientCall(() => client().updateProblemColumn(id, column, value).then(noResult)),
      deleteProblem: (id) => clientCall(() => client().deleteProblem(id).then(noResult)),
      listProblemPages: (pageSize) =>
        clientCall(async () => {
          const pages: number[][] = []
          let pageToken: string | undefined
          do {
            const page = await client().listProblemsPage({ pageSize, pageToken })
            pages.push(page.problemIds)
            pageToken = page.nextPageToken
          } while (pageToken !== undefined)
          return pages
        }),
      addTestCase: (id, value) => clientCall(() => client().addTestCase(id, value)),
      getTestCase: (id, tcId) => clientRead(() => client().getTestCase(id, tcId)),
      testCasePages: (id, options = {}) =>
        clientRead(async () => {
          const pages = []
          let pageToken: string | undefined
          do {
            const page = await client().getAllTestCasesPage(id, { ...options, pageToken })
            pages.push(page.testCases)
            pageToken = page.nextPageToken
          } while (pageToken !== undefined)
          return pages
        }),
      updateTestCase: (id, tcId, value) => clientCall(() => client().updateTestCase(id, tcId, value).then(noResult)),
      deleteTestCase: (id, tcId) => clientCall(() => client().deleteTestCase(id, tcId).then(noResult)),
      setExpectedOutput: (id, tcId, value) => clientCall(() => client().setExpectedOutput(id, tcId, value).then(noResult)),
      getExpectedOutput: (id, tcId) => clientRead(() => client().getExpectedOutput(id, tcId)),
      updateExpectedOutput: (id, tcId, value) => clientCall(() => client().updateExpectedOutput(id, tcId, value).then(noResult)),
      deleteExpectedOutput: (id, tcId) => clientCall(() => client().deleteExpectedOutput(id, tcId).then(noResult)),
      batch: (build) =>
        clientCall(() => {
          const batch = client().batch()
          build(batch as unknown as SubjectBatch)
          return batch.commit()
        }),
      counts: async () => {
        const stats = await clientCall(() => client().getStats())
        return { problems: stats.problemsInIndex, testCases: stats.testCasesInIndex, expectedOutputs: stats.expectedOutputsInIndex }
      },
      flush: () => clientCall(() => client().flush()),
      restart: () => server.restart(),
      close: () => server.stop(),
    }
  },
}
