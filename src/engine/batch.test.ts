/**
 * Atomic batches (batch.ts): all or nothing on validation, in memory and across a cut of the log
 * at any point; ids created in the batch usable by its later operations; the limits.
 */
import assert from 'node:assert/strict'
import { cpSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { StratumError } from './errors.ts'
import { batchMaxBytes, batchMaxOperations, blobMaxBytes, recordHeaderBytes } from './limits.ts'
import type { Store } from './store.ts'
import { gatedFileSystem, withinSeconds } from './testing/gated-file-system.ts'
import { tempStores } from './testing/temp-stores.ts'
import { int64, int64List, string } from './values.ts'

const { tempDir, open, close } = tempStores('stratum-batch-test-', { syncMode: 'always' })

/** Everything the store holds, as one comparable value. */
async function contents(store: Store): Promise<unknown> {
  const { ids } = await store.listProblems({ limit: 100_000 })
  return Promise.all(
    ids.map(async (id) => ({
      id,
      html: await store.getProblemHtml(id),
      meta: await store.getProblemMeta(id),
      testCases: (await store.getAllTestCases(id, { includeOutputs: true }))!.testCases,
    })),
  )
}

describe('atomic batches', () => {
  it('writes a problem with its test cases and outputs, later operations naming ids made earlier', async () => {
    const store = await open()
    const batch = store.batch()
    const doc = batch.createProblem('<p>A+B</p>', { title: 'A+B' })
    const first = batch.addTestCase(doc, int64List([1, 2]))
    batch.setExpectedOutput(doc, first, int64(3))
    const second = batch.addTestCase(doc, int64List([2, 2]))
    batch.setExpectedOutput(doc, second, int64(4)).updateProblemColumn(doc, 'level', 'easy')
    assert.equal(batch.size, 6)
    const ids = await batch.commit()
    assert.equal(ids.length, 3)
    const [docId, tc1, tc2] = ids as [number, number, number]
    assert.ok(docId < tc1 && tc1 < tc2, 'ids are issued in operation order')
    assert.deepStrictEqual(await store.getProblemMeta(docId), { title: 'A+B', level: 'easy' })
    assert.deepStrictEqual(await store.getAllTestCases(docId, { includeOutputs: true }), {
      testCases: [
        { tcId: tc1, value: int64List([1, 2]), output: int64(3) },
        { tcId: tc2, value: int64List([2, 2]), output: int64(4) },
      ],
    })
    // Updates and deletes of what exists, with ids; an empty batch writes nothing.
    const edit = store.batch()
    edit.updateProblemHtml(docId, '<p>A plus B</p>').updateTestCase(docId, tc1, int64List([5, 5])).updateExpectedOutput(docId, tc1, int64(10))
    edit.deleteExpectedOutput(docId, tc2).deleteTestCase(docId, tc2)
    assert.deepStrictEqual(await edit.commit(), [])
    assert.equal(await store.getProblemHtml(docId), '<p>A plus B</p>')
    assert.deepStrictEqual((await store.getAllTestCases(docId, { includeOutputs: true }))!.testCases, [{ tcId: tc1, value: int64List([5, 5]), output: int64(10) }])
    const syncs = (await store.stats()).syncCount
    assert.deepStrictEqual(await store.batch().commit(), [])
    assert.equal((await store.stats()).syncCount, syncs)
    await close(store)
  })

  it('writes nothing when an operation fails validation, naming it and its position', async () => {
    const store = await open()
    const docId = await store.createProblem('kept', { a: '1' })
    const tcId = await store.addTestCase(docId, int64(1))
    const before = await contents(store)
    const statsBefore = await store.stats()
    const cases: Array<[string, (batch: ReturnType<Store['batch']>) => void, string, RegExp]> = [
      ['an unknown document', (batch) => batch.addTestCase(docId + 1000, int64(1)), 'NOT_FOUND', /operation 5 of 5 \(addTestCase\) of the batch: document \d+ not found; nothing was written/],
      ['an output set twice', (batch) => batch.setExpectedOutput(docId, tcId, int64(1)).setExpectedOutput(docId, tcId, int64(2)), 'ALREADY_EXISTS', /operation 6 of 6 \(setExpectedOutput\)/],
      ['a node deleted earlier in the batch', (batch) => batch.deleteTestCase(docId, tcId).updateTestCase(docId, tcId, int64(2)), 'NOT_FOUND', /operation 6 of 6 \(updateTestCase\)/],
      ['a document deleted earlier in the batch', (batch) => { const doc = batch.createProblem('x'); batch.deleteProblem(doc); batch.addTestCase(doc, int64(1)) }, 'NOT_FOUND', /operation 7 of 7 \(addTestCase\)/],
      ['a malformed value', (batch) => batch.addTestCase(docId, { type: 'int64', value: 1.5 } as never), 'INVALID_ARGUMENT', /operation 5 of 5 \(addTestCase\)/],
    ]
    for (const [name, rest, code, message] of cases) {
      const batch = store.batch()
      // Valid operations first: they must not be written either.
      const doc = batch.createProblem('lost', { b: '2' })
      batch.addTestCase(doc, int64(9))
      batch.updateProblemColumn(docId, 'a', 'changed')
      batch.updateProblemHtml(docId, 'changed')
      rest(batch)
      await assert.rejects(batch.commit(), (error: unknown) => {
        assert.ok(error instanceof StratumError, name)
        assert.equal(error.code, code, `${name}: ${error.message}`)
        assert.match(error.message, message, name)
        return true
      })
      // Anything written would be acknowledged by now.
      await store.flush()
      assert.deepStrictEqual(await contents(store), before, `${name}: nothing written`)
    }
    const statsAfter = await store.stats()
    assert.equal(statsAfter.diskBytes, statsBefore.diskBytes, 'not a byte appended')
    await close(store)
  })

  it('refuses ids of another batch, of the wrong kind, and a second commit', async () => {
    const store = await open()
    const one = store.batch()
    const two = store.batch()
    const doc = one.createProblem('x')
    assert.throws(() => two.addTestCase(doc, int64(1)), { code: 'INVALID_ARGUMENT', message: /only in the batch that made it/ })
    const tc = one.addTestCase(doc, int64(1))
    assert.throws(() => one.addTestCase(tc, int64(1)), { code: 'INVALID_ARGUMENT', message: /creates a test case, not a document/ })
    await one.commit()
    await assert.rejects(one.commit(), { code: 'INVALID_ARGUMENT', message: /committed already/ })
    assert.throws(() => one.createProblem('y'), { code: 'INVALID_ARGUMENT', message: /committed already/ })
    await close(store)
  })

  it(`holds at most batchMaxOperations (${batchMaxOperations}) operations and batchMaxBytes (${batchMaxBytes}) bytes`, async () => {
    const store = await open()
    const docId = await store.createProblem('doc')
    const batch = store.batch()
    for (let index = 0; index < batchMaxOperations; index++) batch.updateProblemColumn(docId, 'c', 'v')
    assert.throws(() => batch.updateProblemColumn(docId, 'c', 'v'), { code: 'LIMIT_EXCEEDED', message: /at most 100000 operations \(batchMaxOperations\)/ })
    const big = store.batch()
    const text = 'x'.repeat(blobMaxBytes)
    const count = Math.ceil(batchMaxBytes / blobMaxBytes) + 1
    for (let index = 0; index < count; index++) big.createProblem(text)
    await assert.rejects(big.commit(), { code: 'LIMIT_EXCEEDED', message: /more than 67108864 bytes \(batchMaxBytes\).*nothing was written/ })
    assert.deepStrictEqual((await store.listProblems()).ids, [docId])
    await close(store)
  })

  it('is invisible to readers until acknowledged, and later writes validate against it', async () => {
    const gate = gatedFileSystem()
    const store = await open({ fileSystem: gate.fileSystem })
    const docId = await store.createProblem('doc')
    gate.hold()
    const batch = store.batch()
    const tc = batch.addTestCase(docId, int64(1))
    batch.setExpectedOutput(docId, tc, int64(2)).deleteProblem(docId)
    const committed = batch.commit()
    await gate.whenWaiting(1)
    assert.deepStrictEqual(await withinSeconds(store.getAllTestCases(docId), 5, 'a read'), { testCases: [] })
    await assert.rejects(store.updateProblemHtml(docId, 'late'), { code: 'NOT_FOUND' })
    gate.releaseAll()
    await committed
    assert.equal(await store.getProblemHtml(docId), undefined)
    await close(store)
  })

  it('is whole or absent after the log is cut at any byte inside it', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const keptId = await store.createProblem('kept')
    await close(store)
    const segment = readdirSync(dir).find((name) => name.endsWith('.seg'))!
    const path = join(dir, segment)
    // Opening again appends nothing (the log ends with a syncMark): the batch goes right after.
    store = await open({ dir })
    const startBytes = (await store.stats()).activeSegmentBytes
    const batch = store.batch()
    const doc = batch.createProblem('batched', { k: 'v' })
    for (let index = 0; index < 5; index++) batch.setExpectedOutput(doc, batch.addTestCase(doc, string(`input ${index}`)), int64(index))
    await batch.commit()
    const endBytes = (await store.stats()).activeSegmentBytes
    await close(store)
    const whole = statSync(path).size
    // Cut at each record boundary inside the batch, and inside records, then reopen.
    const cuts = new Set<number>()
    for (let cut = startBytes + 1; cut < endBytes; cut += Math.max(1, Math.floor(recordHeaderBytes / 3))) cuts.add(cut)
    for (const cut of [...cuts].sort((left, right) => left - right)) {
      const copy = tempDir()
      cpSync(dir, copy, { recursive: true })
      rmSync(join(copy, 'LOCK'), { force: true })
      for (const name of readdirSync(copy)) if (name.endsWith('.hint')) rmSync(join(copy, name))
      truncateSync(join(copy, segment), cut)
      const reopened = await open({ dir: copy })
      const ids = (await reopened.listProblems()).ids
      assert.deepStrictEqual(ids, [keptId], `cut at ${cut} of ${whole} bytes: the batch must be absent, whole`)
      await close(reopened)
    }
    // And uncut, all of it is there.
    store = await open({ dir })
    const [, batchedId] = (await store.listProblems()).ids
    assert.equal((await store.getAllTestCases(batchedId!, { includeOutputs: true }))!.testCases.length, 5)
    await close(store)
  })
})
