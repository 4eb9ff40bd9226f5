/**
 * The long power-cut run: `npm run powercut -- --cuts 5000 [--from 1] [--mutant ignore-fdatasync]
 * [--seed N] [--verbose]`. Runs the same cuts as test/power-cut.test.ts (one per seed, from
 * `--from`), prints each violation with the seed that replays it, and a summary: cuts run,
 * violations, acknowledged writes, in-flight writes found applied or not, duration.
 * `--seed N` runs that one seed and prints its details. Exits 1 when a violation was found.
 */
import { parseArgs } from 'node:util'
import type { PowerCutMutant } from '../../src/engine/testing/power-cut-file-system.ts'
import { describeRun, planOfSeed, runCut } from './harness.ts'

const { values } = parseArgs({
  options: {
    cuts: { type: 'string', default: '300' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    mutant: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
})
const mutant = values.mutant as PowerCutMutant | undefined
if (mutant !== undefined && mutant !== 'ignore-fdatasync' && mutant !== 'ignore-directory-fsync') {
  throw new Error(`--mutant must be ignore-fdatasync or ignore-directory-fsync, got ${mutant}`)
}
const first = Number(values.seed ?? values.from)
const count = values.seed === undefined ? Number(values.cuts) : 1

const started = performance.now()
let runs = 0
let failedRuns = 0
let violations = 0
let acknowledged = 0
let applied = 0
let notApplied = 0
let firstFailingSeed: number | undefined
for (let seed = first; seed < first + count; seed++) {
  const result = await runCut(planOfSeed(seed, mutant))
  runs++
  acknowledged += result.acknowledged
  applied += result.inFlightApplied
  notApplied += result.inFlightNotApplied
  if (result.violations.length > 0) {
    failedRuns++
    violations += result.violations.length
    firstFailingSeed ??= seed
    console.log(
      `VIOLATION ${describeRun(result.options)}, ${result.callsBeforeCut} calls before the cut, cut at ${result.cutStats.cutCall}, ` +
        `${result.acknowledged} acknowledged:`,
    )
    for (const violation of result.violations) console.log(`  ${violation}`)
  }
  if (values.verbose || values.seed !== undefined) {
    console.log(
      `${describeRun(result.options)}: ${result.callsBeforeCut} calls before the cut, ${result.acknowledged} acknowledged, ` +
        `in flight ${result.inFlightApplied} applied / ${result.inFlightNotApplied} not, ` +
        `cut at ${result.cutStats.cutCall}, found ${result.cutStats.dirtySectors} unsynced sectors and ${result.cutStats.pendingDirectoryOps} unsynced directory operations`,
    )
    for (const warning of result.warnings) console.log(`  warning: ${warning}`)
  }
}
const durationS = (performance.now() - started) / 1000
console.log(
  `cuts run: ${runs}; runs with violations: ${failedRuns} (${violations} violations` +
    `${firstFailingSeed === undefined ? '' : `, first at seed ${firstFailingSeed}`}); ` +
    `acknowledged writes: ${acknowledged}; in-flight writes found applied: ${applied}, not applied: ${notApplied}; ` +
    `duration: ${durationS.toFixed(1)} s`,
)
process.exitCode = failedRuns > 0 ? 1 : 0
