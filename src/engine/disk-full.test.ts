/**
 * A full disk: writes fail fast with DISK_FULL (naming the file and the bytes needed) before
 * anything is queued, reads go on, the status says so once per change, and writes resume by
 * themselves once there is room, with nothing lost or duplicated. The volume is simulated
 * (CapacityFileSystem: ENOSPC past a capacity, with short writes, as a real disk does);
 * test/disk-full.test.ts does the same on a real tmpfs through the server.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { isStratumError } from './errors.ts'
import { openStore, type Store } from './store.ts'
import { CapacityFileSystem } from './testing/capacity-file-system.ts'
import { int64List, string } from './values.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-disk-full-'))
  folders.push(dir)
  return dir
}

interface Written {
  docId: number
  tcIds: number[]
  values: string[]
}

/** Adds nodes of `sizeBytes`-ish string values until one is refused; returns the refusal. */
async function fillUntilRefused(store: Store, written: Written, label: string, limit = 10_000): Promise<Error & { code?: string }> {
  // Bounded: the volume is small.
  for (let index = 0; index < limit; index++) {
    const value = `${label} ${index} ${'v'.repeat(700)}`
    try {
      written.tcIds.push(await store.addTestCase(written.docId, string(value)))
      written.values.push(value)
    } catch (error) {
      return error as Error & { code?: string }
    }
  }
  assert.fail(`${limit} writes fitted`)
}

async function assertAllThere(store: Store, written: Written, context: string): Promise<void> {
  const page = await store.getAllTestCases(written.docId, { limit: 100_000 })
  assert.ok(page !== undefined, context)
  assert.deepEqual(
    page.testCases.map((testCase) => testCase.value.value),
    written.values,
    `${context}: every acknowledged node, in order, each once`,
  )
}

describe('disk full', () => {
  it('refuses writes with DISK_FULL and serves reads; writes resume by themselves once there is room', async () => {
    const dir = newDir()
    const fileSystem = new CapacityFileSystem(dir, 256 * 1024)
    const warnings: string[] = []
    const statuses: string[] = []
    // One segment, larger than the volume: no seal or hint frees or takes space behind the test's back.
    const store = await openStore({
      dir,
      fileSystem,
      segmentSizeBytes: 1024 * 1024,
      compactionIntervalMs: 0,
      onWarning: (message) => warnings.push(message),
      onStatusChange: (status) => statuses.push(status),
    })
    const written: Written = { docId: await store.createProblem('doc'), tcIds: [], values: [] }
    const refusal = await fillUntilRefused(store, written, 'first')
    assert.ok(isStratumError(refusal), `a StratumError, not ${String(refusal)}`)
    assert.equal(refusal.code, 'DISK_FULL')
    assert.match(refusal.message, /^disk full: .*\.seg(\.tmp)? needs \d+ more bytes; free space/)
    // Every segment stays within the volume: the zeros ahead shrank to what fitted.
    assert.ok(fileSystem.usedBytes() <= fileSystem.capacityBytes)
    assert.ok(fileSystem.capacityBytes - fileSystem.usedBytes() < 2 * 1024, `the disk was used up to ${fileSystem.usedBytes()} of ${fileSystem.capacityBytes} bytes`)

    assert.equal(store.status, 'disk-full')
    const stats = await store.stats()
    assert.equal(stats.status, 'disk-full')
    assert.ok(stats.diskFull !== null && stats.diskFull.bytesNeeded > 0)
    // Reads go on, writes of every kind are refused the same way, and nothing is logged again.
    await assertAllThere(store, written, 'while the disk is full')
    assert.equal(await store.getProblemHtml(written.docId), 'doc')
    await assert.rejects(store.createProblem('refused'.repeat(200)), { code: 'DISK_FULL' })
    await assert.rejects(store.updateProblemHtml(written.docId, 'refused'.repeat(200)), { code: 'DISK_FULL' })
    await assert.rejects(store.addTestCase(written.docId, int64List(Array.from({ length: 200 }, (_, index) => index))), { code: 'DISK_FULL' })
    assert.deepEqual(warnings, ['the disk is full: writes are refused until it has room again; reads go on'])
    assert.deepEqual(statuses, ['disk-full'])

    // Room again: the next write goes through, with no reopen.
    fileSystem.capacityBytes += 128 * 1024
    const more = await fillUntilRefused(store, written, 'second')
    assert.equal(more.code, 'DISK_FULL')
    assert.deepEqual(statuses, ['disk-full', 'open', 'disk-full'])
    assert.equal(warnings.filter((warning) => warning.startsWith('the disk has room again')).length, 1)
    await assertAllThere(store, written, 'after resuming')
    fileSystem.capacityBytes += 64 * 1024
    await store.close()

    // Everything acknowledged is there, once; nothing refused is.
    const reopened = await openStore({ dir })
    await assertAllThere(reopened, written, 'after a reopen')
    assert.deepEqual((await reopened.listProblems()).ids, [written.docId])
    await reopened.close()
  })

  it('a write made by a status callback comes after the write that triggered it', async () => {
    const dir = newDir()
    const fileSystem = new CapacityFileSystem(dir, 256 * 1024)
    let store: Store | undefined
    const fromCallback: Array<Promise<number>> = []
    store = await openStore({
      dir,
      fileSystem,
      segmentSizeBytes: 1024 * 1024,
      compactionIntervalMs: 0,
      onWarning: () => undefined,
      // A write as soon as the disk has room again, to the same chain as the write that found it.
      onStatusChange: (status) => {
        if (status === 'open') fromCallback.push(store!.addTestCase(written.docId, string('from the callback')))
      },
    })
    const written: Written = { docId: await store.createProblem('doc'), tcIds: [], values: [] }
    assert.equal((await fillUntilRefused(store, written, 'fill')).code, 'DISK_FULL')
    fileSystem.capacityBytes += 64 * 1024
    const first = await store.addTestCase(written.docId, string('found room'))
    assert.equal(fromCallback.length, 1, 'the callback ran once')
    const second = await fromCallback[0]!
    assert.ok(first < second, `the write that found room (${first}) before the callback's (${second})`)
    assert.equal(store.status, 'open')
    const chain = (await store.getAllTestCases(written.docId, { limit: 100_000 }))!.testCases.map((testCase) => testCase.tcId)
    assert.deepEqual(chain.slice(-2), [first, second])
    await store.close()
  })

  it('opens a store on a full disk, and serves it', async () => {
    const dir = newDir()
    const fileSystem = new CapacityFileSystem(dir, 192 * 1024)
    const store = await openStore({ dir, fileSystem, segmentSizeBytes: 64 * 1024, compactionIntervalMs: 0, onWarning: () => undefined })
    const written: Written = { docId: await store.createProblem('doc'), tcIds: [], values: [] }
    await fillUntilRefused(store, written, 'fill')
    await store.close()
    // Not a byte to spare: the open writes neither zeros ahead, nor a sync mark, nor hints it
    // has no room for, and still opens.
    fileSystem.capacityBytes = fileSystem.usedBytes()
    const reopened = await openStore({ dir, fileSystem, segmentSizeBytes: 64 * 1024, compactionIntervalMs: 0, onWarning: () => undefined })
    await assertAllThere(reopened, written, 'opened on a full disk')
    await assert.rejects(reopened.addTestCase(written.docId, string('x')), { code: 'DISK_FULL' })
    fileSystem.capacityBytes += 32 * 1024
    const value = 'after the room came back'
    written.tcIds.push(await reopened.addTestCase(written.docId, string(value)))
    written.values.push(value)
    await reopened.close()
    const again = await openStore({ dir })
    await assertAllThere(again, written, 'reopened with room')
    await again.close()
  })

  it('refuses a write that needs a new segment when the disk has no room for one, and moves on once it has', async () => {
    const dir = newDir()
    const fileSystem = new CapacityFileSystem(dir, 1024 * 1024)
    const store = await openStore({ dir, fileSystem, segmentSizeBytes: 16 * 1024, compactionIntervalMs: 0, syncMode: 'none', onWarning: () => undefined })
    const written: Written = { docId: await store.createProblem('doc'), tcIds: [], values: [] }
    // Leave less room than a segment header: the write that crosses into the next segment fails.
    for (let index = 0; (await store.stats()).activeSegmentBytes < 12 * 1024; index++) {
      const value = `fill ${index} ${'v'.repeat(500)}`
      written.tcIds.push(await store.addTestCase(written.docId, string(value)))
      written.values.push(value)
    }
    fileSystem.capacityBytes = fileSystem.usedBytes() + 8
    const refusal = await fillUntilRefused(store, written, 'crossing')
    assert.equal(refusal.code, 'DISK_FULL')
    assert.equal(store.status, 'disk-full')
    fileSystem.capacityBytes += 256 * 1024
    const value = 'in the next segment'
    written.tcIds.push(await store.addTestCase(written.docId, string(value.padEnd(4000, '.'))))
    written.values.push(value.padEnd(4000, '.'))
    assert.equal(store.status, 'open')
    await store.close()
    const reopened = await openStore({ dir })
    await assertAllThere(reopened, written, 'after crossing into a new segment')
    await reopened.close()
  })
})
