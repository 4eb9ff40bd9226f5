/**
 * The wire conformance cases: for each method of LseService, what a request holds (drawn by
 * fast-check), the fixture it is sent to, and what it did, observed in a form that does not
 * depend on the fixture's ids, so that two encodings sent to two fresh fixtures can be compared.
 *
 * A write's case also knows what the request must do (`expected`, from the model); a read's
 * is compared with what the canonical encoding got.
 */
import * as grpc from '@grpc/grpc-js'
import fc from 'fast-check'
import { isStratumClientError, type StratumClient, type Value } from '../../src/client/index.ts'
import { lseServiceName, loadLseRoot, type LseMethodName } from '../../src/protocol/proto-definition.ts'
import { canonicalValue } from './canonical-value.ts'
import { stringField, valueNodes, varintField, type WireNode } from './wire-encoding.ts'

/** What the server answered a call sent as raw bytes. */
export interface CallResult {
  code: grpc.status
  details: string
  response?: Buffer
}

/** How a call changed the store's counters (after minus before). */
export interface StoreDelta {
  problems: number
  testCases: number
  outputs: number
  diskBytes: number
  compactions: number
}

/** One request, ready to be sent, with its fixture. */
export interface Trial {
  /** The request's fields, canonically: in number order, defaults left out. */
  nodes: WireNode[]
  /**
   * What the call did, by the fixture's relative names: for an accepted call (`result`) its
   * answer and the fixture's state; for a refused one (no `result`) the fixture's state alone.
   */
  observe(result: CallResult | undefined, delta: StoreDelta): Promise<unknown>
  /** What `observe` must give for an accepted call, when the model knows. */
  expected?: unknown
}

export interface ConformanceCase<Draw = unknown> {
  arbitrary: fc.Arbitrary<Draw>
  /** A write changes its fixture: each encoding gets a fresh one. A read shares one per draw. */
  freshFixture: boolean
  /** A compaction rewrites the segments: the bytes on disk are no part of what it did. */
  rewritesSegments?: boolean
  /** Fewer draws for a method whose call is slow (CompactNow): a share of the file's runs. */
  runsShare?: number
  trial(draw: Draw): Promise<Trial>
}

const root = loadLseRoot()
const service = root.lookupService(lseServiceName)

/** The request type of `method`, from the proto. */
export const requestTypeOf = (method: string) => service.methods[method]!.resolvedRequestType!

/** A response as plain data: 64-bit integers as strings, enums by name, defaults filled in. */
export function decodeResponse(method: string, response: Buffer | undefined): unknown {
  const type = service.methods[method]!.resolvedResponseType!
  return type.toObject(type.decode(response ?? Buffer.alloc(0)), { longs: String, enums: String, defaults: true, oneofs: true })
}

const okResponse = (method: string, result: CallResult | undefined) => (result?.code === grpc.status.OK ? decodeResponse(method, result.response) : undefined)

/** The id field of a response (CreateProblem, AddTestCase), as a number. */
const newIdOf = (method: 'CreateProblem' | 'AddTestCase', result: CallResult | undefined): number | undefined => {
  const response = okResponse(method, result) as { problemId?: string; tcId?: string } | undefined
  return response === undefined ? undefined : Number(response.problemId ?? response.tcId)
}

/** A read's value, or the name of the status it failed with (NOT_FOUND for something deleted). */
async function orStatus<T>(read: Promise<T>): Promise<T | string> {
  try {
    return await read
  } catch (error) {
    if (isStratumClientError(error)) return grpc.status[error.code]
    throw error
  }
}

// ---------------------------------------------------------------- the models' values

const int64Arb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
export const textArb = fc.string({ unit: 'binary', maxLength: 6 })
const columnNameArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 6 })
export const valueArb: fc.Arbitrary<Value> = fc.oneof(
  int64Arb.map((value) => ({ type: 'int64' as const, value })),
  fc.double().map((value) => ({ type: 'double' as const, value })),
  textArb.map((value) => ({ type: 'string' as const, value })),
  fc.array(int64Arb, { maxLength: 6 }).map((value) => ({ type: 'int64List' as const, value })),
  fc.array(textArb, { maxLength: 4 }).map((value) => ({ type: 'stringList' as const, value })),
  fc
    .uniqueArray(fc.tuple(textArb, textArb), { maxLength: 4, selector: ([key]) => key })
    .map((entries) => ({ type: 'stringMap' as const, value: new Map(entries) })),
)
const columnsArb = fc.uniqueArray(fc.tuple(columnNameArb, textArb), { maxLength: 3, selector: ([name]) => name })

/** A test case of a fixture: its value, and its expected output if it has one. */
interface FixtureTestCase {
  value: Value
  output?: Value
}

const fixtureTestCaseArb: fc.Arbitrary<FixtureTestCase> = fc.record({ value: valueArb, output: valueArb }, { requiredKeys: ['value'] })

/** The fixture's test cases as stored, in chain order, each named by its index in `tcIds` (or `new` for another). */
type Chain = { tc: number | 'new'; value: string; output?: string }[]

const chainModel = (testCases: readonly FixtureTestCase[]): Chain =>
  testCases.map((testCase, tc) => (testCase.output === undefined ? { tc, value: canonicalValue(testCase.value) } : { tc, value: canonicalValue(testCase.value), output: canonicalValue(testCase.output) }))

// ---------------------------------------------------------------- the cases

/** `define` keeps a case's draw typed where it is written, and erases it for the table. */
const define = <Draw>(conformanceCase: ConformanceCase<Draw>) => conformanceCase as unknown as ConformanceCase

export function conformanceCases(client: StratumClient): Record<LseMethodName, ConformanceCase> {
  /** A problem with its test cases and their outputs, made for one trial. */
  async function makeProblem(html: string, meta: Map<string, string>, testCases: readonly FixtureTestCase[]) {
    const problemId = await client.createProblem(html, meta)
    const tcIds: number[] = []
    for (const testCase of testCases) {
      const tcId = await client.addTestCase(problemId, testCase.value)
      if (testCase.output !== undefined) await client.setExpectedOutput(problemId, tcId, testCase.output)
      tcIds.push(tcId)
    }
    return { problemId, tcIds }
  }

  /** The stored chain of a problem, by fixture index; NOT_FOUND once it is deleted. */
  async function chainOf(problemId: number, tcIds: readonly number[]): Promise<Chain | string> {
    const read = async () => {
      const chain: Chain = []
      for await (const testCase of client.getAllTestCases(problemId, { includeOutputs: true })) {
        const tc = tcIds.indexOf(testCase.tcId)
        const item = { tc: tc === -1 ? ('new' as const) : tc, value: canonicalValue(testCase.value) }
        chain.push(testCase.output === undefined ? item : { ...item, output: canonicalValue(testCase.output) })
      }
      return chain
    }
    return orStatus(read())
  }

  /** Everything stored of a problem: text, columns and chain. */
  const problemState = async (problemId: number, tcIds: readonly number[]) => ({
    html: await orStatus(client.getProblemHtml(problemId)),
    meta: await orStatus(client.getProblemMeta(problemId)),
    chain: await chainOf(problemId, tcIds),
  })
  const problemModel = (html: string, meta: Map<string, string>, testCases: readonly FixtureTestCase[]) => ({ html, meta: Object.fromEntries(meta), chain: chainModel(testCases) })

  /** A problem to change and one beside it that nothing may touch. */
  const pairArb = fc.record({ testCases: fc.array(fixtureTestCaseArb, { minLength: 1, maxLength: 3 }), sibling: fc.array(fixtureTestCaseArb, { maxLength: 2 }) })
  async function makePair(draw: { testCases: FixtureTestCase[]; sibling: FixtureTestCase[] }) {
    const target = await makeProblem('<p>target</p>', new Map([['kind', 'target']]), draw.testCases)
    const sibling = await makeProblem('<p>sibling</p>', new Map([['kind', 'sibling']]), draw.sibling)
    const state = async () => ({ target: await problemState(target.problemId, target.tcIds), sibling: await problemState(sibling.problemId, sibling.tcIds) })
    /** Both problems, and how many problems, test cases and outputs the call added or removed. */
    const observe = async (_result: CallResult | undefined, delta: StoreDelta) => ({ ...(await state()), counts: counts(delta) })
    const model = (targetChain: Chain | string, targetText: { html: string; meta: Record<string, string> } | string = { html: '<p>target</p>', meta: { kind: 'target' } }) => ({
      target: typeof targetText === 'string' ? { html: targetText, meta: targetText, chain: targetChain } : { ...targetText, chain: targetChain },
      sibling: problemModel('<p>sibling</p>', new Map([['kind', 'sibling']]), draw.sibling),
    })
    return { target, state, observe, model }
  }
  const counts = (delta: StoreDelta) => ({ problems: delta.problems, testCases: delta.testCases, outputs: delta.outputs })
  const noCounts = { problems: 0, testCases: 0, outputs: 0 }

  /** A test case of the target, by index, drawn with the pair. */
  const pairWithIndexArb = pairArb.chain((pair) => fc.record({ pair: fc.constant(pair), index: fc.nat(pair.testCases.length - 1) }))
  const testCaseIdNodes = (problemId: number, tcId: number) => [...varintField(1, problemId), ...varintField(2, tcId)]
  /** The expected_version field `num` of a conditional write at the target's current version (a fixture's own), or none. */
  const conditionNodes = async (conditional: boolean, num: number, version: () => Promise<number>) => (conditional ? varintField(num, await version()) : [])

  /** Writes of a value to a test case (UpdateTestCase, SetExpectedOutput, UpdateExpectedOutput). */
  const valueWrite = (slot: 'value' | 'output', outputs: 'all' | 'but target') =>
    define({
      arbitrary: fc.record({ pick: pairWithIndexArb, value: valueArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pick: { pair, index }, value, conditional }) {
        const testCases = pair.testCases.map((testCase, tc) => ({ value: testCase.value, output: outputs === 'but target' && tc === index ? undefined : (testCase.output ?? testCase.value) }))
        const { target, observe, model } = await makePair({ ...pair, testCases })
        const after = testCases.map((testCase, tc) => (tc === index ? { ...testCase, [slot]: value } : testCase))
        const [problemId, tcId] = [target.problemId, target.tcIds[index]!]
        // An update may carry a condition (SetExpectedOutput creates, and has none).
        const version = slot === 'value' ? () => client.getTestCaseVersioned(problemId, tcId).then((read) => read.version) : () => client.getExpectedOutputVersioned(problemId, tcId).then((read) => read.version)
        const condition = outputs === 'all' ? await conditionNodes(conditional, 4, version) : []
        return {
          nodes: [...testCaseIdNodes(problemId, tcId), { t: 'message', num: 3, fields: valueNodes(value) }, ...condition],
          observe,
          expected: { ...model(chainModel(after)), counts: { problems: 0, testCases: 0, outputs: slot === 'output' && outputs === 'but target' ? 1 : 0 } },
        }
      },
    })

  // The read fixture: made once, on the first read's draw, and never changed.
  let readFixture: Promise<{ problemId: number; tcIds: number[] }[]> | undefined
  const readProblems = () =>
    (readFixture ??= (async () => [
      await makeProblem('<p>read zero</p>', new Map([['a', '1'], ['b', '']]), [
        { value: { type: 'int64', value: 5n }, output: { type: 'string', value: 'x' } },
        { value: { type: 'stringList', value: [] } },
        { value: { type: 'double', value: Number.NaN }, output: { type: 'int64List', value: [1n, -2n] } },
      ]),
      await makeProblem('', new Map(), []),
      await makeProblem('ünï\u{1f600}', new Map([['__proto__', 'p']]), [
        { value: { type: 'stringMap', value: new Map([['k', 'v'], ['', '']]) } },
        { value: { type: 'string', value: 'a\0b' }, output: { type: 'double', value: -0 } },
        { value: { type: 'int64', value: -(2n ** 63n) } },
        { value: { type: 'int64List', value: [] }, output: { type: 'stringList', value: ['', 'y'] } },
        { value: { type: 'double', value: Number.POSITIVE_INFINITY }, output: { type: 'int64', value: 0n } },
      ]),
    ])())

  /** An id that names nothing: unknown, 0 (required), over 2^53-1 (the largest id), or the largest uint64 (a 10-byte varint). */
  type SpecialId = 'unknown' | 'zero' | 'over 2^53-1' | 'max uint64'
  const specialIdArb = fc.constantFrom<SpecialId>('unknown', 'zero', 'over 2^53-1', 'max uint64')
  const specialIds: Record<SpecialId, bigint> = { unknown: 2n ** 53n - 1n, zero: 0n, 'over 2^53-1': 2n ** 53n, 'max uint64': 2n ** 64n - 1n }
  /** A problem of the read fixture, by index, or a special id. */
  type ProblemRef = number | SpecialId
  const problemRefArb: fc.Arbitrary<ProblemRef> = fc.oneof({ weight: 6, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: specialIdArb })
  const problemIdOf = (problems: readonly { problemId: number }[], ref: ProblemRef) => (typeof ref === 'number' ? BigInt(problems[ref]!.problemId) : specialIds[ref])
  /** A test case named with a problem: one of its own, by index, another problem's, or a special id. */
  type TestCaseRef = { own: number } | { ofAnotherProblem: true } | { special: SpecialId }
  const testCaseRefArb: fc.Arbitrary<TestCaseRef> = fc.oneof(
    { weight: 6, arbitrary: fc.nat(4).map((own) => ({ own })) },
    { weight: 1, arbitrary: fc.constant({ ofAnotherProblem: true as const }) },
    { weight: 1, arbitrary: specialIdArb.map((special) => ({ special })) },
  )

  /** A read of one test case (GetTestCase, GetExpectedOutput). */
  const testCaseRead = (method: 'GetTestCase' | 'GetExpectedOutput') =>
    define({
      arbitrary: fc.record({ problem: problemRefArb, tc: testCaseRefArb }),
      freshFixture: false,
      async trial({ problem, tc }) {
        const problems = await readProblems()
        const owner = typeof problem === 'number' ? problems[problem]! : problems[0]!
        const another = problems.find((other) => other !== owner && other.tcIds.length > 0)!
        const tcId =
          'special' in tc
            ? specialIds[tc.special]
            : 'own' in tc
              ? // The middle problem has no test case: its "own" is then another's.
                BigInt(owner.tcIds[tc.own % Math.max(1, owner.tcIds.length)] ?? another.tcIds[0]!)
              : BigInt(another.tcIds.at(-1)!)
        return { nodes: [...varintField(1, problemIdOf(problems, problem)), ...varintField(2, tcId)], observe: async (result) => okResponse(method, result) }
      },
    })

  const pageSizeArb = fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 2, arbitrary: fc.constantFrom(1000, 100_000, -1, 100_001, -(2 ** 31), 2 ** 31 - 1) },
  )
  /** A page token: none, the one after `pages` pages (of `size`), one of another listing, or not a token. */
  type TokenRef = { pages: number; size: number } | 'other listing' | 'not a token'
  const tokenRefArb: fc.Arbitrary<TokenRef | undefined> = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.record({ pages: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.constantFrom('other listing' as const, 'not a token' as const) },
  )
  const notTokens = ['garbage', 'cDE', 'p1', 'dDEuMg', '\u00e9']

  /** The token after `pages` pages of `size` problems; '' when the listing ends sooner. */
  async function problemToken(pages: number, size: number): Promise<string> {
    let token: string | undefined
    for (let page = 0; page < pages; page++) {
      token = (await client.listProblemsPage({ pageSize: size, pageToken: token })).nextPageToken
      if (token === undefined) return ''
    }
    return token ?? ''
  }
  async function testCaseToken(problemId: number, pages: number, size: number): Promise<string> {
    let token: string | undefined
    for (let page = 0; page < pages; page++) {
      token = (await client.getAllTestCasesPage(problemId, { pageSize: size, pageToken: token })).nextPageToken
      if (token === undefined) return ''
    }
    return token ?? ''
  }

  const problemRead = (method: 'GetProblemHtml' | 'GetProblemMeta') =>
    define({
      arbitrary: problemRefArb,
      freshFixture: false,
      async trial(problem) {
        const problems = await readProblems()
        return { nodes: varintField(1, problemIdOf(problems, problem)), observe: async (result) => okResponse(method, result) }
      },
    })

  /** A call that takes no fields: each encoding gets the same answer. */
  const noFields = (method: 'GetStats' | 'Flush') =>
    define({
      arbitrary: fc.constant(null),
      // Flush syncs what was written since the last one: a write before each makes that the same.
      freshFixture: method === 'Flush',
      async trial() {
        if (method === 'Flush') await client.createProblem('<p>to sync</p>')
        return {
          nodes: [],
          observe: async (result) => {
            const response = okResponse(method, result) as Record<string, unknown> | undefined
            // Time passes between two calls: the only field of GetStats that a call does not set.
            if (response !== undefined) delete response.uptimeMs
            return response
          },
        }
      },
    })

  return {
    CreateProblem: define({
      arbitrary: fc.record({ html: textArb, columns: columnsArb }),
      freshFixture: true,
      async trial({ html, columns }) {
        return {
          nodes: [...stringField(1, html), ...columns.map(([name, value]): WireNode => ({ t: 'message', num: 2, fields: [...stringField(1, name), ...stringField(2, value)] }))],
          async observe(result, delta) {
            const problemId = newIdOf('CreateProblem', result)
            return { counts: counts(delta), problem: problemId === undefined ? undefined : await problemState(problemId, []) }
          },
          expected: { counts: { problems: 1, testCases: 0, outputs: 0 }, problem: problemModel(html, new Map(columns), []) },
        }
      },
    }),

    GetProblemHtml: problemRead('GetProblemHtml'),
    GetProblemMeta: problemRead('GetProblemMeta'),

    UpdateProblemHtml: define({
      arbitrary: fc.record({ pair: pairArb, html: textArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pair, html, conditional }) {
        const { target, observe, model } = await makePair(pair)
        const condition = await conditionNodes(conditional, 3, () => client.getProblemHtmlVersioned(target.problemId).then((read) => read.version))
        return {
          nodes: [...varintField(1, target.problemId), ...stringField(2, html), ...condition],
          observe,
          expected: { ...model(chainModel(pair.testCases), { html, meta: { kind: 'target' } }), counts: noCounts },
        }
      },
    }),

    UpdateProblemColumn: define({
      arbitrary: fc.record({ pair: pairArb, column: fc.oneof(columnNameArb, fc.constant('kind')), value: textArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pair, column, value, conditional }) {
        const { target, observe, model } = await makePair(pair)
        const meta = new Map([['kind', 'target'], [column, value]])
        const condition = await conditionNodes(conditional, 4, () => client.getProblemHtmlVersioned(target.problemId).then((read) => read.version))
        return {
          nodes: [...varintField(1, target.problemId), ...stringField(2, column), ...stringField(3, value), ...condition],
          observe,
          expected: { ...model(chainModel(pair.testCases), { html: '<p>target</p>', meta: Object.fromEntries(meta) }), counts: noCounts },
        }
      },
    }),

    DeleteProblem: define({
      arbitrary: fc.record({ pair: pairArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pair, conditional }) {
        const { target, state, model } = await makePair(pair)
        const outputs = pair.testCases.filter((testCase) => testCase.output !== undefined).length
        const condition = await conditionNodes(conditional, 2, () => client.getProblemHtmlVersioned(target.problemId).then((read) => read.version))
        return {
          nodes: [...varintField(1, target.problemId), ...condition],
          observe: async (_result, delta) => ({
            ...(await state()),
            // Its test cases are gone too, not only out of its chain.
            testCases: await Promise.all(target.tcIds.map((tcId) => orStatus(client.getTestCase(target.problemId, tcId).then(canonicalValue)))),
            counts: counts(delta),
          }),
          expected: { ...model('NOT_FOUND', 'NOT_FOUND'), testCases: target.tcIds.map(() => 'NOT_FOUND'), counts: { problems: -1, testCases: 0 - pair.testCases.length, outputs: 0 - outputs } },
        }
      },
    }),

    ListProblems: define({
      arbitrary: fc.record({ pageSize: pageSizeArb, token: tokenRefArb }),
      freshFixture: false,
      async trial({ pageSize, token }) {
        const problems = await readProblems()
        const pageToken =
          token === undefined ? '' : token === 'other listing' ? await testCaseToken(problems[2]!.problemId, 1, 2) : token === 'not a token' ? notTokens[Math.abs(pageSize) % notTokens.length]! : await problemToken(token.pages, token.size)
        return { nodes: [...varintField(1, pageSize), ...stringField(2, pageToken)], observe: async (result) => okResponse('ListProblems', result) }
      },
    }),

    AddTestCase: define({
      arbitrary: fc.record({ pair: pairArb, value: valueArb }),
      freshFixture: true,
      async trial({ pair, value }) {
        const { target, state, model } = await makePair(pair)
        return {
          nodes: [...varintField(1, target.problemId), { t: 'message', num: 2, fields: valueNodes(value) }],
          async observe(result, delta) {
            const tcId = newIdOf('AddTestCase', result)
            // The answer names the test case that was added: the last of the chain.
            const added = tcId === undefined ? undefined : await orStatus(client.getTestCase(target.problemId, tcId).then(canonicalValue))
            return { ...(await state()), added, counts: counts(delta) }
          },
          expected: {
            ...model([...chainModel(pair.testCases), { tc: 'new', value: canonicalValue(value) }]),
            added: canonicalValue(value),
            counts: { problems: 0, testCases: 1, outputs: 0 },
          },
        }
      },
    }),

    GetTestCase: testCaseRead('GetTestCase'),

    GetAllTestCases: define({
      arbitrary: fc.record({ problem: problemRefArb, includeOutputs: fc.boolean(), pageSize: pageSizeArb, token: tokenRefArb }),
      freshFixture: false,
      async trial({ problem, includeOutputs, pageSize, token }) {
        const problems = await readProblems()
        const problemId = problemIdOf(problems, problem)
        const listed = typeof problem === 'number' ? problems[problem]!.problemId : problems[2]!.problemId
        const pageToken =
          token === undefined
            ? ''
            : token === 'other listing'
              ? await problemToken(1, 1)
              : token === 'not a token'
                ? notTokens[Math.abs(pageSize) % notTokens.length]!
                : // Sometimes another problem's token, which is refused.
                  await testCaseToken(token.size === 3 ? problems[2]!.problemId : listed, token.pages, token.size)
        return {
          nodes: [...varintField(1, problemId), ...varintField(2, includeOutputs ? 1 : 0), ...varintField(3, pageSize), ...stringField(4, pageToken)],
          observe: async (result) => okResponse('GetAllTestCases', result),
        }
      },
    }),

    UpdateTestCase: valueWrite('value', 'all'),

    DeleteTestCase: define({
      arbitrary: fc.record({ pick: pairWithIndexArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pick: { pair, index }, conditional }) {
        const { target, state, model } = await makePair(pair)
        const deleted = pair.testCases[index]!
        const condition = await conditionNodes(conditional, 3, () => client.getTestCaseVersioned(target.problemId, target.tcIds[index]!).then((read) => read.version))
        return {
          nodes: [...testCaseIdNodes(target.problemId, target.tcIds[index]!), ...condition],
          observe: async (_result, delta) => ({
            ...(await state()),
            deleted: await orStatus(client.getTestCase(target.problemId, target.tcIds[index]!).then(canonicalValue)),
            counts: counts(delta),
          }),
          expected: {
            ...model(chainModel(pair.testCases).filter((item) => item.tc !== index)),
            deleted: 'NOT_FOUND',
            counts: { problems: 0, testCases: -1, outputs: deleted.output === undefined ? 0 : -1 },
          },
        }
      },
    }),

    SetExpectedOutput: valueWrite('output', 'but target'),
    GetExpectedOutput: testCaseRead('GetExpectedOutput'),
    UpdateExpectedOutput: valueWrite('output', 'all'),

    DeleteExpectedOutput: define({
      arbitrary: fc.record({ pick: pairWithIndexArb, conditional: fc.boolean() }),
      freshFixture: true,
      async trial({ pick: { pair, index }, conditional }) {
        // The target's test case has an output to delete; the others keep theirs (or their lack of one).
        const testCases = pair.testCases.map((testCase, tc) => (tc === index ? { value: testCase.value, output: testCase.output ?? testCase.value } : testCase))
        const { target, observe, model } = await makePair({ ...pair, testCases })
        const condition = await conditionNodes(conditional, 3, () => client.getExpectedOutputVersioned(target.problemId, target.tcIds[index]!).then((read) => read.version))
        return {
          nodes: [...testCaseIdNodes(target.problemId, target.tcIds[index]!), ...condition],
          observe,
          expected: { ...model(chainModel(testCases.map((testCase, tc) => (tc === index ? { value: testCase.value } : testCase)))), counts: { problems: 0, testCases: 0, outputs: -1 } },
        }
      },
    }),

    GetStats: noFields('GetStats'),
    Flush: noFields('Flush'),

    CompactNow: define({
      arbitrary: fc.constant(null),
      freshFixture: true,
      rewritesSegments: true,
      runsShare: 0.1,
      async trial() {
        // Garbage to collect, so that each compaction has something to merge and counts as a run.
        await client.deleteProblem(await client.createProblem('<p>garbage</p>'))
        return {
          nodes: [],
          async observe(result, delta) {
            const response = okResponse('CompactNow', result) as { result: { segmentsCompacted: string } | null } | undefined
            return { compacted: response === undefined ? undefined : Number(response.result?.segmentsCompacted) > 0, compactions: delta.compactions }
          },
          expected: { compacted: true, compactions: 1 },
        }
      },
    }),

    // A batch: a test case added to the target, its output set through tc_ref (the position of
    // the add, from 1), and the target's text replaced.
    Commit: define({
      arbitrary: fc.record({ pair: pairArb, value: valueArb, output: valueArb, html: textArb }),
      freshFixture: true,
      async trial({ pair, value, output, html }) {
        const { target, state, model } = await makePair(pair)
        const problemField = varintField(1, target.problemId)
        const operation = (member: number, fields: WireNode[], more: WireNode[] = []): WireNode => ({ t: 'message', num: 1, fields: [{ t: 'message', num: member, fields }, ...more] })
        return {
          nodes: [
            operation(5, [...problemField, { t: 'message', num: 2, fields: valueNodes(value) }]),
            operation(8, [...problemField, { t: 'message', num: 3, fields: valueNodes(output) }], varintField(17, 1)),
            operation(2, [...problemField, ...stringField(2, html)]),
          ],
          async observe(result, delta) {
            const response = okResponse('Commit', result) as { createdIds: string[] } | undefined
            const tcId = response?.createdIds.length === 1 ? Number(response.createdIds[0]) : undefined
            const added = tcId === undefined ? undefined : await orStatus(client.getExpectedOutput(target.problemId, tcId).then(canonicalValue))
            return { ...(await state()), created: response?.createdIds.length, added, counts: counts(delta) }
          },
          expected: {
            ...model([...chainModel(pair.testCases), { tc: 'new', value: canonicalValue(value), output: canonicalValue(output) }], { html, meta: { kind: 'target' } }),
            created: 1,
            added: canonicalValue(output),
            counts: { problems: 0, testCases: 1, outputs: 1 },
          },
        }
      },
    }),
  }
}
