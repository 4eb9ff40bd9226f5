/**
 * Versions and conditional writes: every document, input node and output has the revision of the
 * write that last changed it; the store's revision is its newest acknowledged write; both only
 * grow, across reopens and compactions. A write with `expectedVersion` is refused
 * VERSION_MISMATCH, writing nothing, unless its target is at that version, judged against every
 * write called before it, acknowledged or not.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { StratumError } from './errors.ts'
import { openStore, type Store } from './store.ts'
import { PowerCutFileSystem } from './testing/power-cut-file-system.ts'
import { gatedFileSystem, withinSeconds } from './testing/gated-file-system.ts'
import { tempStores } from './testing/temp-stores.ts'
import { int64, string } from './values.ts'

const { tempDir, open, close } = tempStores('stratum-versions-test-', { syncMode: 'always' })

function isMismatch(current: number, expected: number): (error: unknown) => boolean {
  return (error) =>
    error instanceof StratumError &&
    error.code === 'VERSION_MISMATCH' &&
    error.message.includes(`at version ${current}, not the expected version ${expected}; nothing was written`)
}

/** Every version the store answers for one problem with one test case. */
async function versionsOf(store: Store, docId: number, tcId: number): Promise<unknown> {
  return {
    problem: await store.getProblemVersion(docId),
    testCase: await store.getTestCaseVersion(docId, tcId),
    output: await store.getExpectedOutputVersion(docId, tcId),
  }
}

describe('versions', () => {
  it('are the revision of the write that last changed each thing, and the store revision is the newest', async () => {
    const store = await open()
    const start = store.revision
    const docId = await store.createProblem('<p>v1</p>', { title: 'A' })
    const created = await store.getProblemVersion(docId)
    assert.ok(created !== undefined && created > start)
    assert.equal(store.revision, created)
    const tcId = await store.addTestCase(docId, int64(1))
    const tcVersion = (await store.getTestCaseVersion(docId, tcId))!
    assert.ok(tcVersion > created)
    assert.equal(await store.getExpectedOutputVersion(docId, tcId), undefined)
    // A test case is not the document: its version does not move.
    assert.equal(await store.getProblemVersion(docId), created)

    const outputVersion = await store.setExpectedOutput(docId, tcId, int64(2))
    assert.equal(await store.getExpectedOutputVersion(docId, tcId), outputVersion)
    assert.equal(await store.getTestCaseVersion(docId, tcId), tcVersion, 'the output has a version of its own')

    const htmlVersion = await store.updateProblemHtml(docId, '<p>v2</p>')
    assert.equal(await store.getProblemVersion(docId), htmlVersion)
    const columnVersion = await store.updateProblemColumn(docId, 'title', 'B')
    assert.ok(columnVersion > htmlVersion)
    assert.equal(await store.getProblemVersion(docId), columnVersion)
    const valueVersion = await store.updateTestCase(docId, tcId, string('x'))
    assert.equal(await store.getTestCaseVersion(docId, tcId), valueVersion)
    const newOutputVersion = await store.updateExpectedOutput(docId, tcId, int64(3))
    assert.equal(await store.getExpectedOutputVersion(docId, tcId), newOutputVersion)
    assert.equal(store.revision, newOutputVersion)
    assert.equal((await store.stats()).revision, newOutputVersion)

    const deleted = await store.deleteExpectedOutput(docId, tcId)
    assert.ok(deleted > newOutputVersion)
    assert.equal(await store.getExpectedOutputVersion(docId, tcId), undefined)
    assert.equal(store.revision, deleted)
    await close(store)
  })

  it('survive a reopen and a compaction unchanged, and the revision never goes back', async () => {
    const dir = tempDir()
    const reopen = async (store: Store): Promise<Store> => {
      await close(store)
      return open({ dir })
    }
    let store = await open({ dir })
    const docId = await store.createProblem('<p>kept</p>')
    const tcId = await store.addTestCase(docId, int64(1))
    await store.setExpectedOutput(docId, tcId, int64(2))
    // Dead records for compaction to drop, and a deleted document (its tombstone dropped too).
    for (let round = 0; round < 50; round++) await store.updateProblemColumn(docId, 'round', String(round))
    const gone = await store.createProblem('<p>gone</p>')
    await store.deleteProblem(gone)
    const before = await versionsOf(store, docId, tcId)
    const revision = store.revision
    store = await reopen(store)
    assert.deepEqual(await versionsOf(store, docId, tcId), before)
    assert.equal(store.revision, revision)
    await store.compactNow()
    store = await reopen(store)
    assert.deepEqual(await versionsOf(store, docId, tcId), before)
    assert.ok(store.revision >= revision)
    const next = await store.updateProblemHtml(docId, '<p>after</p>')
    assert.ok(next > revision, 'a revision is never issued twice')
    await close(store)
  })
})

describe('versions after a crash', () => {
  // Two shapes of loss: an edit after a flush (the log then ends with records no syncMark proves),
  // and an edit that opened a new segment (the log then ends with an empty segment, which looks
  // closed: only the LOCK left behind says the store was not).
  for (const [shape, htmlBytes] of [['after a flush', 10], ['in a new segment', 5000]] as const) {
    it(`are never issued again when a cut loses writes that were acknowledged (sync mode interval, ${shape})`, async () => {
      const dir = join(tempDir(), 'store')
      const options = { dir, syncMode: 'interval' as const, syncIntervalMs: 60_000, compactionIntervalMs: 0, segmentSizeBytes: 4096 }
      const fileSystem = new PowerCutFileSystem({ dir, sectorBytes: 512 })
      const store = await openStore({ ...options, fileSystem })
      const docId = await store.createProblem(`<p>${'v'.repeat(htmlBytes)}</p>`)
      await store.flush()
      const lost = await store.updateProblemColumn(docId, 'editor', 'A')
      assert.equal(await store.getProblemVersion(docId), lost)
      fileSystem.cut()
      await store.close().catch(() => undefined)
      fileSystem.materialize(() => 0)
      // A real power cut kills the holder: its LOCK is left behind, naming a process that is gone.
      const lockPath = join(dir, 'LOCK')
      writeFileSync(lockPath, `${JSON.stringify({ ...JSON.parse(readFileSync(lockPath, 'utf8')), pid: 2 ** 22 + 1 })}\n`)
      const reopened = await open(options)
      assert.deepEqual(await reopened.getProblemMeta(docId), {}, 'the unsynced edit was lost')
      assert.ok(reopened.revision >= lost, `the revision (${reopened.revision}) is not below a version once acknowledged (${lost})`)
      const next = await reopened.updateProblemColumn(docId, 'editor', 'B')
      assert.ok(next > lost, `version ${next} after the cut is above the lost ${lost}`)
      // A client that saw the lost edit's version cannot overwrite B's edit with it.
      await assert.rejects(reopened.updateProblemColumn(docId, 'editor', 'C', { expectedVersion: lost }), (error: unknown) => error instanceof StratumError && error.code === 'VERSION_MISMATCH')
      await close(reopened)
    })
  }

  it('resume above the clock in microseconds when the last holder never closed the store, its log however it ends', async () => {
    const dir = tempDir()
    const store = await open({ dir })
    await store.createProblem('<p>x</p>')
    await close(store)
    // The log ends as a close leaves it, but a LOCK naming a process that is gone says the store
    // was not closed: a directory entry lost in a power cut could have taken writes with it.
    writeFileSync(join(dir, 'LOCK'), `${JSON.stringify({ pid: 2 ** 22 + 1, startTime: null, host: hostname() })}\n`)
    const before = Date.now() * 1000
    const reopened = await open({ dir })
    assert.ok(reopened.revision >= before - 1, `revision ${reopened.revision} resumes at the clock (${before} µs)`)
    const jumpedTo = reopened.revision
    await close(reopened)
    // Closed cleanly without a write: the next open, clean, keeps the jump (a syncMark carries it),
    // rather than resume at the highest seq of a record and give again revisions once shown.
    const again = await open({ dir })
    assert.equal(again.revision, jumpedTo)
    const docId = await again.createProblem('<p>y</p>')
    assert.ok((await again.getProblemVersion(docId))! > jumpedTo)
    await close(again)
  })

  it('resume one above the highest after a clean close', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    await store.createProblem('<p>x</p>')
    const revision = store.revision
    await close(store)
    store = await open({ dir })
    assert.equal(store.revision, revision)
    const docId = await store.createProblem('<p>y</p>')
    assert.equal(await store.getProblemVersion(docId), revision + 2, 'a problem takes two sequence numbers, its text and its metadata')
    await close(store)
  })
})

describe('conditional writes', () => {
  it('write when the target is at the expected version, and otherwise fail VERSION_MISMATCH writing nothing', async () => {
    const store = await open()
    const docId = await store.createProblem('<p>v1</p>', { title: 'A' })
    const tcId = await store.addTestCase(docId, int64(1))
    await store.setExpectedOutput(docId, tcId, int64(2))
    const problem = (await store.getProblemVersion(docId))!
    const testCase = (await store.getTestCaseVersion(docId, tcId))!
    const output = (await store.getExpectedOutputVersion(docId, tcId))!
    const revision = store.revision

    const stale = [
      () => store.updateProblemHtml(docId, '<p>lost</p>', { expectedVersion: problem - 1 }),
      () => store.updateProblemColumn(docId, 'title', 'lost', { expectedVersion: problem + 1 }),
      () => store.deleteProblem(docId, { expectedVersion: testCase }),
      () => store.updateTestCase(docId, tcId, int64(9), { expectedVersion: problem }),
      () => store.deleteTestCase(docId, tcId, { expectedVersion: output }),
      () => store.updateExpectedOutput(docId, tcId, int64(9), { expectedVersion: testCase }),
      () => store.deleteExpectedOutput(docId, tcId, { expectedVersion: problem }),
    ]
    const current = [problem, problem, problem, testCase, testCase, output, output]
    const expected = [problem - 1, problem + 1, testCase, problem, output, testCase, problem]
    for (const [index, write] of stale.entries()) {
      await assert.rejects(write(), isMismatch(current[index]!, expected[index]!), `stale write ${index}`)
    }
    assert.equal(store.revision, revision, 'nothing was written')
    assert.equal(await store.getProblemHtml(docId), '<p>v1</p>')
    assert.deepEqual(await store.getProblemMeta(docId), { title: 'A' })
    assert.deepEqual(await store.getTestCase(docId, tcId), int64(1))
    assert.deepEqual(await store.getExpectedOutput(docId, tcId), int64(2))

    // At the expected version, each writes, and the next condition takes the new version.
    const html = await store.updateProblemHtml(docId, '<p>v2</p>', { expectedVersion: problem })
    const column = await store.updateProblemColumn(docId, 'title', 'B', { expectedVersion: html })
    const value = await store.updateTestCase(docId, tcId, int64(5), { expectedVersion: testCase })
    const newOutput = await store.updateExpectedOutput(docId, tcId, int64(6), { expectedVersion: output })
    await store.deleteExpectedOutput(docId, tcId, { expectedVersion: newOutput })
    await store.deleteTestCase(docId, tcId, { expectedVersion: value })
    await store.deleteProblem(docId, { expectedVersion: column })
    assert.equal(await store.getProblemHtml(docId), undefined)
    await close(store)
  })

  it('refuse an expected version that is not a positive integer with INVALID_ARGUMENT', async () => {
    const store = await open()
    const docId = await store.createProblem('<p>x</p>')
    for (const expectedVersion of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      await assert.rejects(store.updateProblemHtml(docId, '<p>y</p>', { expectedVersion }), { code: 'INVALID_ARGUMENT', message: /expectedVersion must be a positive integer/ })
    }
    await close(store)
  })

  it('see the writes called before them, acknowledged or not: of two editors at one version, one wins', async () => {
    const gate = gatedFileSystem()
    const store = await open({ fileSystem: gate.fileSystem })
    const docId = await store.createProblem('<p>v1</p>')
    const version = (await store.getProblemVersion(docId))!
    gate.hold()
    // Both called in one tick, before either is acknowledged.
    const first = store.updateProblemHtml(docId, '<p>first editor</p>', { expectedVersion: version })
    const second = store.updateProblemHtml(docId, '<p>second editor</p>', { expectedVersion: version })
    await withinSeconds(
      assert.rejects(second, (error: unknown) => error instanceof StratumError && error.code === 'VERSION_MISMATCH'),
      5,
      'the stale write is refused at once',
    )
    // The refused write did not wait for the sync; the winner is not yet visible.
    assert.equal(await store.getProblemVersion(docId), version)
    gate.releaseAll()
    const won = await first
    assert.equal(await store.getProblemHtml(docId), '<p>first editor</p>')
    assert.equal(await store.getProblemVersion(docId), won)
    await close(store)
  })

  it('in a batch, are checked against the versions before the batch, and one stale condition refuses it whole', async () => {
    const store = await open()
    const docId = await store.createProblem('<p>v1</p>')
    const version = (await store.getProblemVersion(docId))!
    const revision = store.revision
    const stale = store.batch()
    stale.updateProblemColumn(docId, 'a', '1', { expectedVersion: version })
    stale.updateProblemColumn(docId, 'b', '2', { expectedVersion: version - 1 })
    await assert.rejects(stale.commit(), (error: unknown) => {
      assert.ok(error instanceof StratumError && error.code === 'VERSION_MISMATCH')
      // The current version named is the one before the batch, not one its first operation would have given.
      assert.match(error.message, new RegExp(`^operation 2 of 2 \\(updateProblemColumn\\) of the batch: document ${docId} is at version ${version}, not the expected version ${version - 1}; nothing was written: read it again, then retry$`))
      return true
    })
    assert.equal(store.revision, revision)
    assert.deepEqual(await store.getProblemMeta(docId), {})
    // Several operations on one problem, each conditional on the version read before the batch.
    const batch = store.batch()
    batch.updateProblemColumn(docId, 'a', '1', { expectedVersion: version })
    batch.updateProblemHtml(docId, '<p>v2</p>', { expectedVersion: version })
    await batch.commit()
    assert.deepEqual(await store.getProblemMeta(docId), { a: '1' })
    assert.equal(await store.getProblemVersion(docId), batch.revision)
    await close(store)
  })

})
