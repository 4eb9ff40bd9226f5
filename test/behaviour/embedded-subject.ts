/** The behaviour suite's subject over the embedded engine (`openStore`). */
import fs from 'node:fs'
import { isStratumError, openStore, type Store } from '../../src/engine/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { SubjectError, type StoreSubject, type SubjectBatch, type SubjectFactory } from './subject.ts'

async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (isStratumError(error)) throw new SubjectError(error.code, error.message)
    throw error
  }
}

export const embeddedFactory: SubjectFactory = {
  name: 'embedded engine (openStore)',
  async open(): Promise<StoreSubject> {
    const dir = makeTempDir('behaviour-embedded')
    const open = () => openStore({ dir, syncMode: 'none' })
    // The subject's writes resolve to nothing; the store's resolve to versions (tested elsewhere).
    const noResult = (): void => undefined
    let store: Store = await open()
    return {
      createProblem: (html, meta) => engineCall(() => store.createProblem(html, meta)),
      getProblemHtml: (id) => engineCall(() => store.getProblemHtml(id)),
      getProblemMeta: (id) => engineCall(() => store.getProblemMeta(id)),
      updateProblemHtml: (id, html) => engineCall(() => store.updateProblemHtml(id, html).then(noResult)),
      updateProblemColumn: (id, column, value) => engineCall(() => store.updateProblemColumn(id, column, value).then(noResult)),
      deleteProblem: (id) => engineCall(() => store.deleteProblem(id).then(noResult)),
      listProblemPages: (pageSize) =>
        engineCall(async () => {
          const pages: number[][] = []
          let afterId: number | undefined
          do {
            const page = await store.listProblems(pageSize === undefined ? { afterId } : { afterId, limit: pageSize })
            pages.push(page.ids)
            afterId = page.nextAfterId
          } while (afterId !== undefined)
          return pages
        }),
      addTestCase: (id, value) => engineCall(() => store.addTestCase(id, value)),
      getTestCase: (id, tcId) => engineCall(() => store.getTestCase(id, tcId)),
      testCasePages: (id, options = {}) =>
        engineCall(async () => {
          const pages = []
          let afterId: number | undefined
          do {
            const page = await store.getAllTestCases(id, { includeOutputs: options.includeOutputs, afterId, limit: options.pageSize })
            if (page === undefined) return undefined
            pages.push(page.testCases)
            afterId = page.nextAfterId
          } while (afterId !== undefined)
          return pages
        }),
      updateTestCase: (id, tcId, value) => engineCall(() => store.updateTestCase(id, tcId, value).then(noResult)),
      deleteTestCase: (id, tcId) => engineCall(() => store.deleteTestCase(id, tcId).then(noResult)),
      setExpectedOutput: (id, tcId, value) => engineCall(() => store.setExpectedOutput(id, tcId, value).then(noResult)),
      getExpectedOutput: (id, tcId) => engineCall(() => store.getExpectedOutput(id, tcId)),
      updateExpectedOutput: (id, tcId, value) => engineCall(() => store.updateExpectedOutput(id, tcId, value).then(noResult)),
      deleteExpectedOutput: (id, tcId) => engineCall(() => store.deleteExpectedOutput(id, tcId).then(noResult)),
      batch: (build) =>
        engineCall(() => {
          const batch = store.batch()
          build(batch as unknown as SubjectBatch)
          return batch.commit()
        }),
      counts: async () => {
        const stats = await store.stats()
        return { problems: stats.documents, testCases: stats.inputNodes, expectedOutputs: stats.outputNodes }
      },
      flush: () => engineCall(() => store.flush()),
      async restart() {
        await store.close()
        store = await open()
      },
      async close() {
        await store.close()
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
  },
}
