/**
 * Power cuts under a whole store, with the strict simulator (see test/power-cut/harness.ts for the
 * workload and the property, src/engine/testing/power-cut-file-system.ts for the model).
 *
 * Short mode (here, in CI): STRATUM_POWERCUT_CUTS cuts (default 150), seeds 1 to N, half of them
 * with 512-byte sectors and half with 4096-byte ones. The long mode is
 * `npm run powercut -- --cuts 5000`, the same runs from the same seeds.
 *
 * Replaying a failure: every violation names its seed; `npm run powercut -- --seed <seed>` runs
 * that cut alone and prints what recovery reported.
 *
 * The mutant tests run the checker against a simulator whose syncs make nothing durable (file
 * syncs, or directory syncs): it must find a violation, or it could not find one anywhere.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PowerCutMutant } from '../src/engine/testing/power-cut-file-system.ts'
import { describeRun, planOfSeed, runCut } from './power-cut/harness.ts'

const cuts = Number(process.env.STRATUM_POWERCUT_CUTS ?? 150)

describe('power cut (strict model)', () => {
  it(`reopens to the acknowledged state plus whole in-flight writes, after each of ${cuts} cuts`, async () => {
    const failures: string[] = []
    let acknowledged = 0
    for (let seed = 1; seed <= cuts; seed++) {
      const result = await runCut(planOfSeed(seed))
      acknowledged += result.acknowledged
      if (result.violations.length > 0) {
        failures.push(
          `${describeRun(result.options)}, cut at ${result.cutStats.cutCall}:\n    ${result.violations.slice(0, 5).join('\n    ')}`,
        )
      }
    }
    assert.ok(acknowledged > cuts * 100, `the runs made ${acknowledged} acknowledged writes: too few to test anything`)
    if (failures.length > 0) assert.fail(`violations in ${failures.length} of ${cuts} cuts:\n  ${failures.join('\n  ')}`)
  })

  for (const mutant of ['ignore-fdatasync', 'ignore-directory-fsync'] as const satisfies readonly PowerCutMutant[]) {
    it(`finds a violation when ${mutant}`, async () => {
      // Bounded: a mutant is found within a few cuts (see the final report); 50 is a wide margin.
      let found: string | undefined
      for (let seed = 1; seed <= 50 && found === undefined; seed++) {
        const result = await runCut(planOfSeed(seed, mutant))
        if (result.violations.length > 0) found = `${describeRun(result.options)}: ${result.violations[0]!}`
      }
      assert.ok(found !== undefined, `no violation found in 50 cuts with the ${mutant} mutant`)
    })
  }
})
