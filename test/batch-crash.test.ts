/**
 * Atomic batches under SIGKILL: a writer uploading problems as batches (a problem, up to 60 test
 * cases and their outputs, 16 batches in flight, 64 KiB segments) is killed at random moments,
 * over and over, on one store; after each kill every batch is there whole or not at all, and every
 * acknowledged batch is there. `npm run crash:batch -- --kills 500` runs the same loop for longer.
 * A build that appends a batch's operations as separate units fails it at the first kill.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runBatchCrashLoop } from './crash/batch-crash-run.ts'

describe('atomic batches under SIGKILL', () => {
  it('are whole or absent after every kill, and every acknowledged one is there', { timeout: 300_000 }, async () => {
    const result = await runBatchCrashLoop({ kills: 12, seed: 20261205 })
    assert.deepEqual(result.violations, [])
    assert.equal(result.kills, 12)
    // Not vacuous: batches were acknowledged, and kills caught batches in flight.
    assert.ok(result.acknowledged > 0, 'no batch was acknowledged')
    assert.ok(result.inFlight > 0, 'no kill caught a batch in flight')
  })
})
