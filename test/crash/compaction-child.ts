/**
 * A child for test/compaction-crash.test.ts: opens a store and runs one full compaction, killing
 * itself with SIGKILL at a given step of it (the `occurrence`-th time the step is reached).
 * Exits 0 if the compaction finished without reaching the step.
 *
 *   node --import tsx test/crash/compaction-child.ts '{"dir": "...", "step": "committed", "occurrence": 1}'
 */
import { openStore } from '../../src/engine/store.ts'
import type { CompactionStep } from '../../src/engine/compactor.ts'

const args = JSON.parse(process.argv[2] ?? '') as { dir: string; step: CompactionStep; occurrence: number }
let seen = 0
const store = await openStore({
  dir: args.dir,
  segmentSizeBytes: 4096,
  compactionIntervalMs: 0,
  onCompactionStep: (step) => {
    if (step === args.step && ++seen === args.occurrence) process.kill(process.pid, 'SIGKILL')
  },
})
await store.compactNow()
await store.close()
