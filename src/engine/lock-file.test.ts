/**
 * Tests of the lock file against real processes: a killed holder that its parent has not reaped
 * (a zombie), and many processes taking over one stale lock at the same instant.
 * The store-level promises (LOCKED naming the holder, a torn lock, release) are in store.test.ts.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { StratumError } from './errors.ts'
import { nodeFileSystem } from './file-system.ts'
import { LockFile, lockFileName } from './lock-file.ts'

const createdDirs: string[] = []
const children = new Set<ChildProcess>()

after(() => {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-lock-test-'))
  createdDirs.push(dir)
  return dir
}

function childExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Fields 3 (state) and 22 (start time) of /proc/PID/stat. */
function procStat(pid: number): { state: string; startTime: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0]!, startTime: fields[19]! }
}

/** Waits, a poll at a time, until `condition` holds; fails after `limit` polls rather than hang. */
async function pollUntil(what: string, condition: () => boolean, limit = 2_000): Promise<void> {
  for (let poll = 0; !condition(); poll++) {
    assert.ok(poll < limit, `gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function lockedHolderPattern(pid: number): RegExp {
  const host = hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`is in use by process ${pid} on ${host} \\(lock file .*LOCK\\); stop it first`)
}

function writeStaleLock(dir: string, pid: number, startTime: string | null): void {
  writeFileSync(join(dir, lockFileName), `${JSON.stringify({ pid, startTime, host: hostname() })}\n`)
}

const procMounted = existsSync('/proc/self/stat')

describe('lock file', () => {
  it('a holder killed but not yet reaped by its parent (a zombie) does not block the lock', { skip: !procMounted }, async () => {
    const dir = tempDir()
    // `sh` starts a sleeping child and becomes a `sleep` itself, which never waits for children:
    // once the child is killed it stays a zombie until this parent goes.
    const parent = spawn('sh', ['-c', 'sleep 1000 >/dev/null 2>&1 & echo $!; exec sleep 1000 >/dev/null'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.add(parent)
    try {
      const zombiePid = await new Promise<number>((resolve, reject) => {
        let text = ''
        parent.stdout!.on('data', (chunk: Buffer) => {
          text += chunk.toString()
          if (text.includes('\n')) resolve(Number.parseInt(text, 10))
        })
        parent.once('exit', (code) => reject(new Error(`sh exited early with ${String(code)}`)))
      })
      assert.ok(Number.isInteger(zombiePid) && zombiePid > 0, `child pid ${zombiePid}`)
      // The lock names the child exactly as the child itself would, start time included.
      writeStaleLock(dir, zombiePid, procStat(zombiePid).startTime)
      await assert.rejects(
        async () => LockFile.acquire(nodeFileSystem, dir),
        (error: unknown) => error instanceof StratumError && error.code === 'LOCKED' && lockedHolderPattern(zombiePid).test(error.message),
        'while the child runs, its lock holds',
      )
      process.kill(zombiePid, 'SIGKILL')
      await pollUntil(`process ${zombiePid} to become a zombie`, () => procStat(zombiePid).state === 'Z')
      // kill(pid, 0) still succeeds on a zombie: only its state tells it is gone.
      assert.doesNotThrow(() => process.kill(zombiePid, 0))

      const lock = await LockFile.acquire(nodeFileSystem, dir)
      const holder = JSON.parse(readFileSync(join(dir, lockFileName), 'utf8')) as { pid: number }
      assert.equal(holder.pid, process.pid, 'the lock is ours now')
      lock.release()
      assert.equal(existsSync(join(dir, lockFileName)), false, 'release removes the lock file')
    } finally {
      parent.kill('SIGKILL')
      await childExit(parent)
      children.delete(parent)
    }
  })

  it('of many processes taking over one stale lock at the same instant, exactly one gets it', async () => {
    const processCount = 8
    const roundCount = 30
    const dir = tempDir()
    const control = join(dir, 'control') // The start and end signals, and each process's outcome.
    const storeDir = join(dir, 'store')
    mkdirSync(control)
    mkdirSync(storeDir)
    const lockModule = new URL('./lock-file.ts', import.meta.url).href
    const fileSystemModule = new URL('./file-system.ts', import.meta.url).href
    // Each process, each round: wait for go-ROUND, try the lock, write its outcome, wait for
    // end-ROUND, release what it took, say so. fs.watch wakes every waiting process on the same
    // inotify event, so that they try at the same instant.
    const script = `
      import { existsSync, renameSync, watch, writeFileSync } from 'node:fs'
      import { join } from 'node:path'
      const { LockFile } = await import(${JSON.stringify(lockModule)})
      const { nodeFileSystem } = await import(${JSON.stringify(fileSystemModule)})
      const control = ${JSON.stringify(control)}
      const index = process.argv[1]
      function signal(name) {
        return new Promise((resolve) => {
          const watcher = watch(control, () => { if (existsSync(join(control, name))) { watcher.close(); resolve() } })
          if (existsSync(join(control, name))) { watcher.close(); resolve() }
        })
      }
      writeFileSync(join(control, 'ready-' + index), '')
      for (let round = 0; round < ${roundCount}; round++) {
        await signal('go-' + round)
        let lock
        let outcome
        try {
          lock = await LockFile.acquire(nodeFileSystem, ${JSON.stringify(storeDir)})
          outcome = { kind: 'took', pid: process.pid }
        } catch (error) {
          outcome = { kind: error.code === 'LOCKED' ? 'locked' : 'error', pid: process.pid, message: String(error.message ?? error) }
        }
        // Written aside and renamed, so that the test never reads half an outcome.
        writeFileSync(join(control, 'outcome.tmp-' + index), JSON.stringify(outcome))
        renameSync(join(control, 'outcome.tmp-' + index), join(control, 'outcome-' + round + '-' + index))
        await signal('end-' + round)
        lock?.release()
        writeFileSync(join(control, 'released-' + round + '-' + index), '')
      }
    `
    const racers: ChildProcess[] = []
    for (let index = 0; index < processCount; index++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(index)], {
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      children.add(child)
      racers.push(child)
    }
    const allExist = (prefix: string): boolean => racers.every((_, index) => existsSync(join(control, `${prefix}-${index}`)))
    await pollUntil('the processes to start', () => allExist('ready'), 12_000)

    // A pid that is surely not running: a process that has exited and been reaped.
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await childExit(dead)
    const failures: string[] = []
    for (let round = 0; round < roundCount; round++) {
      writeStaleLock(storeDir, dead.pid!, null)
      writeFileSync(join(control, `go-${round}`), '')
      await pollUntil(`round ${round}'s outcomes`, () => allExist(`outcome-${round}`))
      const outcomes = racers.map(
        (_, index) => JSON.parse(readFileSync(join(control, `outcome-${round}-${index}`), 'utf8')) as { kind: string; pid: number; message?: string },
      )
      const takers = outcomes.filter((outcome) => outcome.kind === 'took')
      const others = outcomes.filter((outcome) => outcome.kind !== 'took' && outcome.kind !== 'locked')
      if (takers.length !== 1 || others.length > 0) {
        failures.push(`round ${round}: ${takers.length} took the lock, ${others.length} failed otherwise (${others.map((outcome) => outcome.message).join('; ')})`)
      } else {
        const holder = JSON.parse(readFileSync(join(storeDir, lockFileName), 'utf8')) as { pid: number }
        if (holder.pid !== takers[0]!.pid) failures.push(`round ${round}: the lock file names ${holder.pid}, the taker is ${takers[0]!.pid}`)
        for (const outcome of outcomes) {
          if (outcome.kind === 'locked' && !lockedHolderPattern(takers[0]!.pid).test(outcome.message!)) {
            failures.push(`round ${round}: process ${outcome.pid} was refused with "${outcome.message}", which does not name the taker`)
          }
        }
      }
      writeFileSync(join(control, `end-${round}`), '')
      await pollUntil(`round ${round}'s releases`, () => allExist(`released-${round}`))
    }
    await Promise.all(racers.map(childExit))
    for (const child of racers) {
      assert.equal(child.exitCode, 0, `racer ${String(child.pid)} exited with ${String(child.exitCode)}`)
      children.delete(child)
    }
    assert.deepEqual(failures, [], `${failures.length} of ${roundCount} rounds failed`)
  })

  it('a LOCK deleted by hand under a live holder of this host lets nobody else in', { skip: process.platform !== 'linux' }, async () => {
    const dir = tempDir()
    const script = `
      const { LockFile } = await import(${JSON.stringify(new URL('./lock-file.ts', import.meta.url).href)})
      const { nodeFileSystem } = await import(${JSON.stringify(new URL('./file-system.ts', import.meta.url).href)})
      await LockFile.acquire(nodeFileSystem, ${JSON.stringify(dir)})
      process.stdout.write('ready\\n')
      setInterval(() => {}, 1000)
    `
    const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.add(holder)
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve()
        })
        holder.once('exit', (code) => reject(new Error(`the holder exited early with ${String(code)}`)))
      })
      rmSync(join(dir, lockFileName))
      await assert.rejects(
        async () => LockFile.acquire(nodeFileSystem, dir),
        (error: unknown) =>
          error instanceof StratumError && error.code === 'LOCKED' && /is in use by another process: it holds the folder's socket @stratum-lock:/.test(error.message),
      )
      assert.equal(existsSync(join(dir, lockFileName)), false, 'the refused open wrote no LOCK')
    } finally {
      holder.kill('SIGKILL')
      await childExit(holder)
      children.delete(holder)
    }
    // Its holder dead, the kernel has dropped its lock, and there is no LOCK to judge.
    const lock = await LockFile.acquire(nodeFileSystem, dir)
    lock.release()
  })
})
