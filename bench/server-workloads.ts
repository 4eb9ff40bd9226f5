/**
 * The calls of the server benchmark: what each workload sends, the store it runs against, and
 * the canned responses of the no-op server (the same messages Stratum answers with).
 */
import type { LseMethodName } from '../src/protocol/proto-definition.ts'

/** Size of a problem's text: a typical statement. */
export const blobBytes = 4096
/** Test cases per problem, the chain GetAllTestCases reads. */
export const chainNodes = 10
/** Problems in the store the reads draw from. */
export const fixtureProblems = 100

export interface Fixture {
  problemIds: number[]
  testCases: { problemId: number; tcId: number }[]
}

export interface Workload {
  label: string
  method: LseMethodName
  /** The request of call number `index`, as proto-loader objects. */
  request(index: number, fixture: Fixture, random: () => number): object
}

/** A 4 KiB problem statement of plain ASCII. */
export function blobText(sizeBytes: number): string {
  const sentence = '<p>Given two integers a and b, print their sum. 1 &le; a, b &le; 10<sup>9</sup>.</p>\n'
  return sentence.repeat(Math.ceil(sizeBytes / sentence.length)).slice(0, sizeBytes)
}

/** A test case's value: 8 int64s, as the engine benchmark's input nodes. */
export function wireInput(seed: number): object {
  return { int64ListValue: { values: Array.from({ length: 8 }, (_, index) => String(seed * 31 + index * 1_000_003)) } }
}

const html = blobText(blobBytes)

export const workloads: readonly Workload[] = [
  {
    label: `GetProblemHtml (${blobBytes / 1024} KiB)`,
    method: 'GetProblemHtml',
    request: (_index, fixture, random) => ({ problemId: String(pick(fixture.problemIds, random)) }),
  },
  {
    label: 'GetTestCase',
    method: 'GetTestCase',
    request: (_index, fixture, random) => {
      const testCase = pick(fixture.testCases, random)
      return { problemId: String(testCase.problemId), tcId: String(testCase.tcId) }
    },
  },
  {
    label: `GetAllTestCases (${chainNodes} nodes)`,
    method: 'GetAllTestCases',
    request: (_index, fixture, random) => ({ problemId: String(pick(fixture.problemIds, random)), includeOutputs: false, pageSize: 0, pageToken: '' }),
  },
  {
    label: 'AddTestCase (durable)',
    method: 'AddTestCase',
    request: (index, fixture, random) => ({ problemId: String(pick(fixture.problemIds, random)), value: wireInput(index) }),
  },
  {
    label: `CreateProblem (${blobBytes / 1024} KiB)`,
    method: 'CreateProblem',
    request: () => ({ html, columns: [{ name: 'title', value: 'A+B' }] }),
  },
]

/** What the no-op server answers: the messages Stratum sends for the workloads' calls. */
export function cannedResponses(sizeBytes: number): Partial<Record<LseMethodName, object>> {
  return {
    GetProblemHtml: { html: blobText(sizeBytes) },
    GetTestCase: { value: wireInput(1) },
    GetAllTestCases: {
      testCases: Array.from({ length: chainNodes }, (_, index) => ({ tcId: String(1000 + index), value: wireInput(index), expectedOutput: null })),
      nextPageToken: '',
    },
    AddTestCase: { tcId: '123456' },
    CreateProblem: { problemId: '123456' },
  }
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!
}
