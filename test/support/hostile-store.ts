/**
 * The data hostile requests are sent against, and a snapshot of everything stored, taken over
 * the ordinary client before and after so that a run can show it changed nothing.
 */
import { double, int64, int64List, string, stringList, stringMap, type StratumClient, type Value } from '../../src/client/index.ts'
import { canonicalValue } from './canonical-value.ts'

export interface SeededData {
  problemIds: readonly number[]
  tcIdsByProblem: ReadonlyMap<number, readonly number[]>
}

export interface StoreSnapshot {
  problems: { id: number; html: string; meta: Record<string, string>; testCases: { tcId: number; value: string; output: string }[] }[]
}

/** Five problems, each with one test case of every value type (edge values), half with outputs. */
export async function seedHostileData(client: StratumClient): Promise<SeededData> {
  const values: Value[] = [
    int64(-(2n ** 63n)),
    double(NaN),
    string('a\u0000\u{1F600}'),
    int64List([]),
    stringList(['', 'x']),
    stringMap({ __proto__: 'k', b: '' } as Record<string, string>),
  ]
  const problemIds: number[] = []
  const tcIdsByProblem = new Map<number, number[]>()
  for (let index = 0; index < 5; index++) {
    const problemId = await client.createProblem(`<p>problem ${index}</p>`, { title: `T${index}` })
    problemIds.push(problemId)
    const tcIds: number[] = []
    for (const value of values) {
      const tcId = await client.addTestCase(problemId, value)
      tcIds.push(tcId)
      if (tcId % 2 === 0) await client.setExpectedOutput(problemId, tcId, value)
    }
    tcIdsByProblem.set(problemId, tcIds)
  }
  return { problemIds, tcIdsByProblem }
}

export async function snapshotStore(client: StratumClient): Promise<StoreSnapshot> {
  const problems: StoreSnapshot['problems'] = []
  for await (const id of client.listProblems()) {
    const testCases = []
    for await (const testCase of client.getAllTestCases(id, { includeOutputs: true })) {
      testCases.push({ tcId: testCase.tcId, value: canonicalValue(testCase.value), output: canonicalValue(testCase.output) })
    }
    problems.push({ id, html: await client.getProblemHtml(id), meta: await client.getProblemMeta(id), testCases })
  }
  return { problems }
}
