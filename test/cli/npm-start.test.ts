/**
 * `npm start` as a supervisor or a container's `CMD npm start` runs it: SIGTERM goes to the npm
 * process only, and must still stop the server gracefully, leaving no process behind that holds
 * the port or the store's lock.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, it } from 'node:test'
import { openStore } from '../../src/engine/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { cleanEnv, logLine, startCollecting, waitFor, type Running } from '../support/stratum-cli.ts'

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The pid that the store's LOCK names, once the server has written it. */
function lockHolderPid(dataDir: string): number | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, 'LOCK'), 'utf8')) as { pid: number }).pid
  } catch {
    return undefined
  }
}

function listenOn(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()))
  })
}

/** Starts `npm start` on an ephemeral port; resolves once the server listens, with its pid and port. */
async function npmStart(dataDir: string, options: { detached?: boolean } = {}): Promise<{ npm: Running; serverPid: number; port: number }> {
  const npm = startCollecting('npm', ['start', '--silent', '--', '--port', '0', '--data-dir', dataDir], { env: cleanEnv(), ...options })
  try {
    const listening = await waitFor(() => logLine<{ port: number }>(npm.stdout(), 'listening'), 30_000, npm.stderr)
    const serverPid = await waitFor(() => lockHolderPid(dataDir), 5_000, npm.stderr)
    return { npm, serverPid, port: listening.port }
  } catch (error) {
    npm.child.kill('SIGKILL')
    const orphan = lockHolderPid(dataDir)
    if (orphan !== undefined && isAlive(orphan)) process.kill(orphan, 'SIGKILL')
    throw error
  }
}

/** npm has exited 0: checks that the server stopped gracefully and let go of its port and folder. */
async function assertStopped(npm: Running, serverPid: number, port: number, dataDir: string, signal: string): Promise<void> {
  // npm has exited: a server still running now is an orphan.
  await waitFor(() => (isAlive(serverPid) ? undefined : true), 10_000, () => `server ${serverPid} still running; ${npm.stderr()}`)
  assert.equal(logLine<{ reason: string }>(npm.stdout(), 'shutting down')?.reason, signal)
  assert.ok(logLine(npm.stdout(), 'stopped') !== undefined, npm.stdout())
  await listenOn(port)
  const store = await openStore({ dir: dataDir })
  await store.close()
}

describe('npm start', () => {
  it('stops the server gracefully when the npm process gets SIGTERM', { timeout: 60_000 }, async () => {
    const dataDir = makeTempDir('npm-start')
    const { npm, serverPid, port } = await npmStart(dataDir)
    try {
      assert.notEqual(serverPid, npm.child.pid, 'npm runs the server in a process of its own')
      npm.child.kill('SIGTERM')
      assert.equal(await npm.exited, 0, npm.stderr())
      await assertStopped(npm, serverPid, port, dataDir, 'SIGTERM')
    } finally {
      if (isAlive(serverPid)) process.kill(serverPid, 'SIGKILL')
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('stops the server gracefully on Ctrl-C, which signals npm and the server both', { timeout: 60_000 }, async () => {
    const dataDir = makeTempDir('npm-start-ctrl-c')
    // A process group of its own, as a terminal's foreground job has.
    const { npm, serverPid, port } = await npmStart(dataDir, { detached: true })
    try {
      process.kill(-npm.child.pid!, 'SIGINT')
      assert.equal(await npm.exited, 0, npm.stderr())
      await assertStopped(npm, serverPid, port, dataDir, 'SIGINT')
    } finally {
      if (isAlive(serverPid)) process.kill(serverPid, 'SIGKILL')
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
