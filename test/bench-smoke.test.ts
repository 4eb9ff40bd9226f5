/**
 * Smoke test of the engine benchmark: `bench/engine.ts --quick` runs to the end and prints its
 * table. It asserts nothing about the figures: timings belong in the benchmark's output, not in
 * tests.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const timeoutMs = 300_000

function runQuickBenchmark(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoDir, 'bench', 'engine.ts'), '--quick'], {
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

describe('bench/engine.ts --quick', () => {
  it('exits 0 and prints the results table', { timeout: timeoutMs }, async () => {
    const { code, stdout, stderr } = await runQuickBenchmark()
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stdout, /Stratum engine benchmark \(--quick\)/)
    assert.match(stdout, /workload\s+system\s+ops\s+ops\/s\s+p50 µs\s+p99 µs\s+stratum ÷ this/)
  })
})
