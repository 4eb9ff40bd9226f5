/**
 * Smoke test of the engine benchmark: `bench/engine.ts --quick` runs to the end and prints its
 * table and its sections (space, stalls, locality, startup) with their aims. It asserts nothing
 * about the figures: timings belong in the benchmark's output, not in tests.
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
    // Compaction: space, stalls, locality; then startup. Headings and aim rows only.
    assert.match(stdout, /Space: Stratum before and after compactNow\(\)/)
    assert.match(stdout, /disk bytes per live byte \(disk ÷ payload\)\s.*≤ 1\.3× after/)
    assert.match(stdout, /compactNow\(\): .* merged into .* records copied/)
    assert.match(stdout, /Stalls: Stratum's latencies with no compaction running and while compactNow\(\) runs/)
    assert.match(stdout, /operation\s+window\s+samples\s+p50 µs\s+p99 µs\s+max µs\s+p99 during ÷ without\s+aim/)
    assert.match(stdout, /Locality: whole-chain reads/)
    assert.match(stdout, /caches \(both sides\)\s+system\s+ops\/s\s+p50 µs\s+p99 µs\s+cache misses\/chain\s+after ÷ before\s+÷ better-sqlite3\s+aim/)
    assert.match(stdout, /Startup: a store of 200,000 input nodes/)
    assert.match(stdout, /open\s+round\s+open time\s+records\s+segments from hints \/ scanned\s+hints written\s+raw read before \/ after\s+open ÷ raw read/)
    for (const aim of [
      /disk bytes per live byte after compaction\s+≤ 1\.3×/,
      /p99 random read while compacting ÷ without\s+≤ 2×/,
      /p99 durable update while compacting ÷ without\s+≤ 2×/,
      /whole-chain read after compaction ÷ better-sqlite3 .*≥ 2×/,
      /open with hint files ÷ raw sequential read of the segments\s+≤ 3×/,
    ]) {
      assert.match(stdout, aim)
    }
  })
})
