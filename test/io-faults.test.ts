/**
 * The I/O fault matrix: the fixed workload of test/support/io-fault-matrix.ts is run once without
 * faults to count the calls of each file-system operation, then once per (operation, k, errno)
 * with the k-th call of that operation failing, for every k (about 600 runs, 15 s on two cores:
 * CI runs the whole matrix). `npm run faults` runs the same and lists what it noted.
 *
 * What each run must satisfy is the property at the top of io-fault-matrix.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fileSystemOperations } from '../src/engine/testing/counting-fault-file-system.ts'
import { formatSummary, runMatrix, runWorkload, makeTempDir } from './support/io-fault-matrix.ts'
import fs from 'node:fs'

describe('I/O fault matrix', () => {
  it('the workload, without faults, passes its own checks and reaches every part of the engine', async () => {
    const dir = makeTempDir()
    try {
      const result = await runWorkload({ dir, fault: undefined })
      assert.deepEqual(result.violations, [])
      assert.equal(result.outcome, 'not fired')
      // The parts the matrix is meant to reach: group commits (writev, fdatasync), rotation and
      // sealed hints (renameSync, rename), the compaction (fsync, unlink), recovery (readdirSync).
      for (const operation of ['writev', 'fdatasync', 'renameSync', 'rename', 'fsync', 'unlink', 'readdirSync'] as const) {
        assert.ok((result.counts.get(operation) ?? 0) > 0, `the workload calls ${operation}`)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('every injected ENOSPC and EIO leaves the store serving or failed closed, and the folder right', async () => {
    const summary = await runMatrix({ long: true })
    // The figures, for the log: matrix size and what happened.
    console.log(formatSummary(summary))
    for (const operation of fileSystemOperations) {
      if ((summary.baseline.get(operation) ?? 0) > 0) assert.ok((summary.runsPerOperation.get(operation) ?? 0) > 0, `${operation} is in the matrix`)
    }
    assert.deepEqual(
      summary.violations.map(({ fault, messages }) => `${fault}: ${messages.join(' | ')}`),
      [],
    )
  })
})
