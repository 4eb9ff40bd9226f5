/**
 * The power-cut simulator (testing/power-cut-file-system.ts) does what its model says, so that
 * test/power-cut.test.ts, which cuts the power under a whole store, can rely on it. `materialize`
 * is given a constant `random`: below 0.5 every unsynced sector, size and directory operation is
 * lost (old), from 0.5 every one is kept (new).
 *
 * Also: an I/O error fails the store closed, and a reopen recovers.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { nodeFileSystem, syncDirectory, type FileSystem } from './file-system.ts'
import { openStore } from './store.ts'
import { PowerCutFileSystem } from './testing/power-cut-file-system.ts'
import { int64 } from './values.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

function newFolder(): string {
  const folder = fs.mkdtempSync(join(tmpdir(), 'stratum-power-'))
  folders.push(folder)
  return folder
}

const allOld = (): number => 0
const allNew = (): number => 0.99

function contentOf(dir: string, name: string): string | undefined {
  const path = join(dir, name)
  return fs.existsSync(path) ? fs.readFileSync(path, 'latin1') : undefined
}

describe('power-cut file system', () => {
  it('keeps synced bytes and synced names; unsynced ones are old or new', () => {
    for (const random of [allOld, allNew]) {
      const dir = newFolder()
      const sim = new PowerCutFileSystem({ dir, sectorBytes: 512 })
      const fd = sim.openSync(join(dir, 'a'), 'w+')
      sim.writeSync(fd, Buffer.from('synced'), 0)
      sim.fsyncSync(fd)
      syncDirectory(sim, dir)
      sim.writeSync(fd, Buffer.from('S'), 0)
      sim.writeSync(fd, Buffer.from('+tail'), 6)
      sim.materialize(random)
      assert.equal(contentOf(dir, 'a'), random === allOld ? 'synced' : 'Synced+tail')
    }
  })

  it('tears each unsynced sector independently, and the size apart from them', () => {
    const dir = newFolder()
    const sim = new PowerCutFileSystem({ dir, sectorBytes: 512 })
    const fd = sim.openSync(join(dir, 'a'), 'w+')
    syncDirectory(sim, dir)
    sim.writeSync(fd, Buffer.alloc(3 * 512, 'n'), 0)
    // Draws: the size (new), then sectors 0, 1, 2: new, old, new.
    const draws = [0.9, 0.9, 0.1, 0.9]
    sim.materialize(() => draws.shift() ?? 0.9)
    const content = fs.readFileSync(join(dir, 'a'))
    assert.equal(content.length, 3 * 512)
    assert.ok(content.subarray(0, 512).every((byte) => byte === 0x6e))
    assert.ok(content.subarray(512, 1024).every((byte) => byte === 0))
    assert.ok(content.subarray(1024).every((byte) => byte === 0x6e))
  })

  it('loses creates, renames and unlinks that no directory sync followed', () => {
    const dir = newFolder()
    const sim = new PowerCutFileSystem({ dir, sectorBytes: 4096 })
    for (const name of ['renamed', 'removed']) {
      const fd = sim.openSync(join(dir, name), 'w')
      sim.writeSync(fd, Buffer.from(name), 0)
      sim.fsyncSync(fd)
      sim.closeSync(fd)
    }
    syncDirectory(sim, dir)
    const fd = sim.openSync(join(dir, 'created'), 'w')
    sim.writeSync(fd, Buffer.from('created'), 0)
    sim.fsyncSync(fd) // a data sync does not make the name durable
    sim.closeSync(fd)
    sim.renameSync(join(dir, 'renamed'), join(dir, 'new-name'))
    sim.unlinkSync(join(dir, 'removed'))
    sim.materialize(allOld)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['removed', 'renamed'])
    assert.equal(contentOf(dir, 'removed'), 'removed')
  })

  it('keeps them when kept, and follows a file across renames', () => {
    const dir = newFolder()
    const sim = new PowerCutFileSystem({ dir, sectorBytes: 4096 })
    const fd = sim.openSync(join(dir, 'x.tmp'), 'w')
    sim.writeSync(fd, Buffer.from('whole'), 0)
    sim.fsyncSync(fd)
    sim.closeSync(fd)
    sim.renameSync(join(dir, 'x.tmp'), join(dir, 'x'))
    sim.materialize(allNew)
    assert.deepEqual(fs.readdirSync(dir), ['x'])
    assert.equal(contentOf(dir, 'x'), 'whole')
  })

  it('fails call cutAtCall and every later one before it takes effect', () => {
    const dir = newFolder()
    const sim = new PowerCutFileSystem({ dir, sectorBytes: 512, cutAtCall: 4 })
    const fd = sim.openSync(join(dir, 'a'), 'w') // call 1
    sim.writeSync(fd, Buffer.from('one'), 0) // 2
    sim.fsyncSync(fd) // 3
    assert.throws(() => sim.writeSync(fd, Buffer.from('two'), 3), { code: 'EIO' })
    assert.throws(() => sim.existsSync(dir), { code: 'EIO' })
    assert.equal(sim.callCount, 5)
    sim.materialize(allNew)
    assert.equal(contentOf(dir, 'a'), 'one')
  })

  it('makes nothing durable with a sync still pending at a cut from outside', async () => {
    const dir = newFolder()
    const sim = new PowerCutFileSystem({ dir, sectorBytes: 512 })
    const fd = sim.openSync(join(dir, 'a'), 'w')
    syncDirectory(sim, dir)
    sim.writeSync(fd, Buffer.from('data'), 0)
    const syncing = sim.fdatasync(fd)
    sim.cut()
    await assert.rejects(syncing, { code: 'EIO' })
    sim.materialize(allOld)
    assert.equal(contentOf(dir, 'a'), '')
  })

  it('mutants: syncs that make nothing durable', () => {
    for (const mutant of ['ignore-fdatasync', 'ignore-directory-fsync'] as const) {
      const dir = newFolder()
      const sim = new PowerCutFileSystem({ dir, sectorBytes: 512, mutant })
      const fd = sim.openSync(join(dir, 'a'), 'w')
      sim.writeSync(fd, Buffer.from('data'), 0)
      sim.fsyncSync(fd)
      syncDirectory(sim, dir)
      sim.materialize(allOld)
      assert.equal(contentOf(dir, 'a'), mutant === 'ignore-fdatasync' ? '' : undefined)
    }
  })
})

describe('an I/O error', () => {
  it('fails the store closed after a failed fdatasync, and a reopen recovers the acknowledged state', async () => {
    const dir = newFolder()
    let failing = false
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      fdatasync: (fd) => (failing ? Promise.reject(Object.assign(new Error('EIO: injected fdatasync failure'), { code: 'EIO' })) : nodeFileSystem.fdatasync(fd)),
    }
    const store = await openStore({ dir, fileSystem })
    const docId = await store.createProblem('kept')
    failing = true
    await assert.rejects(store.addTestCase(docId, int64(1)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNAVAILABLE')
      assert.match(error.message, /failed after an I\/O error and must be reopened: EIO: injected fdatasync failure/)
      return true
    })
    failing = false
    // The failure is permanent: a later sync succeeding proves nothing about the lost pages.
    await assert.rejects(store.getProblemHtml(docId), { code: 'UNAVAILABLE' })
    await assert.rejects(store.createProblem('x'), { code: 'UNAVAILABLE' })
    await store.close().catch(() => undefined)
    const reopened = await openStore({ dir })
    assert.equal(await reopened.getProblemHtml(docId), 'kept')
    await reopened.close()
  })
})
