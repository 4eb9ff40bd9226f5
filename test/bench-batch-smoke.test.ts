/**
 * Smoke test of the batch-load benchmark: `bench/batch-load.ts --quick` loads every system,
 * checks what each holds, and prints its table and aims. It asserts nothing about the figures.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from './support/run-script.ts'

describe('bench/batch-load.ts --quick', () => {
  it('exits 0 and prints the results table and its aims', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runScript('bench/batch-load.ts', ['--quick'])
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stdout, /Loading 500 documents \(21 operations each/)
    for (const system of ['stratum-batch', 'stratum-single', 'sqlite-full-batch100', 'disk ceiling \\(1344 rec/fdatasync\\)']) {
      assert.match(stdout, new RegExp(`\\| ${system}\\s+\\|`))
    }
    assert.match(stdout, /stratum-batch ÷ sqlite-full-batch100: .* \(aim ≥ 2×: (met|NOT met)\)/)
    assert.match(stdout, /stratum-batch ÷ disk ceiling: .* \(aim ≥ 0\.5×: (met|NOT met)\)/)
  })
})
