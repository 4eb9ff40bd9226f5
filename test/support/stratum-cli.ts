/**
 * The `stratum` command in child processes, for the tests of the command line: one-shot runs
 * that are waited for, and long-running ones (`serve`) whose output is collected as it comes.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import path from 'node:path'
import { repoDir } from './run-script.ts'

export { repoDir }
export const stratumBin = path.join(repoDir, 'bin', 'stratum.mjs')

export interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

/** This process's environment without the LSE_* settings, which would change what serve does. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LSE_')))
}

/**
 * Runs `stratum args…` to its end, with `env` added to cleanEnv(). `as` runs it as another user
 * (the tests of permissions, which root would pass through).
 */
export function stratum(args: readonly string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [stratumBin, ...args],
      { cwd: repoDir, env: { ...cleanEnv(), ...env }, timeout: 30_000, ...as },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
      },
    )
  })
}

/** A child process whose output is collected as it comes, and its exit code once it exits. */
export interface Running {
  child: ChildProcess
  stdout(): string
  stderr(): string
  exited: Promise<number | null>
}

/** Starts `command args…` with stdout and stderr piped and collected. */
export function startCollecting(command: string, args: readonly string[], options: SpawnOptions): Running {
  const child = spawn(command, args, { cwd: repoDir, ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** The first line of `text` holding `"msg":"<message>"`, parsed: a JSON log line. */
export function logLine<T>(text: string, message: string): T | undefined {
  const line = text.split('\n').find((candidate) => candidate.includes(`"msg":"${message}"`))
  return line === undefined ? undefined : (JSON.parse(line) as T)
}

/** Polls `probe` every 50 ms until it returns something, or fails after `timeoutMs` with `context()`. */
export async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, context: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    const found = probe()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out; stderr: ${context()}`)
}
