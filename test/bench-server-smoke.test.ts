/**
 * Smoke test of the server benchmark: `bench/server.ts --quick` runs to the end, stops its server
 * processes, and prints its table with a row for each server. It asserts nothing about the figures.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from './support/run-script.ts'

describe('bench/server.ts --quick', () => {
  it('exits 0 and prints the results table', { timeout: 180_000 }, async () => {
    const { code, stdout, stderr } = await runScript('bench/server.ts', ['--quick'])
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stdout, /Stratum server benchmark \(--quick\)/)
    assert.match(stdout, /workload\s+conc\s+server\s+calls\/s\s+p50 µs\s+p99 µs\s+server CPU µs\/call/)
    for (const workload of ['GetProblemHtml', 'GetTestCase', 'GetAllTestCases', 'AddTestCase', 'CreateProblem']) {
      assert.match(stdout, new RegExp(`${workload}.*\\s1\\s+no-op`))
      assert.match(stdout, new RegExp(`${workload}.*\\s64\\s+stratum`))
      assert.match(stdout, new RegExp(`${workload}.*\\s64\\s+stratum TLS`))
      assert.match(stdout, new RegExp(`${workload}.*\\s64\\s+stratum tokens`))
    }
  })
})
