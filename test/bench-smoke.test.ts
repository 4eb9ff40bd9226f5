/**
 * Smoke test of the engine benchmark: `bench/engine.ts --quick` runs to the end and prints its
 * table. It asserts nothing about the figures: timings belong in the benchmark's output, not in
 * tests.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from './support/run-script.ts'

const timeoutMs = 300_000

describe('bench/engine.ts --quick', () => {
  it('exits 0 and prints the results table', { timeout: timeoutMs }, async () => {
    const { code, stdout, stderr } = await runScript('bench/engine.ts', ['--quick'])
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stdout, /Stratum engine benchmark \(--quick\)/)
    assert.match(stdout, /workload\s+system\s+ops\s+ops\/s\s+p50 µs\s+p99 µs\s+stratum ÷ this/)
  })
})
