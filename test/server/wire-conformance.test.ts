/**
 * Wire conformance: the server must read a request as the protobuf reference implementations do.
 *
 * For each write request, fast-check draws a canonical message (the model), and the test builds
 * encodings that protobuf's spec says decode to that same message: varints (tags, lengths and
 * values) padded to up to 10 bytes, fields out of order, repeated fields split into several
 * occurrences, packed and unpacked int64 lists mixed, scalar fields sent more than once (the last
 * wins), oneof members sent before the one that counts (the last wins), singular message fields
 * split into several occurrences that merge into the canonical one, and unknown fields of every
 * wire type (groups included) inserted anywhere. Each is sent as raw bytes and the stored result
 * is read back with the normal client: it must equal the model, exactly.
 *
 * Encodings that are not legal protobuf (a varint of 11 bytes, a field of the wrong wire type, a
 * length past the end) must be INVALID_ARGUMENT and change nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import fc from 'fast-check'
import type { Value } from '../../src/client/index.ts'
import { lseServiceName, loadLseRoot } from '../../src/protocol/proto-definition.ts'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { canonicalValue } from '../support/canonical-value.ts'
import { equivalentNodes, paddingOptions } from '../support/equivalent-encodings.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { encodeNodes, utf8, valueNodes, varintBytes, type WireNode as Node } from '../support/wire-encoding.ts'

const numRuns = Number(process.env.WIRE_CONFORMANCE_RUNS ?? 60)
/** Equivalent encodings sent for each drawn message. */
const variantsPerMessage = 4

const root = loadLseRoot()
const typeOf = (name: string) => root.lookupType(`lse.v1.${name}`)

// ---------------------------------------------------------------- the model

const int64Arb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
const textArb = fc.string({ unit: 'binary', maxLength: 6 })
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  int64Arb.map((value) => ({ type: 'int64' as const, value })),
  fc.double().map((value) => ({ type: 'double' as const, value })),
  textArb.map((value) => ({ type: 'string' as const, value })),
  fc.array(int64Arb, { maxLength: 6 }).map((value) => ({ type: 'int64List' as const, value })),
  fc.array(textArb, { maxLength: 4 }).map((value) => ({ type: 'stringList' as const, value })),
  fc
    .uniqueArray(fc.tuple(textArb, textArb), { maxLength: 4, selector: ([key]) => key })
    .map((entries) => ({ type: 'stringMap' as const, value: new Map(entries) })),
)
const columnsArb = fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), textArb), { maxLength: 3, selector: ([name]) => name })

// ---------------------------------------------------------------- the test

describe('wire conformance', () => {
  let server: TestServer
  let raw: grpc.Client
  const identity = (bytes: Buffer) => bytes

  const send = (method: string, bytes: Buffer) =>
    new Promise<{ code: grpc.status; details: string; response?: Buffer }>((resolve) => {
      raw.makeUnaryRequest(`/${lseServiceName}/${method}`, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
        resolve({ code: error?.code ?? grpc.status.OK, details: error?.details ?? '', response }),
      )
    })

  /** The id in a response whose field 1 is a uint64 (CreateProblem, AddTestCase). */
  const idOf = (response: Buffer | undefined): number => Number((typeOf('AddTestCaseResponse').decode(response!) as unknown as { tcId: { toString(): string } }).tcId.toString())

  before(async () => {
    server = await startTestServer()
    raw = new grpc.Client(server.server.address, grpc.credentials.createInsecure())
  })

  after(async () => {
    raw.close()
    await server.stop()
  })

  /** Sends every variant of `nodes` and checks each is accepted and stored as the model says. */
  async function sendVariants(method: string, nodes: Node[], seed: number, check: (response: Buffer | undefined) => Promise<void>): Promise<void> {
    const type = typeOf(`${method}Request`)
    const random = seededRandom(seed)
    for (let index = 0; index <= variantsPerMessage; index++) {
      // The first is the canonical encoding itself.
      const bytes = index === 0 ? encodeNodes(nodes) : encodeNodes(equivalentNodes(type, nodes, random), paddingOptions(random))
      const result = await send(method, bytes)
      assert.equal(result.code, grpc.status.OK, `${method} ${bytes.toString('hex')}: ${grpc.status[result.code]} ${result.details}`)
      await check(result.response).catch((error: Error) => {
        error.message = `${method} ${bytes.toString('hex')} (variant ${index}): ${error.message}`
        throw error
      })
    }
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

  it('stores every equivalent encoding of CreateProblem as the canonical one', async () => {
    await fc.assert(
      fc.asyncProperty(textArb, columnsArb, fc.integer(), async (html, columns, seed) => {
        const nodes: Node[] = [
          { t: 'bytes', num: 1, bytes: utf8(html) },
          ...columns.map(([name, value]): Node => ({ t: 'message', num: 2, fields: [{ t: 'bytes', num: 1, bytes: utf8(name) }, { t: 'bytes', num: 2, bytes: utf8(value) }] })),
        ]
        await sendVariants('CreateProblem', nodes, seed, async (response) => {
          const problemId = idOf(response)
          assert.equal(await server.client.getProblemHtml(problemId), html)
          assert.deepEqual(await server.client.getProblemMeta(problemId), Object.fromEntries(columns))
        })
      }),
      { numRuns, includeErrorInReport: true },
    )
  })

  it('stores every equivalent encoding of UpdateProblemColumn as the canonical one', async () => {
    const problemId = await server.client.createProblem('<p>columns</p>')
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), textArb, fc.integer(), async (column, value, seed) => {
        const nodes: Node[] = [
          { t: 'varint', num: 1, value: BigInt(problemId) },
          { t: 'bytes', num: 2, bytes: utf8(column) },
          { t: 'bytes', num: 3, bytes: utf8(value) },
        ]
        await sendVariants('UpdateProblemColumn', nodes, seed, async () => {
          assert.equal((await server.client.getProblemMeta(problemId))[column], value)
          // Set it back to something else, so that the next variant is seen to write it again.
          await server.client.updateProblemColumn(problemId, column, `${value}.`)
        })
      }),
      { numRuns, includeErrorInReport: true },
    )
  })

  it('stores every equivalent encoding of AddTestCase, UpdateTestCase and SetExpectedOutput as the canonical one', async () => {
    const problemId = await server.client.createProblem('<p>values</p>')
    const other: Value = { type: 'stringList', value: ['other'] }
    await fc.assert(
      fc.asyncProperty(valueArb, fc.integer(), async (value, seed) => {
        const expected = canonicalValue(value)
        await sendVariants('AddTestCase', [{ t: 'varint', num: 1, value: BigInt(problemId) }, { t: 'message', num: 2, fields: valueNodes(value) }], seed, async (response) => {
          assert.equal(canonicalValue(await server.client.getTestCase(problemId, idOf(response))), expected)
        })
        const tcId = await server.client.addTestCase(problemId, other)
        const target: Node[] = [
          { t: 'varint', num: 1, value: BigInt(problemId) },
          { t: 'varint', num: 2, value: BigInt(tcId) },
          { t: 'message', num: 3, fields: valueNodes(value) },
        ]
        await sendVariants('UpdateTestCase', target, seed + 1, async () => {
          assert.equal(canonicalValue(await server.client.getTestCase(problemId, tcId)), expected)
          await server.client.updateTestCase(problemId, tcId, other)
        })
        await sendVariants('SetExpectedOutput', target, seed + 2, async () => {
          assert.equal(canonicalValue(await server.client.getExpectedOutput(problemId, tcId)), expected)
          await server.client.deleteExpectedOutput(problemId, tcId)
        })
      }),
      { numRuns, includeErrorInReport: true },
    )
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
    ]
    for (const [method, bytes] of refused) {
      const result = await send(method, Buffer.from(bytes))
      assert.equal(result.code, grpc.status.INVALID_ARGUMENT, `${method} ${Buffer.from(bytes).toString('hex')}: ${grpc.status[result.code]} ${result.details}`)
    }
    assert.equal(canonicalValue(await server.client.getTestCase(problemId, tcId)), 'int64:5')
    const afterStats = await server.client.getStats()
    assert.equal(afterStats.problemsInIndex, before.problemsInIndex)
    assert.equal(afterStats.testCasesInIndex, before.testCasesInIndex)
  })
})
