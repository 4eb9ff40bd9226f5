/**
 * Wire conformance: the server must read every request by protobuf's encoding rules, as
 * proto/lse.proto states them.
 *
 * For each method of LseService (every one the proto declares: a method without a case fails
 * the first test), fast-check draws a request and its fixture (conformance-cases.ts), and the
 * test sends the canonical encoding and encodings that protobuf's rules say decode to the same
 * message (equivalent-encodings.ts): padded varints, fields out of order, repeated fields split,
 * packed and unpacked numbers mixed, scalars and oneof members sent before the one that counts,
 * message fields split into occurrences that merge, defaults sent explicitly, and unknown fields
 * of every wire type. A write gets a fresh fixture per encoding, and what it did (the fixture read
 * back, the counters of the store, the bytes it appended) must be what the model says and the
 * same for every encoding; a read must get the canonical encoding's answer, status and message
 * included, from every encoding.
 *
 * Then it breaks each request in one place (a field cut short, a length past the end, a wrong
 * wire type, a string that is not UTF-8, a group left open, ...): the server must answer
 * INVALID_ARGUMENT as a malformed request, and nothing may change. (The contract refuses a known
 * field of the wrong wire type, which the C++ and Go implementations would skip as unknown.)
 *
 * Run time: WIRE_CONFORMANCE_RUNS draws per method (default 20; CompactNow a tenth of that), each
 * sent as 5 equivalent and 3 broken encodings: about 20 s on an idle 2-core machine, 45 s on a
 * busy one, most of it in the writes' fresh fixtures. Set it higher to search longer.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import fc from 'fast-check'
import { lseMethodNames, lseServiceName, loadLseRoot } from '../../src/protocol/proto-definition.ts'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { canonicalValue } from '../support/canonical-value.ts'
import { conformanceCases, requestTypeOf, type CallResult, type ConformanceCase, type StoreDelta } from '../support/conformance-cases.ts'
import { corrupted, equivalentNodes, paddingOptions } from '../support/equivalent-encodings.ts'
import { encodeNodes, varintBytes } from '../support/wire-encoding.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

const numRuns = Number(process.env.WIRE_CONFORMANCE_RUNS ?? 20)
/** Equivalent encodings sent for each draw, after the canonical one. */
const variantsPerDraw = 4
/** Broken encodings sent for each draw. */
const brokenPerDraw = 3

/**
 * Every unary method of the service: the proto's, and the list the server and client are built
 * from. Watch streams its answers, which a unary call cannot take: test/server/watch.test.ts
 * checks its request's encodings.
 */
const methodNames = [
  ...new Set([
    ...loadLseRoot()
      .lookupService(lseServiceName)
      .methodsArray.filter((method) => method.responseStream !== true)
      .map((method) => method.name),
    ...lseMethodNames,
  ]),
]

const hex = (bytes: Buffer) => bytes.toString('hex')

describe('wire conformance', () => {
  let server: TestServer
  let raw: grpc.Client
  let cases: Record<string, ConformanceCase>
  const identity = (bytes: Buffer) => bytes

  const send = (method: string, bytes: Buffer) =>
    new Promise<CallResult>((resolve) => {
      raw.makeUnaryRequest(`/${lseServiceName}/${method}`, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (error, response) =>
        resolve({ code: error?.code ?? grpc.status.OK, details: error?.details ?? '', response }),
      )
    })

  /** The store's counters that a call can change. */
  const counters = async () => {
    const stats = await server.client.getStats()
    return { problems: stats.problemsInIndex, testCases: stats.testCasesInIndex, outputs: stats.expectedOutputsInIndex, diskBytes: stats.diskBytes, compactions: stats.compaction.runs }
  }
  /** Sends `bytes` and returns the answer with how the store's counters moved. */
  async function sendCounted(method: string, bytes: Buffer): Promise<{ result: CallResult; delta: StoreDelta }> {
    const start = await counters()
    const result = await send(method, bytes)
    const end = await counters()
    const delta = Object.fromEntries(Object.entries(end).map(([key, value]) => [key, value - start[key as keyof StoreDelta]])) as unknown as StoreDelta
    return { result, delta }
  }

  /** The id in a response whose field 1 is a uint64 (CreateProblem, AddTestCase). */
  const idOf = (response: Buffer | undefined): number => Number((loadLseRoot().lookupType('lse.v1.AddTestCaseResponse').decode(response!) as unknown as { tcId: { toString(): string } }).tcId.toString())

  before(async () => {
    // No background compaction: the bytes on disk move only with the calls the test makes.
    server = await startTestServer({ store: { compactionIntervalMs: 0 } })
    raw = new grpc.Client(server.server.address, grpc.credentials.createInsecure())
    cases = conformanceCases(server.client)
  })

  after(async () => {
    raw.close()
    await server.stop()
  })

  /** Sends `bytes` and returns what it did, as the equivalents of a draw must all have done it. */
  async function observed(method: string, conformanceCase: ConformanceCase, bytes: Buffer, trial: Awaited<ReturnType<ConformanceCase['trial']>>) {
    const { result, delta } = await sendCounted(method, bytes)
    const state = await trial.observe(result, delta)
    if (trial.expected !== undefined) {
      assert.equal(grpc.status[result.code], 'OK', `${method} ${hex(bytes)}: ${result.details}`)
      assert.deepEqual(state, trial.expected, `${method} ${hex(bytes)}: not what the request asks for`)
    }
    const { diskBytes, ...counts } = delta
    // A write appends the same records for equivalent requests: as many bytes. A compaction does not.
    return { status: `${grpc.status[result.code]} ${result.details}`, counts, ...(conformanceCase.rewritesSegments === true ? {} : { diskBytes }), state }
  }

  /** Runs one draw: the canonical encoding, then equivalent ones, each doing the same. */
  async function checkEquivalents(method: string, conformanceCase: ConformanceCase, draw: unknown, seed: number, seen: Set<number>): Promise<void> {
    const type = requestTypeOf(method)
    const random = seededRandom(seed)
    let trial = await conformanceCase.trial(draw)
    for (const node of trial.nodes) if (node.t !== 'raw') seen.add(node.num)
    const canonical = encodeNodes(trial.nodes)
    const reference = await observed(method, conformanceCase, canonical, trial)
    for (let index = 1; index <= variantsPerDraw; index++) {
      if (conformanceCase.freshFixture) trial = await conformanceCase.trial(draw)
      const bytes = encodeNodes(equivalentNodes(type, trial.nodes, random), paddingOptions(random))
      const got = await observed(method, conformanceCase, bytes, trial)
      assert.deepEqual(got, reference, `${method} ${hex(bytes)} (equivalent ${index}) did otherwise than the canonical ${hex(canonical)}`)
    }
  }

  /** Runs one draw broken in `brokenPerDraw` ways: each refused as malformed, changing nothing. */
  async function checkBroken(method: string, conformanceCase: ConformanceCase, draw: unknown, seed: number): Promise<void> {
    const type = requestTypeOf(method)
    const random = seededRandom(seed)
    const trial = await conformanceCase.trial(draw)
    const zero: StoreDelta = { problems: 0, testCases: 0, outputs: 0, diskBytes: 0, compactions: 0 }
    const untouched = await trial.observe(undefined, zero)
    for (let index = 0; index < brokenPerDraw; index++) {
      const broken = corrupted(type, equivalentNodes(type, trial.nodes, random), random)
      const bytes = encodeNodes(broken.nodes, paddingOptions(random))
      const { result, delta } = await sendCounted(method, bytes)
      const why = `${method} ${hex(bytes)} (${broken.flaw})`
      assert.equal(grpc.status[result.code], 'INVALID_ARGUMENT', `${why}: ${result.details}`)
      // Refused for its bytes, before anything reads its fields.
      assert.match(result.details, /^malformed /, why)
      assert.deepEqual(delta, zero, `${why} changed the store`)
      assert.deepEqual(await trial.observe(undefined, delta), untouched, `${why} changed the fixture`)
    }
  }

  it('has a conformance case for every method of the service', () => {
    const missing = methodNames.filter((method) => !Object.hasOwn(cases, method))
    assert.deepEqual(missing, [], `no wire conformance case for ${missing.join(', ')}: add one to test/support/conformance-cases.ts`)
  })

  for (const method of methodNames) {
    const runs = () => Math.max(1, Math.round(numRuns * (cases[method]?.runsShare ?? 1)))

    it(`${method}: every equivalent encoding does what the canonical one does`, async () => {
      const conformanceCase = cases[method]
      assert.ok(conformanceCase !== undefined, `no wire conformance case for ${method}`)
      const seen = new Set<number>()
      await fc.assert(
        fc.asyncProperty(conformanceCase.arbitrary, fc.integer(), (draw, seed) => checkEquivalents(method, conformanceCase, draw, seed, seen)),
        { numRuns: runs(), includeErrorInReport: true },
      )
      // A field the draws never set is never checked: a new field needs a case too.
      const unset = requestTypeOf(method).fieldsArray.filter((field) => !seen.has(field.id)).map((field) => field.name)
      assert.deepEqual(unset, [], `the ${method} case never sets ${unset.join(', ')}`)
    })

    it(`${method}: broken encodings are INVALID_ARGUMENT and change nothing`, async () => {
      const conformanceCase = cases[method]
      assert.ok(conformanceCase !== undefined, `no wire conformance case for ${method}`)
      await fc.assert(
        fc.asyncProperty(conformanceCase.arbitrary, fc.integer(), (draw, seed) => checkBroken(method, conformanceCase, draw, seed)),
        { numRuns: runs(), includeErrorInReport: true },
      )
    })
  }

  /** Sends AddTestCase with `value` (Value bytes, possibly several occurrences) raw; reads the stored value back. */
  async function addRaw(problemId: number, value: Buffer): Promise<string> {
    const result = await send('AddTestCase', Buffer.concat([Buffer.from([0x08, ...varintBytes(BigInt(problemId))]), value]))
    assert.equal(result.code, grpc.status.OK, result.details)
    return canonicalValue(await server.client.getTestCase(problemId, idOf(result.response)))
  }

  it('reads a tag written as a 6-byte varint (the issue\'s example)', async () => {
    const created = await send('CreateProblem', Buffer.from('8a8080808000' + '05' + '68656c6c6f' + '12060a016e120176', 'hex'))
    assert.equal(created.code, grpc.status.OK, created.details)
    const problemId = idOf(created.response)
    assert.equal(await server.client.getProblemHtml(problemId), 'hello')
    assert.deepEqual(await server.client.getProblemMeta(problemId), { n: 'v' })
  })

  it('keeps the last member of a oneof on the wire', async () => {
    const problemId = await server.client.createProblem('<p>oneof</p>')
    // string_value "x", then int64_value 7: the int64 wins.
    assert.equal(await addRaw(problemId, Buffer.from('1205' + '1a01780807', 'hex')), 'int64:7')
    // int64_list_value [1], then double_value 1.5: the double wins.
    assert.equal(await addRaw(problemId, Buffer.from('120d' + '2202080111000000000000f83f', 'hex')), canonicalValue({ type: 'double', value: 1.5 }))
  })

  it('merges a message field sent twice', async () => {
    const problemId = await server.client.createProblem('<p>merge</p>')
    // value sent twice, [1, 2] then [3]: merged into [1, 2, 3].
    assert.equal(await addRaw(problemId, Buffer.from('1206220408010802' + '120422020803', 'hex')), 'int64List:[1,2,3]')
  })

  it('refuses encodings that are not protobuf with INVALID_ARGUMENT, storing nothing', async () => {
    const problemId = await server.client.createProblem('<p>refused</p>')
    const tcId = await server.client.addTestCase(problemId, { type: 'int64', value: 5n })
    const before = await server.client.getStats()
    const id = varintBytes(BigInt(problemId))
    const tc = varintBytes(BigInt(tcId))
    const refused: [string, number[]][] = [
      // A tag of 11 bytes.
      ['AddTestCase', [0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, ...id]],
      // A value varint of 11 bytes.
      ['UpdateTestCase', [0x08, ...id, 0x10, ...tc, 0x1a, 0x0c, 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
      // A length of 11 bytes.
      ['CreateProblem', [0x0a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x61]],
      // A padded length that runs past the end.
      ['CreateProblem', [0x0a, 0x85, 0x80, 0x00, 0x61]],
      // int64_value (a varint) sent as fixed64.
      ['UpdateTestCase', [0x08, ...id, 0x10, ...tc, 0x1a, 0x09, 0x09, 1, 2, 3, 4, 5, 6, 7, 8]],
      // A group that never ends.
      ['UpdateTestCase', [0x08, ...id, 0x10, ...tc, 0xfb, 0x03, 0x08, 0x01]],
      // Field number 0.
      ['UpdateProblemColumn', [0x08, ...id, 0x02, 0x01]],
      // html (a string) sent as a varint, which a reader taking it for a length would read as html "\x08" + id.
      ['UpdateProblemHtml', [0x08, ...id, 0x10, 1 + id.length, 0x08, ...id]],
      // int64_list_value whose packed run ends in a cut varint (before another run, which a reader
      // that let it run on would take it with), and one holding a varint of 11 bytes.
      ['UpdateTestCase', [0x08, ...id, 0x10, ...tc, 0x1a, 0x09, 0x22, 0x07, 0x0a, 0x02, 0x01, 0x80, 0x0a, 0x01, 0x05]],
      ['UpdateTestCase', [0x08, ...id, 0x10, ...tc, 0x1a, 0x0f, 0x22, 0x0d, 0x0a, 0x0b, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01]],
    ]
    for (const [method, bytes] of refused) {
      const result = await send(method, Buffer.from(bytes))
      assert.equal(result.code, grpc.status.INVALID_ARGUMENT, `${method} ${Buffer.from(bytes).toString('hex')}: ${grpc.status[result.code]} ${result.details}`)
    }
    assert.equal(canonicalValue(await server.client.getTestCase(problemId, tcId)), 'int64:5')
    assert.equal(await server.client.getProblemHtml(problemId), '<p>refused</p>')
    const afterStats = await server.client.getStats()
    assert.equal(afterStats.problemsInIndex, before.problemsInIndex)
    assert.equal(afterStats.testCasesInIndex, before.testCasesInIndex)
  })

  // The reference implementations (C++ and Go alike) parse every occurrence as they meet it, a
  // oneof member that a later member clears included, and refuse these bytes; so does the wire
  // check, which reads every packed run whole.
  it('refuses a broken varint in a packed run of a oneof member that a later member clears', async () => {
    const problemId = await server.client.createProblem('<p>cleared</p>')
    // int64_list_value {values: packed [cut varint]}, then int64_value 5; the same with an 11-byte varint.
    for (const value of ['22030a0180' + '0805', '220d0a0b8181818181818181818101' + '0805']) {
      const bytes = Buffer.from([0x08, ...varintBytes(BigInt(problemId)), 0x12, value.length / 2, ...Buffer.from(value, 'hex')])
      const result = await send('AddTestCase', bytes)
      assert.equal(grpc.status[result.code], 'INVALID_ARGUMENT', `AddTestCase ${hex(bytes)}: ${result.details}`)
    }
  })
})
