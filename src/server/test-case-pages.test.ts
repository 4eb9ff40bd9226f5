/** Test-case pages cut by bytes (test-case-pages.ts), on an embedded store with a small budget. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { int64, openStore, string, type Store } from '../engine/index.ts'
import { readTestCasePage } from './test-case-pages.ts'

describe('readTestCasePage', () => {
  let dir: string
  let store: Store
  let problemId: number
  const tcIds: number[] = []

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-pages-'))
    store = await openStore({ dir, syncMode: 'none' })
    problemId = await store.createProblem('pages')
    for (let index = 0; index < 40; index++) {
      // Every fifth test case is large, the others tiny.
      tcIds.push(await store.addTestCase(problemId, index % 5 === 0 ? string('x'.repeat(1000)) : int64(index)))
    }
    await store.setExpectedOutput(problemId, tcIds[1]!, string('y'.repeat(1000)))
  })

  after(async () => {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  async function allPages(pageSizeItems: number, budgetBytes: number, includeOutputs = true): Promise<number[][]> {
    const pages: number[][] = []
    let afterId: number | undefined
    do {
      const page = await readTestCasePage(store, { problemId, afterId, pageSizeItems, includeOutputs, budgetBytes })
      assert.ok(page !== undefined)
      pages.push(page.testCases.map((testCase) => testCase.tcId))
      afterId = page.nextAfterId
    } while (afterId !== undefined)
    return pages
  }

  it('returns whole pages of the size asked when they fit', async () => {
    for (const pageSize of [1, 7, 16, 17, 40, 1000]) {
      const pages = await allPages(pageSize, 1_000_000)
      assert.deepEqual(pages.flat(), tcIds, `page size ${pageSize}`)
      for (const page of pages.slice(0, -1)) assert.equal(page.length, pageSize)
    }
  })

  // Estimated sizes: a tiny test case (an int64) 34 bytes, a large one (a 1000-byte string)
  // 1029, and test case 1 with its 1000-byte output 1046.
  const pageOf = (pages: number[][], tcId: number): number[] => pages.find((page) => page.includes(tcId))!

  it('cuts pages to the byte budget, never below one test case, and loses nothing', async () => {
    const alone = await allPages(1000, 1)
    assert.deepEqual(alone, tcIds.map((tcId) => [tcId]), 'each test case alone when none fits')
    for (const budgetBytes of [500, 1040, 5000]) {
      const pages = await allPages(1000, budgetBytes)
      assert.deepEqual(pages.flat(), tcIds, `budget ${budgetBytes}`)
      assert.ok(pages.length > 1 && pages.length < tcIds.length, `budget ${budgetBytes}: ${pages.length} pages`)
      if (budgetBytes < 1051) {
        for (let index = 0; index < tcIds.length; index += 5) assert.equal(pageOf(pages, tcIds[index]!).length, 1, 'a large test case over budget is alone')
      }
    }
    // All 40 take 8 × 1051 + 32 × 56 + 1012 = 11,212 bytes (22 of each test case its two
    // versions): one page of 12,000 holds them.
    assert.deepEqual(await allPages(1000, 12_000), [tcIds])
    assert.equal((await allPages(1000, 11_000)).length, 2)
  })

  it('counts outputs only when they are asked for', async () => {
    assert.equal(pageOf(await allPages(1000, 1040, true), tcIds[1]!).length, 1, 'with its output, test case 1 is over budget')
    assert.equal(pageOf(await allPages(1000, 1040, false), tcIds[1]!).length, 4, 'without, it shares a page with the next tiny ones')
  })

  it('resolves undefined for an unknown problem', async () => {
    assert.equal(await readTestCasePage(store, { problemId: 999_999, afterId: undefined, pageSizeItems: 10, includeOutputs: false }), undefined)
  })
})
