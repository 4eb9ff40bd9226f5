/**
 * Crash points of a compaction: the process is killed (SIGKILL) at every step of a full
 * compaction in turn (see `CompactionStep` in src/engine/compactor.ts): while the worker writes
 * its outputs, once they are written and synced, after the folder sync, after the commit file,
 * after the renames, after the keydir switch-over, after the first and the second input removed,
 * after all of them, and at the end. After each, the store is reopened and must hold exactly
 * what it held before the compaction (no live record lost, no deleted one back), with no leftover
 * file, and issue ids it never issued before; then it compacts cleanly.
 *
 * And failures rather than kills: an I/O error before the commit leaves the store working as it
 * was; one after the commit fails the store closed, and reopening finishes the compaction.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { int64, int64List, openStore, string, stringMap, type Store } from '../src/engine/index.ts'
import type { CompactionStep } from '../src/engine/compactor.ts'
import { nodeFileSystem, type FileSystem } from '../src/engine/file-system.ts'
import { canonicalValue } from './support/canonical-value.ts'
import { makeTempDir } from './support/fixture.ts'
import { repoDir } from './support/run-script.ts'

interface Expected {
  /** Canonical text of every live document with its nodes and outputs. */
  live: string
  deletedDocs: number[]
  deletedNodes: Array<[number, number]>
  /** Nodes whose output was deleted (the node lives). */
  deletedOutputs: Array<[number, number]>
  maxIssuedId: number
}

async function describeStore(store: Store): Promise<string> {
  const lines: string[] = []
  const { ids } = await store.listProblems({ limit: 100_000 })
  for (const docId of ids) {
    lines.push(`doc ${docId} ${JSON.stringify(await store.getProblemHtml(docId))} ${JSON.stringify(await store.getProblemMeta(docId))}`)
    const page = await store.getAllTestCases(docId, { includeOutputs: true })
    for (const testCase of page!.testCases) lines.push(`  tc ${testCase.tcId} ${canonicalValue(testCase.value)} -> ${canonicalValue(testCase.output)}`)
  }
  return lines.join('\n')
}

/**
 * A store spread over many 4 KiB segments, with every kind of garbage: superseded values and
 * metadata, deleted nodes, outputs and documents, whose tombstones and the records they delete
 * lie in different segments.
 */
async function buildStore(dir: string): Promise<Expected> {
  const store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, syncMode: 'none' })
  const docs: Array<{ id: number; nodes: number[] }> = []
  let maxIssuedId = 0
  for (let d = 0; d < 24; d++) {
    const id = await store.createProblem(`<p>document ${d}</p>`.repeat(16), { title: `t${d}`, level: String(d % 3) })
    const nodes: number[] = []
    for (let n = 0; n < 8; n++) {
      const tcId = await store.addTestCase(id, int64List([d, n]))
      await store.setExpectedOutput(id, tcId, int64(d * 100 + n))
      nodes.push(tcId)
      maxIssuedId = Math.max(maxIssuedId, tcId)
    }
    docs.push({ id, nodes })
  }
  const expected: Expected = { live: '', deletedDocs: [], deletedNodes: [], deletedOutputs: [], maxIssuedId }
  for (const [d, { id, nodes }] of docs.entries()) {
    await store.updateTestCase(id, nodes[1]!, string(`updated ${d}`))
    await store.updateProblemColumn(id, 'seen', 'yes')
    await store.deleteTestCase(id, nodes[2]!)
    expected.deletedNodes.push([id, nodes[2]!])
    await store.deleteExpectedOutput(id, nodes[3]!)
    expected.deletedOutputs.push([id, nodes[3]!])
    await store.updateExpectedOutput(id, nodes[4]!, stringMap({ d: String(d) }))
    if (d % 5 === 4) {
      await store.deleteProblem(id)
      expected.deletedDocs.push(id)
    }
  }
  // The newest ids die last, so that their records go with the tombstones a compaction drops:
  // only the watermark can then stop them being issued again.
  const last = docs[docs.length - 1]!
  await store.deleteProblem(last.id)
  expected.deletedDocs.push(last.id)
  expected.live = await describeStore(store)
  await store.close()
  return expected
}

async function checkStore(store: Store, expected: Expected, when: string): Promise<void> {
  assert.equal(await describeStore(store), expected.live, `${when}: live content`)
  for (const docId of expected.deletedDocs) assert.equal(await store.getProblemHtml(docId), undefined, `${when}: deleted document ${docId}`)
  for (const [docId, tcId] of expected.deletedNodes) assert.equal(await store.getTestCase(docId, tcId), undefined, `${when}: deleted node ${tcId}`)
  for (const [docId, tcId] of expected.deletedOutputs) {
    if (expected.deletedDocs.includes(docId)) continue
    assert.notEqual(await store.getTestCase(docId, tcId), undefined, `${when}: node ${tcId}`)
    assert.equal(await store.getExpectedOutput(docId, tcId), undefined, `${when}: deleted output of ${tcId}`)
  }
}

/** Files a finished open must never leave: temporary files, a commit file, hints without segments. */
function leftovers(dir: string): string[] {
  const names = fs.readdirSync(dir)
  const segments = new Set(names.filter((name) => name.endsWith('.seg')).map((name) => name.slice(0, -4)))
  return names.filter(
    (name) => name.endsWith('.tmp') || name.startsWith('compaction.commit') || (name.endsWith('.hint') && !segments.has(name.slice(0, -5))),
  )
}

function runChild(dir: string, step: CompactionStep, occurrence: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoDir, 'test/crash/compaction-child.ts'), JSON.stringify({ dir, step, occurrence })], {
      cwd: repoDir,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stderr }))
  })
}

const killPoints: Array<{ step: CompactionStep; occurrence: number; committed: boolean }> = [
  { step: 'planned', occurrence: 1, committed: false },
  { step: 'outputs-writing', occurrence: 1, committed: false },
  { step: 'outputs-written', occurrence: 1, committed: false },
  { step: 'outputs-synced', occurrence: 1, committed: false },
  { step: 'committed', occurrence: 1, committed: true },
  { step: 'outputs-installed', occurrence: 1, committed: true },
  { step: 'switched', occurrence: 1, committed: true },
  { step: 'input-removed', occurrence: 1, committed: true },
  { step: 'input-removed', occurrence: 2, committed: true },
  { step: 'inputs-removed', occurrence: 1, committed: true },
  { step: 'done', occurrence: 1, committed: false },
]

describe('compaction crash points', () => {
  let work: string
  let pristine: string
  let expected: Expected
  before(async () => {
    work = makeTempDir('compaction-crash')
    pristine = path.join(work, 'pristine')
    expected = await buildStore(pristine)
    assert.ok(fs.readdirSync(pristine).filter((name) => name.endsWith('.seg')).length >= 10, `the store spans many segments: ${fs.readdirSync(pristine).join(" ")}`)
  })
  after(() => fs.rmSync(work, { recursive: true, force: true }))

  for (const { step, occurrence, committed } of killPoints) {
    it(`killed at ${step}${occurrence > 1 ? ` #${occurrence}` : ''}: nothing lost, nothing back, nothing left over`, { timeout: 60_000 }, async () => {
      const dir = path.join(work, `${step}-${occurrence}`)
      fs.cpSync(pristine, dir, { recursive: true })
      const exit = await runChild(dir, step, occurrence)
      assert.equal(exit.signal, 'SIGKILL', `the child was to die at ${step}; it ended with ${exit.code}: ${exit.stderr.slice(-2000)}`)

      let store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0 })
      const recovery = (await store.stats()).lastRecovery
      assert.equal(recovery.finishedCompaction !== null, committed, `a committed compaction is finished by the open, only then`)
      assert.equal(recovery.damagedRecordCount + recovery.damagedRangeCount, 0, 'a kill damages nothing')
      assert.deepEqual(leftovers(dir), [], 'no leftover files')
      await checkStore(store, expected, `after a kill at ${step}`)
      const newId = await store.createProblem('fresh')
      assert.ok(newId > expected.maxIssuedId, `id ${newId} was issued before (up to ${expected.maxIssuedId})`)
      await store.deleteProblem(newId)

      const result = await store.compactNow()
      assert.ok(result.segmentsCompacted > 0)
      await checkStore(store, expected, `compacted again after a kill at ${step}`)
      await store.close()
      assert.deepEqual(leftovers(dir), [])
      store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0 })
      await checkStore(store, expected, `reopened after a kill at ${step}`)
      assert.ok((await store.createProblem('fresher')) > newId, 'ids stay fresh after the ids it issued were compacted away')
      await store.close()
    })
  }

  it('an I/O error before the commit leaves the store working, as it was', async () => {
    const dir = path.join(work, 'fail-before-commit')
    fs.cpSync(pristine, dir, { recursive: true })
    const fileSystem = failingOn((call, args) => call === 'openSync' && String(args[0]).endsWith('compaction.commit.tmp'))
    const store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, fileSystem: fileSystem.fs })
    await assert.rejects(store.compactNow(), /injected/)
    assert.equal(store.status, 'open')
    await checkStore(store, expected, 'after a failed compaction')
    const id = await store.createProblem('still writable')
    assert.equal(await store.getProblemHtml(id), 'still writable')
    const stats = await store.stats()
    assert.equal(stats.compaction.failures, 1)
    assert.match(stats.compaction.lastError ?? '', /injected/)
    fileSystem.disarm()
    const result = await store.compactNow()
    assert.ok(result.bytesReclaimed > 0)
    await store.close()
    assert.deepEqual(leftovers(dir), [])
  })

  it('an I/O error after the commit fails the store closed; reopening finishes the compaction', async () => {
    const dir = path.join(work, 'fail-after-commit')
    fs.cpSync(pristine, dir, { recursive: true })
    const fileSystem = failingOn((call, args) => call === 'unlink' && String(args[0]).endsWith('.hint'))
    let store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, fileSystem: fileSystem.fs })
    await assert.rejects(store.compactNow(), /injected/)
    await assert.rejects(store.createProblem('refused'), (error: Error & { code?: string }) => error.code === 'UNAVAILABLE')
    await store.close()
    fileSystem.disarm()
    store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0 })
    assert.notEqual((await store.stats()).lastRecovery.finishedCompaction, null)
    assert.deepEqual(leftovers(dir), [])
    await checkStore(store, expected, 'after reopening a store failed mid-compaction')
    await store.close()
  })

  it('an I/O error inside the compaction job is IO_ERROR, and the store goes on as it was', async () => {
    const dir = path.join(work, 'io-error-in-job')
    fs.cpSync(pristine, dir, { recursive: true })
    const fileSystem = failingOn((call) => call === 'fdatasyncSync')
    const store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, fileSystem: fileSystem.fs })
    await assert.rejects(store.compactNow(), (error: Error & { code?: string }) => error.code === 'IO_ERROR' && /EIO: injected/.test(error.message))
    assert.deepEqual(leftovers(dir), [], 'the job\'s temporary files are removed')
    fileSystem.disarm()
    await checkStore(store, expected, 'after a failed compaction')
    await store.close()
  })

  it('a bug inside the compaction job (not an I/O error) fails the store closed with INTERNAL; a reopen recovers', async () => {
    const dir = path.join(work, 'bug-in-job')
    fs.cpSync(pristine, dir, { recursive: true })
    // A TypeError from a read of the job: no errno code, so a bug, not the disk.
    const fileSystem = failingOn((call) => call === 'fdatasyncSync', (what) => new TypeError(`injected bug in ${what}`))
    let store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, fileSystem: fileSystem.fs })
    await assert.rejects(store.compactNow(), (error: Error & { code?: string }) => error.code === 'INTERNAL' && /injected bug/.test(error.message))
    await assert.rejects(store.createProblem('refused'), (error: Error & { code?: string }) => error.code === 'INTERNAL')
    await store.close()
    fileSystem.disarm()
    store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0 })
    await checkStore(store, expected, 'after reopening a store stopped by a bug')
    await store.close()
  })

  it('a failed assertion after the commit fails the store closed with INTERNAL; reopening finishes the compaction', async () => {
    const dir = path.join(work, 'assertion-after-commit')
    fs.cpSync(pristine, dir, { recursive: true })
    const fileSystem = failingOn(
      (call, args) => call === 'unlink' && String(args[0]).endsWith('.hint'),
      (what) => new assert.AssertionError({ message: `injected assertion in ${what}` }),
    )
    let store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0, fileSystem: fileSystem.fs })
    await assert.rejects(store.compactNow(), (error: Error & { code?: string }) => error.code === 'INTERNAL' && /injected assertion/.test(error.message))
    await assert.rejects(store.getProblemHtml(1), (error: Error & { code?: string }) => error.code === 'INTERNAL')
    await store.close()
    fileSystem.disarm()
    store = await openStore({ dir, segmentSizeBytes: 4096, compactionIntervalMs: 0 })
    assert.notEqual((await store.stats()).lastRecovery.finishedCompaction, null)
    assert.deepEqual(leftovers(dir), [])
    await checkStore(store, expected, 'after reopening a store stopped by a failed assertion')
    await store.close()
  })
})

/** An I/O error, as the operating system raises it. */
const ioError = (what: string): Error => Object.assign(new Error(`EIO: injected failure of ${what}`), { code: 'EIO' })

/**
 * The node file system, with calls failing while `fails(call, args)` holds and until disarmed,
 * with the error `makeError` makes (an I/O error by default). A store given it runs its
 * compactions in-process, through it.
 */
function failingOn(
  fails: (call: keyof FileSystem, args: unknown[]) => boolean,
  makeError: (what: string) => Error = ioError,
): { fs: FileSystem; disarm: () => void } {
  let armed = true
  const wrapped = {} as Record<string, unknown>
  for (const [name, method] of Object.entries(nodeFileSystem)) {
    wrapped[name] = (...args: unknown[]) => {
      if (armed && fails(name as keyof FileSystem, args)) throw makeError(`${name}(${String(args[0])})`)
      return (method as (...callArgs: unknown[]) => unknown)(...args)
    }
  }
  return { fs: wrapped as unknown as FileSystem, disarm: () => (armed = false) }
}
