/**
 * Versions and conditional writes against a model, over random runs: one problem with a few test
 * cases (in 4 KiB segments, so that compactions move their records), written by updates that are
 * unconditional, conditional on the version the model says is current, or conditional on a stale
 * or never-issued one; two writes conditional on one version in the same tick; reopens and
 * compactions in between.
 *
 * The model keeps, for each thing, the version the store gave its last change. After every step:
 * a conditional write succeeded exactly when its version was the model's; a refused one changed
 * nothing (values, versions, revision); every version a write gives is above every revision
 * before it; and every version the store answers is the model's, reopens and compactions
 * included.
 *
 *   STRATUM_VERSIONS_RUNS=<n> STRATUM_VERSIONS_SEED=<seed> node --import tsx --test test/versions.property.test.ts
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { int64, isStratumError, openStore, type Store } from '../src/engine/index.ts'

type Target = { kind: 'problem' } | { kind: 'testCase'; index: number } | { kind: 'output'; index: number }
/** Which version a conditional write expects: the model's, an older one, one never issued, or none. */
type Condition = 'current' | 'stale' | 'future' | 'none'

type Step =
  | { step: 'write'; target: Target; condition: Condition; value: number }
  | { step: 'race'; target: Target; value: number }
  | { step: 'reopen' }
  | { step: 'compact' }

const testCaseCount = 3
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  fc.constant<Target>({ kind: 'problem' }),
  fc.nat(testCaseCount - 1).map((index): Target => ({ kind: 'testCase', index })),
  fc.nat(testCaseCount - 1).map((index): Target => ({ kind: 'output', index })),
)
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ step: fc.constant('write' as const), target: targetArb, condition: fc.constantFrom<Condition>('current', 'current', 'stale', 'future', 'none'), value: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ step: fc.constant('race' as const), target: targetArb, value: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.constant<Step>({ step: 'reopen' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ step: 'compact' }) },
)

/** What the model knows: each thing's value and the version of its last change. */
interface Model {
  problemId: number
  column: string
  problemVersion: number
  tcIds: number[]
  testCases: Array<{ value: number; version: number }>
  outputs: Array<{ value: number; version: number } | undefined>
  /** The highest version any write gave. */
  revision: number
}

function expectedOf(model: Model, target: Target): number | undefined {
  switch (target.kind) {
    case 'problem':
      return model.problemVersion
    case 'testCase':
      return model.testCases[target.index]!.version
    case 'output':
      return model.outputs[target.index]?.version
  }
}

/** The write a step makes: an update of the target (an output is set when it has none, unconditionally). */
function write(store: Store, model: Model, target: Target, value: number, expectedVersion: number | undefined): Promise<number> {
  const condition = expectedVersion === undefined ? {} : { expectedVersion }
  switch (target.kind) {
    case 'problem':
      return store.updateProblemColumn(model.problemId, 'c', String(value), condition)
    case 'testCase':
      return store.updateTestCase(model.problemId, model.tcIds[target.index]!, int64(BigInt(value)), condition)
    case 'output':
      return model.outputs[target.index] === undefined && expectedVersion === undefined
        ? store.setExpectedOutput(model.problemId, model.tcIds[target.index]!, int64(BigInt(value)))
        : store.updateExpectedOutput(model.problemId, model.tcIds[target.index]!, int64(BigInt(value)), condition)
  }
}

/** Records a write the store acknowledged with `version`. */
function apply(model: Model, target: Target, value: number, version: number): void {
  assert.ok(version > model.revision, `a write's version ${version} is above every revision before it (${model.revision})`)
  model.revision = version
  if (target.kind === 'problem') {
    model.column = String(value)
    model.problemVersion = version
  } else if (target.kind === 'testCase') model.testCases[target.index] = { value, version }
  else model.outputs[target.index] = { value, version }
}

/** Every value and version the store answers is the model's. */
async function check(store: Store, model: Model): Promise<void> {
  assert.deepEqual(await store.getProblemMeta(model.problemId), { c: model.column })
  assert.equal(await store.getProblemVersion(model.problemId), model.problemVersion)
  for (const [index, tcId] of model.tcIds.entries()) {
    const testCase = model.testCases[index]!
    assert.deepEqual(await store.getTestCase(model.problemId, tcId), int64(BigInt(testCase.value)))
    assert.equal(await store.getTestCaseVersion(model.problemId, tcId), testCase.version)
    const output = model.outputs[index]
    assert.deepEqual(await store.getExpectedOutput(model.problemId, tcId), output === undefined ? undefined : int64(BigInt(output.value)))
    assert.equal(await store.getExpectedOutputVersion(model.problemId, tcId), output?.version)
  }
  assert.ok(store.revision >= model.revision)
}

function isMismatch(error: unknown): boolean {
  return isStratumError(error) && error.code === 'VERSION_MISMATCH'
}

async function run(steps: Step[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-versions-property-'))
  let store = await openStore({ dir, syncMode: 'none', segmentSizeBytes: 4096 })
  try {
    const problemId = await store.createProblem('<p>p</p>', { c: 'start' })
    const tcIds: number[] = []
    for (let index = 0; index < testCaseCount; index++) tcIds.push(await store.addTestCase(problemId, int64(BigInt(index))))
    const model: Model = {
      problemId,
      column: 'start',
      problemVersion: (await store.getProblemVersion(problemId))!,
      tcIds,
      testCases: await Promise.all(tcIds.map(async (tcId, index) => ({ value: index, version: (await store.getTestCaseVersion(problemId, tcId))! }))),
      outputs: tcIds.map(() => undefined),
      revision: store.revision,
    }
    for (const step of steps) {
      switch (step.step) {
        case 'write': {
          const current = expectedOf(model, step.target)
          const expected =
            step.condition === 'none' ? undefined : step.condition === 'current' ? current : step.condition === 'stale' ? Math.max(1, (current ?? 1) - 1) : model.revision + 1000
          // Unconditional writes always succeed (an output without one is set).
          const succeeds = expected === undefined || (current !== undefined && expected === current)
          const before = store.revision
          let version: number | undefined
          try {
            version = await write(store, model, step.target, step.value, expected)
          } catch (error) {
            // An output never set, with a condition: NOT_FOUND (there is nothing to update).
            const noOutput = step.target.kind === 'output' && current === undefined && expected !== undefined
            assert.ok(isMismatch(error) || (noOutput && isStratumError(error) && error.code === 'NOT_FOUND'), String(error))
            assert.ok(!succeeds || noOutput, `a write at the current version ${String(expected)} was refused: ${String(error)}`)
            assert.equal(store.revision, before, 'a refused write wrote nothing')
          }
          if (version !== undefined) {
            assert.ok(succeeds, `a write expecting ${String(expected)} succeeded at version ${String(current)}`)
            apply(model, step.target, step.value, version)
          }
          break
        }
        case 'race': {
          // Two writes in one tick, both at the model's version: the first wins, the second sees it.
          const current = expectedOf(model, step.target)
          if (current === undefined) break
          const first = write(store, model, step.target, step.value, current)
          const second = write(store, model, step.target, step.value + 1, current)
          const [won, lost] = await Promise.allSettled([first, second])
          assert.equal(won.status, 'fulfilled', 'the first of two racing writes wins')
          assert.ok(lost.status === 'rejected' && isMismatch(lost.reason), 'the second of two racing writes is refused')
          apply(model, step.target, step.value, (won as PromiseFulfilledResult<number>).value)
          break
        }
        case 'reopen':
          await store.close()
          store = await openStore({ dir, syncMode: 'none', segmentSizeBytes: 4096 })
          break
        case 'compact':
          await store.compactNow()
          break
      }
      await check(store, model)
    }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('versions against a model', () => {
  it('conditional writes succeed exactly at the current version, and versions only grow, across reopens and compactions', { timeout: 600_000 }, async () => {
    const numRuns = Number(process.env.STRATUM_VERSIONS_RUNS ?? 60)
    const seed = process.env.STRATUM_VERSIONS_SEED === undefined ? undefined : Number(process.env.STRATUM_VERSIONS_SEED)
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => run(steps)),
      { numRuns, ...(seed === undefined ? {} : { seed }), includeErrorInReport: true },
    )
  })
})
