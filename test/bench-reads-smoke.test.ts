/**
 * Smoke test of the read latency benchmark: `bench/read-latency.ts --quick` runs a round of paced
 * reads alone and one with 64 writers, every read finding what it reads (it fails otherwise), and
 * prints its table and aim. It asserts nothing about the figures.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from './support/run-script.ts'

describe('bench/read-latency.ts --quick', () => {
  it('exits 0 and prints the table and its aim', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runScript('bench/read-latency.ts', ['--quick'])
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stderr, /run 1: reads p99 [\d.,]+ µs alone, [\d.,]+ µs with 64 writers \([\d,]+ writes\/s\)/)
    assert.match(stdout, /read p99 with 64 writers \/ alone: median [\d.]+× \(min [\d.]+×, max [\d.]+×\); aim <= 2\.00×/)
  })
})
