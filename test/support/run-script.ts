/**
 * Runs one of the project's TypeScript scripts in a child process, through tsx, and collects
 * what it prints: for smoke tests of the benchmarks, which must only run to the end.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoDir = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))))

/** Runs `node --import tsx <repo>/<scriptPath> ...args` from the repository's folder. */
export function runScript(scriptPath: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoDir, scriptPath), ...args], {
      cwd: repoDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
