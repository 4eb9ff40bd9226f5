/**
 * Behaviour tests of the public Store API: each test is named after one promise of the contract
 * in store.ts (and errors.ts, limits.ts, store-options.ts) and checks the error code and what the
 * message says, not only that something was thrown.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LockedError, StratumError, type ErrorCode } from './errors.ts'
import { gatedFileSystem, withinSeconds } from './testing/gated-file-system.ts'
import { tempStores } from './testing/temp-stores.ts'
import {
  blobMaxBytes,
  columnNameMaxBytes,
  listMaxItems,
  listProblemsDefaultLimit,
  localIdBits,
  mapMaxEntries,
  metaMaxBytes,
  metaMaxColumns,
  pageMaxBytes,
  pageMaxItems,
  recordHeaderBytes,
  shardMax,
  valueMaxBytes,
} from './limits.ts'
import { openStore, type TestCase } from './store.ts'
import type { StoreOptions } from './store-options.ts'
import { double, int64, int64List, string, stringList, stringMap, type Value } from './values.ts'

// ---------------------------------------------------------------- helpers

const { tempDir, open, close: closeStore, forget } = tempStores('stratum-store-test-', { syncMode: 'none' })

/** Asserts that `action` rejects with a StratumError of `code` whose message matches `message`. */
async function rejectsWith(action: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof StratumError, `expected a StratumError, got ${String(error)}`)
    assert.equal(error.code, code, `code of: ${error.message}`)
    assert.match(error.message, message)
    return true
  })
}

/** Values compare with Object.is for doubles and in order for lists and maps. */
function assertSameValue(actual: Value | undefined, expected: Value | undefined): void {
  if (expected === undefined || actual === undefined) {
    assert.equal(actual, expected)
    return
  }
  assert.equal(actual.type, expected.type)
  if (expected.type === 'double') {
    assert.ok(Object.is(actual.value, expected.value), `double ${String(actual.value)} is not ${String(expected.value)}`)
  } else if (expected.type === 'stringMap') {
    assert.deepStrictEqual([...(actual.value as ReadonlyMap<string, string>)], [...expected.value])
  } else {
    assert.deepStrictEqual(actual, expected)
  }
}

function assertSameTestCases(actual: readonly TestCase[], expected: readonly TestCase[]): void {
  assert.deepStrictEqual(
    actual.map((testCase) => Object.keys(testCase).sort()),
    expected.map((testCase) => Object.keys(testCase).sort()),
  )
  for (let index = 0; index < expected.length; index++) {
    assert.equal(actual[index]!.tcId, expected[index]!.tcId)
    assertSameValue(actual[index]!.value, expected[index]!.value)
    assertSameValue(actual[index]!.output, expected[index]!.output)
  }
}

const localIdSpan = 2 ** localIdBits

/** One value of each type, with the edge values each type has. */
const edgeValues: Value[] = [
  int64(-(2n ** 63n)),
  int64(2n ** 63n - 1n),
  int64(0),
  double(Number.NaN),
  double(-0),
  double(Number.POSITIVE_INFINITY),
  double(Number.NEGATIVE_INFINITY),
  double(Number.MIN_VALUE),
  string(''),
  string('nul\u0000inside, astral 😀𝄞, BMP end \uFFFF'),
  int64List([]),
  int64List([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n]),
  stringList([]),
  stringList(['', '\u0000', '😀']),
  stringMap(new Map()),
  stringMap(new Map([['z', '1'], ['__proto__', 'p'], ['', ''], ['a', '\u0000😀']])),
]

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function childExit(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

/**
 * A file system whose segment syncs can be held: while held, each `fdatasync` waits until
 * released, so that a test can keep a group commit in flight (syncMode 'always') for as long as
 * it needs. (Small writes go to the page cache synchronously; the sync is what is awaited.)
 */

// ---------------------------------------------------------------- missing ids

describe('missing ids', () => {
  it('reads of unknown ids resolve to undefined', async () => {
    const store = await open()
    const docId = await store.createProblem('<p>x</p>')
    const tcId = await store.addTestCase(docId, int64(1))
    const neverIssued = tcId + 1000
    const otherShard = localIdSpan + docId
    const largestLocal = localIdSpan - 1
    for (const id of [neverIssued, otherShard, largestLocal, Number.MAX_SAFE_INTEGER]) {
      assert.equal(await store.getProblemHtml(id), undefined)
      assert.equal(await store.getProblemMeta(id), undefined)
      assert.equal(await store.getAllTestCases(id), undefined)
      assert.equal(await store.getTestCase(docId, id), undefined)
      assert.equal(await store.getExpectedOutput(docId, id), undefined)
      assert.equal(await store.getTestCase(id, tcId), undefined)
      assert.equal(await store.getExpectedOutput(id, tcId), undefined)
    }
    // An input node id is not a document id, and a document id is not an input node id.
    assert.equal(await store.getProblemHtml(tcId), undefined)
    assert.equal(await store.getProblemMeta(tcId), undefined)
    assert.equal(await store.getAllTestCases(tcId), undefined)
    assert.equal(await store.getTestCase(docId, docId), undefined)
    // A node that exists but has no output.
    assert.equal(await store.getExpectedOutput(docId, tcId), undefined)
    // Deleted ids.
    await store.deleteTestCase(docId, tcId)
    assert.equal(await store.getTestCase(docId, tcId), undefined)
    await store.deleteProblem(docId)
    assert.equal(await store.getProblemHtml(docId), undefined)
    assert.equal(await store.getAllTestCases(docId), undefined)
  })

  it('a write naming an unknown document fails with NOT_FOUND', async () => {
    const store = await open()
    const liveDoc = await store.createProblem('live')
    const liveTc = await store.addTestCase(liveDoc, int64(1))
    const deletedDoc = await store.createProblem('deleted')
    const deletedDocTc = await store.addTestCase(deletedDoc, int64(2))
    await store.deleteProblem(deletedDoc)
    const unknownIds = [liveTc + 100, deletedDoc, liveTc, localIdSpan + liveDoc]
    for (const id of unknownIds) {
      const notFound = new RegExp(`document ${id} not found`)
      await rejectsWith(store.updateProblemHtml(id, 'x'), 'NOT_FOUND', notFound)
      await rejectsWith(store.updateProblemColumn(id, 'c', 'v'), 'NOT_FOUND', notFound)
      await rejectsWith(store.deleteProblem(id), 'NOT_FOUND', notFound)
      await rejectsWith(store.addTestCase(id, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.updateTestCase(id, liveTc, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.deleteTestCase(id, liveTc), 'NOT_FOUND', notFound)
      await rejectsWith(store.setExpectedOutput(id, liveTc, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.updateExpectedOutput(id, liveTc, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.deleteExpectedOutput(id, liveTc), 'NOT_FOUND', notFound)
    }
    // A node of a deleted document is gone with it.
    await rejectsWith(store.updateTestCase(deletedDoc, deletedDocTc, int64(1)), 'NOT_FOUND', /not found/)
    // Nothing was written by the failed calls.
    const stats = await store.stats()
    assert.equal(stats.documents, 1)
    assert.equal(stats.inputNodes, 1)
    assert.equal(stats.outputNodes, 0)
    assert.deepStrictEqual(await store.getTestCase(liveDoc, liveTc), int64(1))
  })

  it('a write naming an unknown input node fails with NOT_FOUND', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const deletedTc = await store.addTestCase(docId, int64(1))
    await store.deleteTestCase(docId, deletedTc)
    for (const tcId of [deletedTc, deletedTc + 100, docId, localIdSpan + deletedTc]) {
      const notFound = new RegExp(`test case ${tcId} of document ${docId} not found`)
      await rejectsWith(store.updateTestCase(docId, tcId, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.deleteTestCase(docId, tcId), 'NOT_FOUND', notFound)
      await rejectsWith(store.setExpectedOutput(docId, tcId, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.updateExpectedOutput(docId, tcId, int64(1)), 'NOT_FOUND', notFound)
      await rejectsWith(store.deleteExpectedOutput(docId, tcId), 'NOT_FOUND', notFound)
    }
  })

  it('a node named with another document is NOT_FOUND on write and undefined on read', async () => {
    const store = await open()
    const owner = await store.createProblem('owner')
    const stranger = await store.createProblem('stranger')
    const tcId = await store.addTestCase(owner, string('mine'))
    await store.setExpectedOutput(owner, tcId, string('out'))
    assert.equal(await store.getTestCase(stranger, tcId), undefined)
    assert.equal(await store.getExpectedOutput(stranger, tcId), undefined)
    const notFound = new RegExp(`test case ${tcId} of document ${stranger} not found`)
    await rejectsWith(store.updateTestCase(stranger, tcId, int64(1)), 'NOT_FOUND', notFound)
    await rejectsWith(store.deleteTestCase(stranger, tcId), 'NOT_FOUND', notFound)
    await rejectsWith(store.setExpectedOutput(stranger, tcId, int64(1)), 'NOT_FOUND', notFound)
    await rejectsWith(store.updateExpectedOutput(stranger, tcId, int64(1)), 'NOT_FOUND', notFound)
    await rejectsWith(store.deleteExpectedOutput(stranger, tcId), 'NOT_FOUND', notFound)
    // The node is untouched and still belongs to its own document only.
    assert.deepStrictEqual(await store.getTestCase(owner, tcId), string('mine'))
    assert.deepStrictEqual(await store.getExpectedOutput(owner, tcId), string('out'))
    assert.deepStrictEqual(await store.getAllTestCases(stranger), { testCases: [] })
  })
})

// ---------------------------------------------------------------- outputs

describe('expected outputs', () => {
  it('setExpectedOutput twice is ALREADY_EXISTS', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    await store.setExpectedOutput(docId, tcId, double(-0))
    await rejectsWith(
      store.setExpectedOutput(docId, tcId, double(1)),
      'ALREADY_EXISTS',
      new RegExp(`test case ${tcId} of document ${docId} already has an expected output`),
    )
    assertSameValue(await store.getExpectedOutput(docId, tcId), double(-0))
    // Once deleted, it can be set again.
    await store.deleteExpectedOutput(docId, tcId)
    await store.setExpectedOutput(docId, tcId, double(2))
    assertSameValue(await store.getExpectedOutput(docId, tcId), double(2))
    assert.equal((await store.stats()).outputNodes, 1)
  })

  it('updateExpectedOutput and deleteExpectedOutput without an output are NOT_FOUND', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    const noOutput = new RegExp(`test case ${tcId} of document ${docId} has no expected output`)
    await rejectsWith(store.updateExpectedOutput(docId, tcId, int64(2)), 'NOT_FOUND', noOutput)
    await rejectsWith(store.deleteExpectedOutput(docId, tcId), 'NOT_FOUND', noOutput)
    assert.equal(await store.getExpectedOutput(docId, tcId), undefined)
    await store.setExpectedOutput(docId, tcId, int64(3))
    await store.updateExpectedOutput(docId, tcId, int64List([4]))
    assertSameValue(await store.getExpectedOutput(docId, tcId), int64List([4]))
    await store.deleteExpectedOutput(docId, tcId)
    await rejectsWith(store.deleteExpectedOutput(docId, tcId), 'NOT_FOUND', noOutput)
    await rejectsWith(store.updateExpectedOutput(docId, tcId, int64(2)), 'NOT_FOUND', noOutput)
    assert.equal((await store.stats()).outputNodes, 0)
  })

  it('updateTestCase keeps the output', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    await store.setExpectedOutput(docId, tcId, string('kept'))
    await store.updateTestCase(docId, tcId, int64(2))
    assertSameValue(await store.getTestCase(docId, tcId), int64(2))
    assertSameValue(await store.getExpectedOutput(docId, tcId), string('kept'))
  })
})

// ---------------------------------------------------------------- deletes

describe('deletes', () => {
  it('deleteProblem removes its inputs and outputs', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const doomed = await store.createProblem('doomed', { title: 'x' })
    const kept = await store.createProblem('kept')
    const doomedTcs: number[] = []
    for (let index = 0; index < 5; index++) {
      const tcId = await store.addTestCase(doomed, int64(index))
      if (index % 2 === 0) await store.setExpectedOutput(doomed, tcId, int64(index * 10))
      doomedTcs.push(tcId)
    }
    const keptTc = await store.addTestCase(kept, int64(100))
    await store.setExpectedOutput(kept, keptTc, int64(101))
    assert.deepStrictEqual(
      [(await store.stats()).documents, (await store.stats()).inputNodes, (await store.stats()).outputNodes],
      [2, 6, 4],
    )

    await store.deleteProblem(doomed)
    for (let round = 0; round < 2; round++) {
      const stats = await store.stats()
      assert.deepStrictEqual([stats.documents, stats.inputNodes, stats.outputNodes], [1, 1, 1])
      assert.equal(await store.getProblemHtml(doomed), undefined)
      assert.equal(await store.getProblemMeta(doomed), undefined)
      assert.equal(await store.getAllTestCases(doomed), undefined)
      for (const tcId of doomedTcs) {
        assert.equal(await store.getTestCase(doomed, tcId), undefined)
        assert.equal(await store.getExpectedOutput(doomed, tcId), undefined)
        await rejectsWith(store.updateTestCase(doomed, tcId, int64(0)), 'NOT_FOUND', /not found/)
      }
      assert.deepStrictEqual(await store.listProblems(), { ids: [kept] })
      assertSameValue(await store.getExpectedOutput(kept, keptTc), int64(101))
      // The same after a reopen: the tombstone is replayed.
      await closeStore(store)
      store = await open({ dir })
    }
  })

  it('deleteTestCase removes its output and unlinks it from the chain', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const first = await store.addTestCase(docId, int64(1))
    const middle = await store.addTestCase(docId, int64(2))
    const last = await store.addTestCase(docId, int64(3))
    await store.setExpectedOutput(docId, middle, int64(20))
    await store.setExpectedOutput(docId, last, int64(30))
    await store.deleteTestCase(docId, middle)
    assert.equal(await store.getExpectedOutput(docId, middle), undefined)
    assert.equal(await store.getTestCase(docId, middle), undefined)
    await rejectsWith(store.setExpectedOutput(docId, middle, int64(1)), 'NOT_FOUND', /not found/)
    await rejectsWith(store.deleteTestCase(docId, middle), 'NOT_FOUND', /not found/)
    const stats = await store.stats()
    assert.deepStrictEqual([stats.inputNodes, stats.outputNodes], [2, 1])
    const page = await store.getAllTestCases(docId, { includeOutputs: true })
    assertSameTestCases(page!.testCases, [
      { tcId: first, value: int64(1) },
      { tcId: last, value: int64(3), output: int64(30) },
    ])
    // Deleting the ends of the chain leaves it consistent too.
    await store.deleteTestCase(docId, first)
    await store.deleteTestCase(docId, last)
    assert.deepStrictEqual(await store.getAllTestCases(docId), { testCases: [] })
    const appended = await store.addTestCase(docId, int64(4))
    assert.deepStrictEqual((await store.getAllTestCases(docId))!.testCases.map((testCase) => testCase.tcId), [appended])
  })
})

// ---------------------------------------------------------------- paging

describe('paging', () => {
  it('listProblems pages in id order', async () => {
    const store = await open()
    const ids: number[] = []
    for (let index = 0; index < 10; index++) ids.push(await store.createProblem(`doc ${index}`))
    assert.deepStrictEqual(ids, [...ids].sort((left, right) => left - right))
    await store.deleteProblem(ids[3]!)
    await store.deleteProblem(ids[4]!)
    await store.deleteProblem(ids[9]!)
    const live = ids.filter((_, index) => ![3, 4, 9].includes(index))
    assert.deepStrictEqual(await store.listProblems(), { ids: live })

    const pages: number[][] = []
    let afterId: number | undefined
    for (;;) {
      const page = await store.listProblems(afterId === undefined ? { limit: 3 } : { afterId, limit: 3 })
      pages.push(page.ids)
      if (page.nextAfterId === undefined) break
      assert.equal(page.nextAfterId, page.ids[page.ids.length - 1])
      afterId = page.nextAfterId
    }
    assert.deepStrictEqual(pages, [live.slice(0, 3), live.slice(3, 6), live.slice(6)])
    // afterId may be a deleted id, or any id at all.
    assert.deepStrictEqual(await store.listProblems({ afterId: ids[3]! }), { ids: live.slice(3) })
    assert.deepStrictEqual(await store.listProblems({ afterId: ids[9]! }), { ids: [] })
    assert.deepStrictEqual(await store.listProblems({ afterId: ids[9]! + 1000 }), { ids: [] })
    // A page that ends exactly at the last document has no nextAfterId.
    assert.deepStrictEqual(await store.listProblems({ afterId: live[4]!, limit: 2 }), { ids: live.slice(5, 7) })
  })

  it('listProblems returns 1,000 ids a page by default', async () => {
    const store = await open()
    const ids = await Promise.all(Array.from({ length: listProblemsDefaultLimit + 5 }, (_, index) => store.createProblem(`${index}`)))
    ids.sort((left, right) => left - right)
    const first = await store.listProblems()
    assert.deepStrictEqual(first, { ids: ids.slice(0, listProblemsDefaultLimit), nextAfterId: ids[listProblemsDefaultLimit - 1] })
    assert.deepStrictEqual(await store.listProblems({ afterId: first.nextAfterId! }), { ids: ids.slice(listProblemsDefaultLimit) })
  })

  it('getAllTestCases pages in chain order and afterId of a deleted node still works', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const other = await store.createProblem('other')
    const tcIds: number[] = []
    for (let index = 0; index < 8; index++) {
      tcIds.push(await store.addTestCase(docId, int64(index)))
      // Interleave another document's nodes so that the chain's ids are not contiguous.
      await store.addTestCase(other, int64(-index))
    }
    await store.setExpectedOutput(docId, tcIds[1]!, string('one'))
    await store.setExpectedOutput(docId, tcIds[5]!, string('five'))
    await store.deleteTestCase(docId, tcIds[2]!)
    await store.deleteTestCase(docId, tcIds[3]!)
    const liveIndexes = [0, 1, 4, 5, 6, 7]
    const expected = (withOutputs: boolean): TestCase[] =>
      liveIndexes.map((index) => {
        const testCase: TestCase = { tcId: tcIds[index]!, value: int64(index) }
        if (withOutputs && index === 1) testCase.output = string('one')
        if (withOutputs && index === 5) testCase.output = string('five')
        return testCase
      })

    const all = await store.getAllTestCases(docId)
    assert.equal(all!.nextAfterId, undefined)
    assertSameTestCases(all!.testCases, expected(false))

    for (const includeOutputs of [false, true]) {
      const seen: TestCase[] = []
      let afterId: number | undefined
      let pageCount = 0
      for (;;) {
        const page = await store.getAllTestCases(docId, { limit: 4, includeOutputs, ...(afterId === undefined ? {} : { afterId }) })
        seen.push(...page!.testCases)
        pageCount++
        if (page!.nextAfterId === undefined) break
        assert.equal(page!.nextAfterId, page!.testCases[page!.testCases.length - 1]!.tcId)
        afterId = page!.nextAfterId
      }
      assert.equal(pageCount, 2)
      assertSameTestCases(seen, expected(includeOutputs))
    }

    // afterId names a node deleted meanwhile: the page starts after it all the same.
    const firstPage = await store.getAllTestCases(docId, { limit: 2 })
    assert.equal(firstPage!.nextAfterId, tcIds[1])
    await store.deleteTestCase(docId, tcIds[1]!)
    const rest = await store.getAllTestCases(docId, { afterId: firstPage!.nextAfterId! })
    assertSameTestCases(rest!.testCases, expected(false).slice(2))
    // afterId of a node deleted earlier, of another document's node, and of the document itself.
    const live = expected(false).filter((testCase) => testCase.tcId !== tcIds[1])
    assertSameTestCases((await store.getAllTestCases(docId, { afterId: tcIds[2]! }))!.testCases, live.slice(1))
    const otherNodes = (await store.getAllTestCases(other))!.testCases
    assertSameTestCases((await store.getAllTestCases(docId, { afterId: otherNodes[5]!.tcId }))!.testCases, live.slice(3))
    assertSameTestCases((await store.getAllTestCases(docId, { afterId: docId }))!.testCases, live)
    assertSameTestCases((await store.getAllTestCases(docId, { afterId: tcIds[7]! }))!.testCases, [])
  })

  it('a page of large values ends once it holds pageMaxBytes, and the next page goes on from there', async () => {
    const store = await open()
    const docId = await store.createProblem('big values')
    const big = string('x'.repeat(valueMaxBytes - 5)) // the largest value
    const tcIds: number[] = []
    for (let index = 0; index < 10; index++) tcIds.push(await store.addTestCase(docId, big))
    const first = (await store.getAllTestCases(docId))!
    const perPage = Math.ceil(pageMaxBytes / (valueMaxBytes + recordHeaderBytes))
    assert.deepStrictEqual(first.testCases.map((testCase) => testCase.tcId), tcIds.slice(0, perPage))
    assert.equal(first.nextAfterId, tcIds[perPage - 1])
    const second = (await store.getAllTestCases(docId, { afterId: first.nextAfterId! }))!
    assert.deepStrictEqual(second.testCases.map((testCase) => testCase.tcId), tcIds.slice(perPage))
    assert.equal(second.nextAfterId, undefined)
  })

  it('a page limit out of range or a foreign afterId is INVALID_ARGUMENT', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    for (const limit of [0, -1, 1.5, Number.NaN, pageMaxItems + 1]) {
      await rejectsWith(store.listProblems({ limit }), 'INVALID_ARGUMENT', new RegExp(`limit must be an integer from 1 to ${pageMaxItems}`))
    }
    for (const limit of [0, 2.5, pageMaxItems + 1]) {
      await rejectsWith(
        store.getAllTestCases(docId, { limit }),
        'INVALID_ARGUMENT',
        new RegExp(`limit must be an integer from 1 to ${pageMaxItems}, got ${String(limit)}`),
      )
    }
    await rejectsWith(store.listProblems({ afterId: localIdSpan + 1 }), 'INVALID_ARGUMENT', /afterId 4294967297 is of another shard/)
    await rejectsWith(store.getAllTestCases(docId, { afterId: -3 }), 'INVALID_ARGUMENT', /afterId must be a positive integer/)
    await rejectsWith(store.listProblems(null as never), 'INVALID_ARGUMENT', /page options must be an object/)
    // The largest page is allowed.
    assert.deepStrictEqual(await store.listProblems({ limit: pageMaxItems }), { ids: [docId] })
  })
})

// ---------------------------------------------------------------- ids

describe('ids', () => {
  it('ids are never reused after delete and reopen', async () => {
    const dir = tempDir()
    const issued = new Set<number>()
    const note = (id: number): number => {
      assert.ok(!issued.has(id), `id ${id} was issued twice`)
      issued.add(id)
      return id
    }
    let store = await open({ dir })
    for (let round = 0; round < 4; round++) {
      const docId = note(await store.createProblem(`round ${round}`))
      const tcIds: number[] = []
      for (let index = 0; index < 3; index++) tcIds.push(note(await store.addTestCase(docId, int64(index))))
      // Delete the newest ids so that nothing live remembers them, then reopen.
      await store.deleteTestCase(docId, tcIds[2]!)
      if (round % 2 === 1) await store.deleteProblem(docId)
      await closeStore(store)
      store = await open({ dir })
    }
    // The newest id was a deleted node's: the next ids are above it all the same.
    const newest = Math.max(...issued)
    const docId = note(await store.createProblem('last'))
    assert.ok(docId > newest, `${docId} > ${newest}`)
    note(await store.addTestCase(docId, int64(0)))
  })

  it('the index frees a page whose ids are all dead, and it stays freed after reopen', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    // 70,000 nodes fill the index's first pages (4,096 ids each) and start a partly used one.
    const doomed = await store.createProblem('doomed')
    const tcIds = await Promise.all(Array.from({ length: 70_000 }, (_, index) => store.addTestCase(doomed, int64(index))))
    const kept = await store.createProblem('kept')
    const keptTc = await store.addTestCase(kept, int64(-1))
    const full = (await store.stats()).indexBytes
    await store.deleteProblem(doomed)
    const freed = await store.stats()
    assert.ok(freed.indexBytes < full, `deleting every id of a page frees it: ${freed.indexBytes} < ${full} bytes`)
    assert.deepStrictEqual([freed.documents, freed.inputNodes], [1, 1])
    await closeStore(store)
    store = await open({ dir })
    const reopened = await store.stats()
    assert.ok(reopened.indexBytes <= freed.indexBytes, `after reopen the index takes ${reopened.indexBytes} bytes, before ${freed.indexBytes}`)
    // The freed ids stay unknown, and are not issued again.
    assert.equal(await store.getTestCase(doomed, tcIds[100]!), undefined)
    assert.equal(await store.getProblemHtml(doomed), undefined)
    await rejectsWith(store.updateTestCase(doomed, tcIds[100]!, int64(0)), 'NOT_FOUND', /not found/)
    await rejectsWith(store.addTestCase(doomed, int64(0)), 'NOT_FOUND', /not found/)
    assertSameValue(await store.getTestCase(kept, keptTc), int64(-1))
    const fresh = await store.addTestCase(kept, int64(1))
    assert.ok(fresh > keptTc)
    assert.deepStrictEqual((await store.getAllTestCases(kept))!.testCases.map((testCase) => testCase.tcId), [keptTc, fresh])
  })

  it('ids carry the shard, and opening a store as another shard fails with INVALID_ARGUMENT, leaving no file open', async () => {
    const dir = tempDir()
    const shard = shardMax
    let store = await open({ dir, shard, segmentSizeBytes: 4096 })
    const docId = await store.createProblem('sharded')
    const tcId = await store.addTestCase(docId, int64(1))
    assert.ok(Number.isSafeInteger(tcId))
    assert.equal(Math.floor(docId / localIdSpan), shard)
    assert.equal(Math.floor(tcId / localIdSpan), shard)
    // A shard-0 id with the same local part is another store's id.
    assert.equal(await store.getProblemHtml(docId % localIdSpan), undefined)
    // Enough data for several segments, each of which recovery opens.
    for (let index = 0; index < 20; index++) await store.addTestCase(docId, string('x'.repeat(1000)))
    await closeStore(store)
    const openFiles = (): number => readdirSync('/proc/self/fd').length
    const filesBefore = existsSync('/proc/self/fd') ? openFiles() : 0
    for (let attempt = 0; attempt < 3; attempt++) {
      await rejectsWith(openStore({ dir, shard: 1, syncMode: 'none' }), 'INVALID_ARGUMENT', new RegExp(`of shard ${shard}, but it was opened as shard 1`))
    }
    // The failed opens closed every file they opened, and released the lock.
    if (existsSync('/proc/self/fd')) assert.equal(openFiles(), filesBefore, 'descriptors left open by failed opens')
    store = await open({ dir, shard })
    assertSameValue(await store.getTestCase(docId, tcId), int64(1))
  })
})

// ---------------------------------------------------------------- the lock

describe('the lock file', () => {
  it('a second openStore on the same folder fails with LOCKED naming the holder', async () => {
    const dir = tempDir()
    const store = await open({ dir })
    await rejectsWith(openStore({ dir }), 'LOCKED', new RegExp(`is already open in this process \\(pid ${process.pid}\\)`))
    // The failed open did not take the lock away from its holder.
    await store.createProblem('still mine')
    await rejectsWith(openStore({ dir }), 'LOCKED', /already open in this process/)
    await closeStore(store)
    assert.equal(existsSync(join(dir, 'LOCK')), false)
  })

  it('a store held by another process is LOCKED naming that process, until it dies', async () => {
    const dir = tempDir()
    const spawnedAtMs = Date.now()
    const storeModule = new URL('./store.ts', import.meta.url).href
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)})
      const store = await openStore({ dir: ${JSON.stringify(dir)}, syncMode: 'none' })
      await store.createProblem('from the child')
      process.stdout.write('ready\\n')
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve()
        })
        child.once('exit', (code) => reject(new Error(`the child exited early with ${String(code)}`)))
      })
      await rejectsWith(
        openStore({ dir }),
        'LOCKED',
        new RegExp(`is in use by process ${child.pid} on ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      )
      // The holder, for a caller to report: its pid, host, and start time (to the second: the boot
      // time the kernel gives is in whole seconds).
      await assert.rejects(openStore({ dir }), (error: unknown) => {
        assert.ok(error instanceof LockedError)
        assert.equal(error.holder?.pid, child.pid)
        assert.equal(error.holder?.host, hostname())
        const startedAtMs = error.holder?.startedAt?.getTime() ?? NaN
        assert.ok(Math.abs(startedAtMs - spawnedAtMs) < 2_000, `started at ${startedAtMs}, spawned at ${spawnedAtMs}`)
        return true
      })
    } finally {
      child.kill('SIGKILL')
      await childExit(child)
    }
    // The holder was killed: its lock is stale and is taken over, and its acknowledged write is there.
    const store = await open({ dir })
    assert.deepStrictEqual((await store.listProblems()).ids.length, 1)
    assert.equal(await store.getProblemHtml((await store.listProblems()).ids[0]!), 'from the child')
  })

  it('a stale lock from a dead process does not block open', async () => {
    const dir = tempDir()
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await childExit(child)
    const deadPid = child.pid!
    writeFileSync(join(dir, 'LOCK'), `${JSON.stringify({ pid: deadPid, startTime: null, host: hostname() })}\n`)
    const store = await open({ dir })
    const docId = await store.createProblem('after a stale lock')
    assert.equal(await store.getProblemHtml(docId), 'after a stale lock')
    // The lock is ours now.
    await rejectsWith(openStore({ dir }), 'LOCKED', new RegExp(`pid ${process.pid}`))
    await closeStore(store)
  })

  it('a lock file torn by a crash does not block open', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'LOCK'), '{"pid": 12')
    const store = await open({ dir })
    assert.equal(store.status, 'open')
  })
})

// ---------------------------------------------------------------- limits

describe('limits', () => {
  it('every limit gives LIMIT_EXCEEDED naming the limit', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    await store.setExpectedOutput(docId, tcId, int64(2))
    const before = await store.stats()

    // blobMaxBytes counts UTF-8 bytes: 4 bytes a 😀.
    const blobLimit = new RegExp(`blobMaxBytes is ${blobMaxBytes}`)
    await rejectsWith(store.createProblem('x'.repeat(blobMaxBytes + 1)), 'LIMIT_EXCEEDED', blobLimit)
    await rejectsWith(store.createProblem('😀'.repeat(blobMaxBytes / 4 + 1)), 'LIMIT_EXCEEDED', /document text is 16777220 bytes/)
    await rejectsWith(store.updateProblemHtml(docId, 'x'.repeat(blobMaxBytes + 1)), 'LIMIT_EXCEEDED', blobLimit)

    const valueLimit = new RegExp(`valueMaxBytes is ${valueMaxBytes}`)
    const bigValues: Value[] = [
      string('x'.repeat(valueMaxBytes)),
      stringList(['x'.repeat(valueMaxBytes / 2), 'y'.repeat(valueMaxBytes / 2)]),
      int64List(new Array<bigint>(valueMaxBytes / 8).fill(0n)),
      stringMap(new Map([['k', 'v'.repeat(valueMaxBytes)]])),
    ]
    for (const value of bigValues) {
      await rejectsWith(store.addTestCase(docId, value), 'LIMIT_EXCEEDED', valueLimit)
      await rejectsWith(store.updateTestCase(docId, tcId, value), 'LIMIT_EXCEEDED', valueLimit)
      await rejectsWith(store.setExpectedOutput(docId, tcId, value), 'LIMIT_EXCEEDED', valueLimit)
      await rejectsWith(store.updateExpectedOutput(docId, tcId, value), 'LIMIT_EXCEEDED', valueLimit)
    }
    await rejectsWith(store.addTestCase(docId, stringList(new Array<string>(listMaxItems + 1).fill(''))), 'LIMIT_EXCEEDED', new RegExp(`listMaxItems is ${listMaxItems}`))
    const bigMap = new Map<string, string>()
    for (let index = 0; index <= mapMaxEntries; index++) bigMap.set(String(index), '')
    await rejectsWith(store.addTestCase(docId, stringMap(bigMap)), 'LIMIT_EXCEEDED', new RegExp(`mapMaxEntries is ${mapMaxEntries}`))

    const nameLimit = new RegExp(`column name is ${columnNameMaxBytes + 1} bytes; columnNameMaxBytes is ${columnNameMaxBytes}`)
    const longName = 'n'.repeat(columnNameMaxBytes + 1)
    await rejectsWith(store.createProblem('doc', { [longName]: 'v' }), 'LIMIT_EXCEEDED', nameLimit)
    await rejectsWith(store.updateProblemColumn(docId, longName, 'v'), 'LIMIT_EXCEEDED', nameLimit)
    // Bytes, not characters: 65 four-byte characters are 260 bytes.
    await rejectsWith(store.updateProblemColumn(docId, '😀'.repeat(65), 'v'), 'LIMIT_EXCEEDED', /column name is 260 bytes/)

    const bytesLimit = new RegExp(`metaMaxBytes is ${metaMaxBytes}`)
    await rejectsWith(store.createProblem('doc', { big: 'v'.repeat(metaMaxBytes) }), 'LIMIT_EXCEEDED', bytesLimit)
    await rejectsWith(store.updateProblemColumn(docId, 'big', 'v'.repeat(metaMaxBytes)), 'LIMIT_EXCEEDED', bytesLimit)
    // Two columns each under the limit that are over it together.
    await store.updateProblemColumn(docId, 'half', 'v'.repeat(metaMaxBytes / 2))
    await rejectsWith(store.updateProblemColumn(docId, 'other half', 'v'.repeat(metaMaxBytes / 2)), 'LIMIT_EXCEEDED', bytesLimit)
    assert.deepStrictEqual(Object.keys((await store.getProblemMeta(docId))!), ['half'])

    const columnsLimit = new RegExp(`metadata has ${metaMaxColumns + 1} columns; metaMaxColumns is ${metaMaxColumns}`)
    const manyColumns = new Map<string, string>()
    for (let index = 0; index <= metaMaxColumns; index++) manyColumns.set(`c${index}`, '')
    await rejectsWith(store.createProblem('doc', manyColumns), 'LIMIT_EXCEEDED', columnsLimit)
    manyColumns.delete(`c${metaMaxColumns}`)
    const fullDoc = await store.createProblem('full', manyColumns) // exactly metaMaxColumns is fine
    await rejectsWith(store.updateProblemColumn(fullDoc, 'one more', ''), 'LIMIT_EXCEEDED', columnsLimit)
    await store.updateProblemColumn(fullDoc, 'c0', 'replacing a column adds none')
    assert.equal(Object.keys((await store.getProblemMeta(fullDoc))!).length, metaMaxColumns)

    // The limits themselves are allowed.
    await store.updateProblemColumn(docId, 'n'.repeat(columnNameMaxBytes), 'at the limit')
    assertSameValue(await store.getTestCase(docId, await store.addTestCase(docId, string('x'.repeat(valueMaxBytes - 5)))), string('x'.repeat(valueMaxBytes - 5)))

    // None of the refused writes changed anything.
    assertSameValue(await store.getTestCase(docId, tcId), int64(1))
    assertSameValue(await store.getExpectedOutput(docId, tcId), int64(2))
    assert.equal(await store.getProblemHtml(docId), 'doc')
    const after = await store.stats()
    assert.deepStrictEqual([after.documents, after.inputNodes, after.outputNodes], [before.documents + 1, before.inputNodes + 1, before.outputNodes])
  })
})

// ---------------------------------------------------------------- bad arguments

describe('bad arguments', () => {
  it('malformed ids are INVALID_ARGUMENT whatever the store holds', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    const unknownDoc = tcId + 100
    const badIds: unknown[] = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', 1n, null, undefined]
    for (const bad of badIds as number[]) {
      const docMessage = /document id must be a positive integer below 2\^53, got /
      const tcMessage = /test case id must be a positive integer below 2\^53, got /
      await rejectsWith(store.getProblemHtml(bad), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.getProblemMeta(bad), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.getAllTestCases(bad), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.updateProblemHtml(bad, 'x'), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.updateProblemColumn(bad, 'c', 'v'), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.deleteProblem(bad), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.addTestCase(bad, int64(1)), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.getTestCase(bad, tcId), 'INVALID_ARGUMENT', docMessage)
      await rejectsWith(store.getTestCase(docId, bad), 'INVALID_ARGUMENT', tcMessage)
      await rejectsWith(store.getExpectedOutput(docId, bad), 'INVALID_ARGUMENT', tcMessage)
      // A malformed node id is malformed whether or not the document exists.
      for (const doc of [docId, unknownDoc]) {
        await rejectsWith(store.updateTestCase(doc, bad, int64(1)), 'INVALID_ARGUMENT', tcMessage)
        await rejectsWith(store.deleteTestCase(doc, bad), 'INVALID_ARGUMENT', tcMessage)
        await rejectsWith(store.setExpectedOutput(doc, bad, int64(1)), 'INVALID_ARGUMENT', tcMessage)
        await rejectsWith(store.updateExpectedOutput(doc, bad, int64(1)), 'INVALID_ARGUMENT', tcMessage)
        await rejectsWith(store.deleteExpectedOutput(doc, bad), 'INVALID_ARGUMENT', tcMessage)
        await rejectsWith(store.getTestCase(doc, bad), 'INVALID_ARGUMENT', tcMessage)
      }
    }
    await rejectsWith(store.getProblemHtml(-1), 'INVALID_ARGUMENT', /got -1$/)
    await rejectsWith(store.getProblemHtml(1.5), 'INVALID_ARGUMENT', /got 1\.5$/)
  })

  it('malformed values are INVALID_ARGUMENT saying what is wrong', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /a value must be an object \{ type, value \}, got undefined/],
      [42, /a value must be an object \{ type, value \}, got number 42/],
      [{ type: 'int64' }, /a value must be an object/],
      [{ type: 'float', value: 1 }, /unknown value type "float"; expected one of int64, double, string, int64List, stringList, stringMap/],
      [{ type: 'int64', value: 1 }, /an int64 value must be a bigint, got number 1/],
      [{ type: 'int64', value: 2n ** 63n }, /an int64 value 9223372036854775808 is outside the int64 range/],
      [{ type: 'int64', value: -(2n ** 63n) - 1n }, /outside the int64 range/],
      [{ type: 'double', value: 1n }, /a double value must be a number, got bigint 1/],
      [{ type: 'string', value: 7 }, /a string value must be a string, got number 7/],
      [{ type: 'string', value: 'lone \uD800 surrogate' }, /a string value is not well-formed Unicode/],
      [{ type: 'int64List', value: [1n, 2] }, /int64List item 1 must be a bigint, got number 2/],
      [{ type: 'stringList', value: ['a', '\uDFFF'] }, /stringList item 1 is not well-formed Unicode/],
      [{ type: 'stringList', value: 'abc' }, /a stringList value must be an array, got a string of length 3/],
      [{ type: 'stringMap', value: { a: 'b' } }, /a stringMap value must be a Map of string to string, got an object/],
      [{ type: 'stringMap', value: new Map([['a', 1]]) }, /map value of key a must be a string/],
      [{ type: 'stringMap', value: new Map([['\uD800', 'b']]) }, /a map key is not well-formed Unicode/],
    ]
    for (const [bad, message] of cases) {
      const value = bad as Value
      await rejectsWith(store.addTestCase(docId, value), 'INVALID_ARGUMENT', message)
      await rejectsWith(store.updateTestCase(docId, tcId, value), 'INVALID_ARGUMENT', message)
      await rejectsWith(store.setExpectedOutput(docId, tcId, value), 'INVALID_ARGUMENT', message)
      // The value is checked before the ids: malformed even for an unknown document.
      await rejectsWith(store.addTestCase(tcId + 100, value), 'INVALID_ARGUMENT', message)
    }
    await store.setExpectedOutput(docId, tcId, int64(5))
    await rejectsWith(store.updateExpectedOutput(docId, tcId, { type: 'nope', value: 1 } as never), 'INVALID_ARGUMENT', /unknown value type "nope"/)
    assertSameValue(await store.getTestCase(docId, tcId), int64(1))
    assertSameValue(await store.getExpectedOutput(docId, tcId), int64(5))
    assert.equal((await store.stats()).inputNodes, 1)
  })

  it('text and metadata must be well-formed strings', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    await rejectsWith(store.createProblem('lone \uD83D surrogate'), 'INVALID_ARGUMENT', /the document text is not well-formed Unicode \(it holds a lone surrogate\)/)
    await rejectsWith(store.updateProblemHtml(docId, '\uDE00'), 'INVALID_ARGUMENT', /the document text is not well-formed Unicode/)
    await rejectsWith(store.createProblem(42 as never), 'INVALID_ARGUMENT', /the document text must be a string, got number 42/)
    await rejectsWith(store.createProblem('x', ['a', 'b'] as never), 'INVALID_ARGUMENT', /metadata must be an object or a Map of column name to string, got an array/)
    await rejectsWith(store.createProblem('x', 'meta' as never), 'INVALID_ARGUMENT', /metadata must be an object or a Map/)
    await rejectsWith(store.createProblem('x', { title: 3 } as never), 'INVALID_ARGUMENT', /the value of column title must be a string, got number 3/)
    await rejectsWith(store.createProblem('x', { '': 'v' }), 'INVALID_ARGUMENT', /a column name must not be empty/)
    await rejectsWith(store.createProblem('x', new Map([[1, 'v']]) as never), 'INVALID_ARGUMENT', /a column name must be a string, got number 1/)
    await rejectsWith(store.createProblem('x', { 'a\uD800': 'v' }), 'INVALID_ARGUMENT', /a column name is not well-formed Unicode/)
    await rejectsWith(store.updateProblemColumn(docId, '', 'v'), 'INVALID_ARGUMENT', /a column name must not be empty/)
    await rejectsWith(store.updateProblemColumn(docId, 'c', '\uD800'), 'INVALID_ARGUMENT', /the value of column c is not well-formed Unicode/)
    await rejectsWith(store.updateProblemColumn(docId, 'c', null as never), 'INVALID_ARGUMENT', /the value of column c must be a string, got null/)
    assert.deepStrictEqual(await store.listProblems(), { ids: [docId] })
    assert.deepStrictEqual(await store.getProblemMeta(docId), {})
    assert.equal(await store.getProblemHtml(docId), 'doc')
  })

  it('bad options to openStore are INVALID_ARGUMENT, and create nothing', async () => {
    const parent = tempDir()
    const dir = join(parent, 'never-created')
    const cases: Array<[Partial<StoreOptions>, RegExp]> = [
      [{ syncMode: 'sometimes' as never }, /syncMode must be one of always, interval, none, got sometimes/],
      [{ segmentSizeBytes: 10 }, /segmentSizeBytes must be an integer from 4096 to 1073741824, got 10/],
      [{ segmentSizeBytes: 4096.5 }, /segmentSizeBytes must be an integer from 4096/],
      [{ segmentSizeBytes: 2 ** 31 }, /segmentSizeBytes must be an integer from 4096 to 1073741824, got 2147483648/],
      [{ syncIntervalMs: 0 }, /syncIntervalMs must be an integer from 1 to 60000, got 0/],
      [{ syncIntervalMs: '10' as never }, /syncIntervalMs must be an integer from 1 to 60000, got 10/],
      [{ shard: -1 }, new RegExp(`shard must be an integer from 0 to ${shardMax}`)],
      [{ shard: shardMax + 1 }, new RegExp(`shard must be an integer from 0 to ${shardMax}`)],
    ]
    for (const [options, message] of cases) {
      await rejectsWith(openStore({ dir, ...options }), 'INVALID_ARGUMENT', message)
    }
    await rejectsWith(openStore({ dir: '' }), 'INVALID_ARGUMENT', /dir must be a non-empty path/)
    await rejectsWith(openStore({} as never), 'INVALID_ARGUMENT', /dir must be a non-empty path/)
    await rejectsWith(openStore(null as never), 'INVALID_ARGUMENT', /openStore needs an options object \{ dir \}/)
    assert.equal(existsSync(dir), false)
    await rejectsWith(openStore({ dir, createIfMissing: false }), 'NOT_FOUND', /does not exist and createIfMissing is false/)
    assert.equal(existsSync(dir), false)
    assert.deepStrictEqual(readdirSync(parent), [])
  })
})

// ---------------------------------------------------------------- closing

describe('closing', () => {
  it('operations after close() are UNAVAILABLE', async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(1))
    await closeStore(store)
    assert.equal(store.status, 'closed')
    const closed = /the store is closed/
    const calls: Array<() => Promise<unknown>> = [
      () => store.createProblem('x'),
      () => store.getProblemHtml(docId),
      () => store.getProblemMeta(docId),
      () => store.updateProblemHtml(docId, 'x'),
      () => store.updateProblemColumn(docId, 'c', 'v'),
      () => store.deleteProblem(docId),
      () => store.listProblems(),
      () => store.addTestCase(docId, int64(1)),
      () => store.getTestCase(docId, tcId),
      () => store.getAllTestCases(docId),
      () => store.updateTestCase(docId, tcId, int64(2)),
      () => store.deleteTestCase(docId, tcId),
      () => store.setExpectedOutput(docId, tcId, int64(1)),
      () => store.getExpectedOutput(docId, tcId),
      () => store.updateExpectedOutput(docId, tcId, int64(1)),
      () => store.deleteExpectedOutput(docId, tcId),
      () => store.flush(),
    ]
    for (const call of calls) await rejectsWith(call, 'UNAVAILABLE', closed)
    // stats() still answers, and says the store is closed.
    assert.equal((await store.stats()).status, 'closed')
  })

  it('close() is idempotent and finishes the writes in flight', async () => {
    const dir = tempDir()
    let store = await open({ dir, syncMode: 'always' })
    const docId = await store.createProblem('doc')
    const writes = Array.from({ length: 50 }, (_, index) => store.addTestCase(docId, int64(index)))
    const first = store.close()
    assert.equal(store.status, 'closing')
    await rejectsWith(store.addTestCase(docId, int64(99)), 'UNAVAILABLE', /the store is closing/)
    const second = store.close()
    const tcIds = await Promise.all(writes)
    await Promise.all([first, second])
    await store.close()
    forget(store)
    assert.equal(store.status, 'closed')
    assert.equal(existsSync(join(dir, 'LOCK')), false)
    store = await open({ dir })
    const page = await store.getAllTestCases(docId)
    assert.deepStrictEqual(page!.testCases.map((testCase) => testCase.tcId), tcIds)
    assert.deepStrictEqual(page!.testCases.map((testCase) => testCase.value), tcIds.map((_, index) => int64(index)))
  })
})

// ---------------------------------------------------------------- concurrency and syncing

describe('concurrency and syncing', () => {
  it('concurrent writes are all acknowledged and readable, sharing syncs (group commit)', async () => {
    const store = await open({ syncMode: 'always' })
    const docId = await store.createProblem('doc')
    const syncsBefore = (await store.stats()).syncCount
    const count = 200
    const tcIds = await Promise.all(Array.from({ length: count }, (_, index) => store.addTestCase(docId, int64(index))))
    const syncs = (await store.stats()).syncCount - syncsBefore
    assert.ok(syncs >= 1, 'the writes were synced')
    assert.ok(syncs <= count / 10, `${count} concurrent writes took ${syncs} syncs`)
    assert.equal(new Set(tcIds).size, count)
    // Chain order is the order the writes were made in, which is id order.
    const page = await store.getAllTestCases(docId)
    assert.deepStrictEqual(page!.testCases.map((testCase) => testCase.tcId), tcIds)
    assert.deepStrictEqual(page!.testCases.map((testCase) => testCase.value), tcIds.map((_, index) => int64(index)))
    for (const [index, tcId] of tcIds.entries()) assertSameValue(await store.getTestCase(docId, tcId), int64(index))
    assert.equal((await store.stats()).inputNodes, count)

    // Concurrent writes of every kind to many documents.
    const docIds = await Promise.all(Array.from({ length: 20 }, (_, index) => store.createProblem(`doc ${index}`, { n: String(index) })))
    const nodeIds = await Promise.all(docIds.map((id, index) => store.addTestCase(id, string(`in ${index}`))))
    await Promise.all(docIds.map((id, index) => store.setExpectedOutput(id, nodeIds[index]!, string(`out ${index}`))))
    await Promise.all(docIds.map((id, index) => store.updateProblemColumn(id, 'm', String(index * 2))))
    for (const [index, id] of docIds.entries()) {
      assert.deepStrictEqual(await store.getProblemMeta(id), { n: String(index), m: String(index * 2) })
      assertSameValue(await store.getExpectedOutput(id, nodeIds[index]!), string(`out ${index}`))
    }
  })

  it('tells its observer of every sync, timed, and of every group commit with its records', async () => {
    const syncDurationsMs: number[] = []
    const groupCommits: number[] = []
    const warnings: string[] = []
    const store = await open({
      syncMode: 'always',
      onWarning: (message) => warnings.push(message),
      observer: {
        onSync: (durationMs) => syncDurationsMs.push(durationMs),
        onGroupCommit: (records) => {
          groupCommits.push(records)
          // An observer's failure is dropped: the write it observes still succeeds.
          throw new Error('observer bug')
        },
      },
    })
    const docId = await store.createProblem('doc')
    const commitsBefore = groupCommits.length
    const count = 100
    await Promise.all(Array.from({ length: count }, (_, index) => store.addTestCase(docId, int64(index))))
    const stats = await store.stats()
    assert.equal(syncDurationsMs.length, stats.syncCount)
    assert.ok(syncDurationsMs.every((durationMs) => durationMs >= 0))
    // One record a test case; made concurrently, they share commits.
    const commits = groupCommits.slice(commitsBefore)
    assert.equal(commits.reduce((sum, records) => sum + records, 0), count)
    assert.ok(commits.length < count, `${commits.length} commits for ${count} records`)
    assert.equal(warnings.length, groupCommits.length)
    assert.match(warnings[0]!, /observer threw/)
    assert.equal(stats.status, 'open')
  })

  it('a read sees the acknowledged state: none of a write in flight, all of one acknowledged', async () => {
    for (const syncMode of ['always', 'none'] as const) {
      const store = await open({ syncMode })
      const docId = await store.createProblem('doc')
      const tcId = await store.addTestCase(docId, int64(0))
      for (let round = 1; round <= 30; round++) {
        // Called in the same tick as the write: the write cannot be acknowledged yet.
        const write = store.updateTestCase(docId, tcId, int64(round))
        const before = store.getTestCase(docId, tcId)
        // Called as soon as the write's promise resolves: the write must be visible.
        const after = write.then(() => store.getTestCase(docId, tcId))
        assert.deepStrictEqual(await before, int64(round - 1), `round ${round} (${syncMode}): a read saw a write in flight`)
        assert.deepStrictEqual(await after, int64(round), `round ${round} (${syncMode}): a read missed an acknowledged write`)
      }
    }
  })

  it('reads never wait for a sync: while one is held, every read answers with the state before the writes in flight', async () => {
    const gate = gatedFileSystem()
    const store = await open({ fileSystem: gate.fileSystem, syncMode: 'always' })
    const docId = await store.createProblem('v0', { v: '0' })
    const tcId = await store.addTestCase(docId, int64(0))
    await store.setExpectedOutput(docId, tcId, int64(0))
    const reads: Array<[string, () => Promise<unknown>, (round: number) => Promise<unknown>, unknown, unknown]> = [
      ['getProblemHtml', () => store.getProblemHtml(docId), (round) => store.updateProblemHtml(docId, `v${round}`), 'v0', 'v2'],
      ['getProblemMeta', () => store.getProblemMeta(docId), (round) => store.updateProblemColumn(docId, 'v', `${round}`), { v: '0' }, { v: '2' }],
      ['getTestCase', () => store.getTestCase(docId, tcId), (round) => store.updateTestCase(docId, tcId, int64(round)), int64(0), int64(2)],
      [
        'getExpectedOutput',
        () => store.getExpectedOutput(docId, tcId),
        (round) => store.updateExpectedOutput(docId, tcId, int64(round)),
        int64(0),
        int64(2),
      ],
      [
        'getAllTestCases',
        () => store.getAllTestCases(docId, { includeOutputs: true }),
        (round) => store.updateTestCase(docId, tcId, int64(round)),
        { testCases: [{ tcId, value: int64(0), output: int64(0) }] },
        { testCases: [{ tcId, value: int64(2), output: int64(0) }] },
      ],
    ]
    for (const [name, read, write, before, after] of reads) {
      gate.hold()
      const first = write(1) // its group is being written, its sync held
      await gate.whenWaiting(1)
      const second = write(2) // queued behind it, validated against it
      assert.deepStrictEqual(await withinSeconds(read(), 5, name), before, `${name} while the writes are in flight`)
      gate.releaseAll()
      await Promise.all([first, second])
      assert.deepStrictEqual(await read(), after, `${name} once they are acknowledged`)
      // Back to the state the next round starts from.
      await write(0)
      if (name === 'getProblemMeta') await store.updateProblemColumn(docId, 'v', '0')
      if (name === 'getProblemHtml') await store.updateProblemHtml(docId, 'v0')
    }
    // Creations and deletions in flight are not listed, nor taken away, until acknowledged.
    gate.hold()
    const created = store.createProblem('new')
    await gate.whenWaiting(1)
    const deleted = store.deleteProblem(docId)
    assert.deepStrictEqual(await withinSeconds(store.listProblems(), 5, 'listProblems'), { ids: [docId] })
    assert.equal(await withinSeconds(store.getProblemHtml(docId), 5, 'getProblemHtml'), 'v0')
    // Later writes validate against the writes in flight: the document is gone for them already.
    await assert.rejects(store.addTestCase(docId, int64(1)), { code: 'NOT_FOUND' })
    gate.releaseAll()
    const newId = await created
    await deleted
    assert.deepStrictEqual(await store.listProblems(), { ids: [newId] })
    assert.equal(await store.getProblemHtml(docId), undefined)
  })

  it('writes validate against the writes in flight before them', async () => {
    const gate = gatedFileSystem()
    const store = await open({ fileSystem: gate.fileSystem, syncMode: 'always' })
    const docId = await store.createProblem('doc', { a: '1' })
    const tcId = await store.addTestCase(docId, int64(0))
    gate.hold()
    const writes: Array<Promise<unknown>> = [store.setExpectedOutput(docId, tcId, int64(1))]
    await gate.whenWaiting(1)
    // The output set in flight exists for the writes that follow.
    await assert.rejects(store.setExpectedOutput(docId, tcId, int64(2)), { code: 'ALREADY_EXISTS' })
    writes.push(store.updateExpectedOutput(docId, tcId, int64(3)))
    writes.push(store.updateProblemColumn(docId, 'b', '2'))
    // A column set in flight is kept by the next column write, which rewrites the whole map.
    writes.push(store.updateProblemColumn(docId, 'c', '3'))
    const added = store.addTestCase(docId, int64(4))
    writes.push(added)
    writes.push(store.deleteTestCase(docId, tcId))
    await assert.rejects(store.updateTestCase(docId, tcId, int64(5)), { code: 'NOT_FOUND' })
    await assert.rejects(store.deleteExpectedOutput(docId, tcId), { code: 'NOT_FOUND' })
    // Nothing of it is visible yet.
    assert.deepStrictEqual(await store.getProblemMeta(docId), { a: '1' })
    assert.deepStrictEqual(await store.getExpectedOutput(docId, tcId), undefined)
    gate.releaseAll()
    await Promise.all(writes)
    const newTcId = await added
    assert.deepStrictEqual(await store.getProblemMeta(docId), { a: '1', b: '2', c: '3' })
    assert.deepStrictEqual(await store.getAllTestCases(docId), { testCases: [{ tcId: newTcId, value: int64(4) }] })
  })

  it('flush() works in every sync mode', async () => {
    for (const syncMode of ['always', 'interval', 'none'] as const) {
      const dir = tempDir()
      // An interval so long that only flush() can sync in this test.
      let store = await open({ dir, syncMode, syncIntervalMs: 60_000 })
      assert.equal((await store.stats()).syncMode, syncMode)
      await store.flush() // nothing to flush
      const docId = await store.createProblem(`written in ${syncMode} mode`)
      const tcIds = await Promise.all([1, 2, 3].map((item) => store.addTestCase(docId, int64(item))))
      const unflushed = (await store.stats()).syncCount
      if (syncMode === 'always') assert.ok(unflushed >= 1, 'always mode synced the writes itself')
      else assert.equal(unflushed, 0, `${syncMode} mode does not sync a write by itself`)
      await store.flush()
      // In always mode everything was synced already; otherwise flush() syncs once.
      assert.equal((await store.stats()).syncCount, syncMode === 'always' ? unflushed : unflushed + 1)
      // flush() made while a write is in flight waits for it, and syncs it.
      const late = store.addTestCase(docId, int64(4))
      await store.flush()
      assert.equal((await store.stats()).syncCount, syncMode === 'always' ? unflushed + 1 : unflushed + 2)
      tcIds.push(await late)
      await closeStore(store)
      store = await open({ dir })
      assert.equal(await store.getProblemHtml(docId), `written in ${syncMode} mode`)
      assert.deepStrictEqual((await store.getAllTestCases(docId))!.testCases.map((testCase) => testCase.tcId), tcIds)
    }
  })

  it("'interval' mode syncs by itself, and only when there is something to sync", async () => {
    const syncIntervalMs = 20
    const store = await open({ syncMode: 'interval', syncIntervalMs })
    const docId = await store.createProblem('doc')
    await store.addTestCase(docId, int64(1))
    const deadline = Date.now() + 5_000
    while ((await store.stats()).syncCount === 0) {
      assert.ok(Date.now() < deadline, `no sync within 5 s at syncIntervalMs ${syncIntervalMs}`)
      await waitMs(syncIntervalMs)
    }
    // Nothing written since: several more intervals pass without a sync.
    const synced = (await store.stats()).syncCount
    await waitMs(syncIntervalMs * 5)
    assert.equal((await store.stats()).syncCount, synced)
    await store.addTestCase(docId, int64(2))
    const secondDeadline = Date.now() + 5_000
    while ((await store.stats()).syncCount === synced) {
      assert.ok(Date.now() < secondDeadline, 'no second sync within 5 s')
      await waitMs(syncIntervalMs)
    }
  })
})

// ---------------------------------------------------------------- metadata and reopening

describe('metadata and reopening', () => {
  it("metadata is returned as a plain object, a '__proto__' column included", async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const columns = new Map([
      ['__proto__', 'not a prototype'],
      ['constructor', 'c'],
      ['title', 'A+B'],
      ['nul\u0000name', 'astral 😀'],
      ['2', 'an index-like name'],
    ])
    const docId = await store.createProblem('doc', columns)
    // From a plain object with an own '__proto__' property too.
    const fromObject = await store.createProblem('doc', JSON.parse('{"__proto__": "own", "toString": "t"}') as Record<string, string>)
    columns.set('title', 'changed by the caller')
    for (let round = 0; round < 2; round++) {
      const meta = (await store.getProblemMeta(docId))!
      assert.equal(Object.getPrototypeOf(meta), Object.prototype)
      assert.ok(Object.hasOwn(meta, '__proto__'))
      assert.deepStrictEqual(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, 'not a prototype')
      assert.equal(meta.title, 'A+B', "the caller's map was copied")
      assert.deepStrictEqual(
        Object.entries(meta).sort(),
        [
          ['2', 'an index-like name'],
          ['__proto__', 'not a prototype'],
          ['constructor', 'c'],
          ['nul\u0000name', 'astral 😀'],
          ['title', 'A+B'],
        ],
      )
      const other = (await store.getProblemMeta(fromObject))!
      assert.equal(Object.getPrototypeOf(other), Object.prototype)
      assert.deepStrictEqual(Object.entries(other).sort(), [['__proto__', 'own'], ['toString', 't']])
      // The returned object is the caller's: changing it changes nothing stored.
      meta.title = 'scribbled'
      assert.equal((await store.getProblemMeta(docId))!.title, 'A+B')
      await closeStore(store)
      store = await open({ dir })
    }
    await store.updateProblemColumn(docId, '__proto__', 'updated')
    const meta = (await store.getProblemMeta(docId))!
    assert.equal(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, 'updated')
    assert.equal(Object.getPrototypeOf(meta), Object.prototype)
    assert.deepStrictEqual(await store.getProblemMeta(await store.createProblem('no meta')), {})
  })

  it("values are copied: changing a value after writing it, or one read back, changes nothing stored", async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const items = [1n, 2n]
    const map = new Map([['k', 'v']])
    const listWrite = store.addTestCase(docId, { type: 'int64List', value: items })
    items.push(3n) // after the call, before it is acknowledged
    const listId = await listWrite
    const mapId = await store.addTestCase(docId, stringMap(map))
    map.set('k', 'changed')
    const read = (await store.getTestCase(docId, listId)) as { type: 'int64List'; value: bigint[] }
    assert.deepStrictEqual(read, int64List([1n, 2n]))
    read.value.push(99n)
    assert.deepStrictEqual(await store.getTestCase(docId, listId), int64List([1n, 2n]))
    const readMap = (await store.getTestCase(docId, mapId)) as { type: 'stringMap'; value: Map<string, string> }
    readMap.value.set('k', 'scribbled')
    assertSameValue(await store.getTestCase(docId, mapId), stringMap(new Map([['k', 'v']])))
    const page = await store.getAllTestCases(docId)
    ;(page!.testCases[0]!.value.value as bigint[]).length = 0
    assertSameValue((await store.getAllTestCases(docId))!.testCases[0]!.value, int64List([1n, 2n]))
  })

  it('reopening restores everything', async () => {
    const dir = tempDir()
    // Small segments, so that the data spans many of them.
    let store = await open({ dir, segmentSizeBytes: 4096, syncMode: 'always' })
    const bigText = '<p>' + '😀 x\u0000'.repeat(2000) + '</p>'
    const docA = await store.createProblem(bigText, { title: 'A', ['__proto__']: 'p' })
    const docB = await store.createProblem('', {})
    const docC = await store.createProblem('deleted later')
    const expectedA: TestCase[] = []
    for (const [index, value] of edgeValues.entries()) {
      const tcId = await store.addTestCase(docA, value)
      const testCase: TestCase = { tcId, value }
      if (index % 3 !== 0) {
        const output = edgeValues[edgeValues.length - 1 - index]!
        await store.setExpectedOutput(docA, tcId, output)
        testCase.output = output
      }
      expectedA.push(testCase)
    }
    // Overwrites, deletions and an oversized record (bigger than a segment).
    await store.updateTestCase(docA, expectedA[0]!.tcId, string('y'.repeat(10_000)))
    expectedA[0]!.value = string('y'.repeat(10_000))
    await store.updateExpectedOutput(docA, expectedA[1]!.tcId, double(Number.NaN))
    expectedA[1]!.output = double(Number.NaN)
    await store.deleteExpectedOutput(docA, expectedA[2]!.tcId)
    delete expectedA[2]!.output
    await store.deleteTestCase(docA, expectedA[3]!.tcId)
    expectedA.splice(3, 1)
    await store.updateProblemColumn(docA, 'title', 'A, renamed')
    await store.updateProblemHtml(docB, 'B, rewritten')
    const cTc = await store.addTestCase(docC, int64(1))
    await store.setExpectedOutput(docC, cTc, int64(2))
    await store.deleteProblem(docC)
    const bTc = await store.addTestCase(docB, int64List([]))
    let statsBefore = await store.stats()
    assert.ok(statsBefore.segmentCount > 3, `${statsBefore.segmentCount} segments`)
    await closeStore(store)

    for (const syncMode of ['none', 'always'] as const) {
      store = await open({ dir, segmentSizeBytes: 4096, syncMode })
      const stats = await store.stats()
      for (const key of ['documents', 'inputNodes', 'outputNodes', 'segmentCount', 'liveBytes'] as const) {
        assert.equal(stats[key], statsBefore[key], key)
      }
      // Closing appended one syncMark (a record header, no payload) after the last write.
      assert.equal(stats.diskBytes, statsBefore.diskBytes + recordHeaderBytes, 'diskBytes')
      assert.equal(stats.lastRecovery.tornTail, null)
      assert.equal(stats.lastRecovery.damagedRecordCount, 0)
      assert.equal(stats.lastRecovery.damagedRangeCount, 0)
      assert.deepStrictEqual(await store.listProblems(), { ids: [docA, docB] })
      assert.equal(await store.getProblemHtml(docA), bigText)
      assert.equal(await store.getProblemHtml(docB), 'B, rewritten')
      assert.equal(await store.getProblemHtml(docC), undefined)
      assert.equal(await store.getAllTestCases(docC), undefined)
      assert.equal(await store.getTestCase(docC, cTc), undefined)
      assert.deepStrictEqual(await store.getProblemMeta(docA), Object.fromEntries([['title', 'A, renamed'], ['__proto__', 'p']]))
      assert.deepStrictEqual(await store.getProblemMeta(docB), {})
      assertSameTestCases((await store.getAllTestCases(docA, { includeOutputs: true }))!.testCases, expectedA)
      for (const testCase of expectedA) {
        assertSameValue(await store.getTestCase(docA, testCase.tcId), testCase.value)
        assertSameValue(await store.getExpectedOutput(docA, testCase.tcId), testCase.output)
      }
      assertSameTestCases((await store.getAllTestCases(docB, { includeOutputs: true }))!.testCases, [{ tcId: bTc, value: int64List([]) }])
      // Writing goes on where it stopped.
      const newTc = await store.addTestCase(docB, double(-0))
      assert.ok(newTc > bTc)
      await store.deleteTestCase(docB, newTc)
      statsBefore = await store.stats()
      await closeStore(store)
    }
  })
})
