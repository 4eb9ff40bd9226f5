/**
 * Smoke test of the watch fan-out benchmark: `bench/watch-fanout.ts --quick` runs a round without
 * watchers and one with 100, checks that every watcher saw every change (it fails otherwise), and
 * prints its table and aim. It asserts nothing about the figures.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from './support/run-script.ts'

describe('bench/watch-fanout.ts --quick', () => {
  it('exits 0, every watcher having seen every change, and prints the table and its aim', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runScript('bench/watch-fanout.ts', ['--quick'])
    assert.equal(code, 0, `the benchmark failed:\n${stderr.slice(-4000)}`)
    assert.match(stderr, /100 watchers, [\d,]+ writes\/s, every watcher saw every change: yes/)
    assert.match(stdout, /server CPU\/event/)
    assert.match(stdout, /write throughput with 100 watchers \/ without: median [\d.]+× \(min [\d.]+×, max [\d.]+×\); aim >= 0\.80/)
  })
})
