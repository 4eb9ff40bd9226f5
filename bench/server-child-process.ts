/**
 * The parent's side of bench/server-child.ts: starts a server child, learns its address from its
 * ready message, asks it questions over IPC, and stops it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildHealth } from './server-child.ts'

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server-child.ts')

export interface ServerChildProcess {
  name: string
  process: ChildProcess
  address: string
}

/** Forks `server-child.ts <args>`; resolves once it listens. Its stdout and stderr are this process's. */
export function startServerChild(name: string, args: readonly string[]): Promise<ServerChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(childScript, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)))
    child.once('message', (message: { type: string; address: string }) => {
      child.removeAllListeners('exit')
      if (message.type !== 'ready') return reject(new Error(`unexpected message ${JSON.stringify(message)}`))
      resolve({ name, process: child, address: message.address })
    })
  })
}

/** Sends `{ type }` and resolves to the child's answer (a message of the same type), without its type. */
function ask<T>(child: ServerChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      child.process.off('message', onMessage)
      reject(new Error(`${child.name} server exited (${signal ?? code}) before answering ${type}`))
    }
    const onMessage = ({ type: answered, ...answer }: { type: string }): void => {
      if (answered !== type) return
      child.process.off('message', onMessage).off('exit', onExit)
      resolve(answer as T)
    }
    child.process.on('message', onMessage).once('exit', onExit)
    child.process.send({ type })
  })
}

/** The child's own CPU time so far, user and system, in µs. */
export async function serverCpuMicros(child: ServerChildProcess): Promise<number> {
  const { userMicros, systemMicros } = await ask<{ userMicros: number; systemMicros: number }>(child, 'cpu')
  return userMicros + systemMicros
}

export function serverHealth(child: ServerChildProcess): Promise<ChildHealth> {
  return ask<ChildHealth>(child, 'health')
}

/**
 * Asks the child to stop and waits for it to exit; kills it if it has not within `graceMs`, so
 * that a hung server cannot hang its parent. Resolves to how it ended.
 */
export function stopServerChild(child: ServerChildProcess, graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { process: running } = child
  if (running.exitCode !== null || running.signalCode !== null) return Promise.resolve({ code: running.exitCode, signal: running.signalCode })
  return new Promise((resolve) => {
    const killer = setTimeout(() => running.kill('SIGKILL'), graceMs)
    running.once('exit', (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal })
    })
    running.send({ type: 'stop' })
  })
}
