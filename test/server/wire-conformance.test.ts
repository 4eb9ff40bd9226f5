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
import type protobuf from 'protobufjs'
import type { Value } from '../../src/client/index.ts'
import { lseServiceName, loadLseRoot } from '../../src/protocol/proto-definition.ts'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { canonicalValue } from '../support/canonical-value.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

const numRuns = Number(process.env.WIRE_CONFORMANCE_RUNS ?? 60)
/** Equivalent encodings sent for each drawn message. */
const variantsPerMessage = 4

const root = loadLseRoot()
const typeOf = (name: string) => root.lookupType(`lse.v1.${name}`)

// ---------------------------------------------------------------- an abstract encoding

/** A field occurrence on the wire. `message` nodes hold their fields; `packed` holds varints. */
type Node =
  | { t: 'varint'; num: number; value: bigint }
  | { t: 'fixed64' | 'fixed32' | 'bytes'; num: number; bytes: Uint8Array }
  | { t: 'message'; num: number; fields: Node[] }
  | { t: 'packed'; num: number; values: bigint[] }
  | { t: 'group'; num: number; fields: Node[] }

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'))

/** The canonical nodes of a Value (field numbers of proto/lse.proto). */
function valueNodes(value: Value): Node[] {
  switch (value.type) {
    case 'int64':
      return [{ t: 'varint', num: 1, value: BigInt.asUintN(64, value.value) }]
    case 'double': {
      const bytes = Buffer.alloc(8)
      bytes.writeDoubleLE(value.value)
      return [{ t: 'fixed64', num: 2, bytes: new Uint8Array(bytes) }]
    }
    case 'string':
      return [{ t: 'bytes', num: 3, bytes: utf8(value.value) }]
    case 'int64List':
      return [{ t: 'message', num: 4, fields: value.value.length === 0 ? [] : [{ t: 'packed', num: 1, values: value.value.map((item) => BigInt.asUintN(64, item)) }] }]
    case 'stringList':
      return [{ t: 'message', num: 5, fields: value.value.map((item) => ({ t: 'bytes' as const, num: 1, bytes: utf8(item) })) }]
    case 'stringMap':
      return [
        {
          t: 'message',
          num: 6,
          fields: [...value.value].map(([key, item]) => ({
            t: 'message' as const,
            num: 1,
            fields: [
              { t: 'bytes' as const, num: 1, bytes: utf8(key) },
              { t: 'bytes' as const, num: 2, bytes: utf8(item) },
            ],
          })),
        },
      ]
  }
}

// ---------------------------------------------------------------- encoding, with padding

interface EncodeOptions {
  /** Extra bytes (0 to 9) to pad a varint with; always 0 for the canonical encoding. */
  pad(minimalLength: number): number
}

function varintBytes(value: bigint, padding: number): number[] {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  bytes.push(Number(rest))
  for (let index = 0; index < padding; index++) {
    bytes[bytes.length - 1]! |= 0x80
    bytes.push(0)
  }
  return bytes
}

function encode(nodes: Node[], options: EncodeOptions): Buffer {
  const out: number[] = []
  const varint = (value: bigint) => {
    const minimal = varintBytes(value, 0).length
    out.push(...varintBytes(value, Math.min(10 - minimal, options.pad(minimal))))
  }
  const lengthDelimited = (payload: Uint8Array) => {
    varint(BigInt(payload.length))
    for (const byte of payload) out.push(byte)
  }
  const tag = (num: number, wireType: number) => varint(BigInt(num * 8 + wireType))
  for (const node of nodes) {
    switch (node.t) {
      case 'varint':
        tag(node.num, 0)
        varint(node.value)
        break
      case 'fixed64':
        tag(node.num, 1)
        out.push(...node.bytes)
        break
      case 'fixed32':
        tag(node.num, 5)
        out.push(...node.bytes)
        break
      case 'bytes':
        tag(node.num, 2)
        lengthDelimited(node.bytes)
        break
      case 'message':
        tag(node.num, 2)
        lengthDelimited(encode(node.fields, options))
        break
      case 'packed': {
        tag(node.num, 2)
        const payload: number[] = []
        for (const value of node.values) {
          const minimal = varintBytes(value, 0).length
          payload.push(...varintBytes(value, Math.min(10 - minimal, options.pad(minimal))))
        }
        lengthDelimited(Uint8Array.from(payload))
        break
      }
      case 'group':
        tag(node.num, 3)
        out.push(...encode(node.fields, options))
        tag(node.num, 4)
        break
    }
  }
  return Buffer.from(out)
}

const canonicalOptions: EncodeOptions = { pad: () => 0 }

// ---------------------------------------------------------------- equivalent encodings

type Random = () => number

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!
const chance = (random: Random, p: number) => random() < p
const randomInt = (random: Random, below: number) => Math.floor(random() * below)
const randomU64 = (random: Random) => BigInt.asUintN(64, BigInt(randomInt(random, 2 ** 30)) * (BigInt(randomInt(random, 2 ** 30)) + 1n) * (chance(random, 0.5) ? 1n : 2n ** 20n))
const randomBytes = (random: Random, length: number) => Uint8Array.from({ length }, () => randomInt(random, 256))
const randomAscii = (random: Random) => utf8(Array.from({ length: randomInt(random, 5) }, () => pick(random, ['a', 'b', 'z', '0', '~'])).join(''))

/** A random, valid occurrence of `field` (any value of its type): what a decoy carries. */
function randomOccurrence(field: protobuf.Field, random: Random, depth = 0): Node {
  const num = field.id
  const resolved = field.resolvedType
  if (resolved !== null && 'fieldsById' in resolved) {
    const fields: Node[] = []
    if (depth < 2) for (const inner of resolved.fieldsArray) if (chance(random, 0.5)) fields.push(randomOccurrence(inner, random, depth + 1))
    return { t: 'message', num, fields: [...new Map(fields.map((node) => [node.num, node])).values()] }
  }
  switch (field.type) {
    case 'string':
    case 'bytes':
      return { t: 'bytes', num, bytes: randomAscii(random) }
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return { t: 'fixed64', num, bytes: randomBytes(random, 8) }
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return { t: 'fixed32', num, bytes: randomBytes(random, 4) }
    case 'bool':
      return { t: 'varint', num, value: BigInt(randomInt(random, 2)) }
    default:
      return field.repeated ? { t: 'packed', num, values: [randomU64(random)] } : { t: 'varint', num, value: randomU64(random) }
  }
}

/** Unknown fields of every wire type, under numbers `type` does not use. */
function randomUnknown(type: protobuf.Type | undefined, random: Random, depth = 0): Node {
  let num: number
  do num = 1 + randomInt(random, 3000)
  while (type?.fieldsById[num] !== undefined)
  if (chance(random, 0.05)) num = 536_870_911 // the largest field number
  switch (randomInt(random, depth < 2 ? 5 : 4)) {
    case 0:
      return { t: 'varint', num, value: randomU64(random) }
    case 1:
      return { t: 'fixed64', num, bytes: randomBytes(random, 8) }
    case 2:
      return { t: 'fixed32', num, bytes: randomBytes(random, 4) }
    case 3:
      return { t: 'bytes', num, bytes: randomBytes(random, randomInt(random, 6)) }
    default:
      return { t: 'group', num, fields: Array.from({ length: randomInt(random, 3) }, () => randomUnknown(undefined, random, depth + 1)) }
  }
}

/** Splits `items` into 1 to 3 contiguous chunks (some may be empty). */
function chunks<T>(items: readonly T[], random: Random): T[][] {
  const count = 1 + randomInt(random, 3)
  const cuts = Array.from({ length: count - 1 }, () => randomInt(random, items.length + 1)).sort((a, b) => a - b)
  const out: T[][] = []
  let start = 0
  for (const cut of [...cuts, items.length]) {
    out.push(items.slice(start, cut))
    start = cut
  }
  return out
}

/**
 * Nodes equivalent, by protobuf's parsing rules, to the canonical `nodes` of a message of `type`.
 * Every transformation keeps the meaning: see the comments.
 */
function equivalent(type: protobuf.Type, nodes: Node[], random: Random): Node[] {
  // Occurrences grouped by what they override or extend: a field, or a whole oneof. The relative
  // order inside a group matters (last wins; repeated items in order), between groups it does not.
  const groups = new Map<string, Node[]>()
  const add = (key: string, node: Node) => {
    const list = groups.get(key) ?? []
    list.push(node)
    groups.set(key, list)
  }
  for (const node of nodes) {
    const field = type.fieldsById[node.num]!
    const key = field.partOf !== null ? `oneof:${field.partOf.name}` : `field:${field.id}`
    // A decoy before a singular field or oneof member: the later occurrence wins.
    if (!field.repeated && chance(random, 0.4)) {
      const decoyField = field.partOf !== null ? pick(random, field.partOf.fieldsArray) : field
      add(key, randomOccurrence(decoyField, random))
      // A decoy of the same message field would merge into the canonical one; only scalars and
      // other oneof members are overridden. Put the field itself in a clean state afterwards.
      if (decoyField.id === field.id && decoyField.resolvedType !== null && 'fieldsById' in decoyField.resolvedType) groups.get(key)!.pop()
      else if (field.partOf !== null && decoyField.id !== field.id && chance(random, 0.3)) add(key, randomOccurrence(field.partOf.fieldsArray.find((f) => f.id !== decoyField.id)!, random))
    }
    switch (node.t) {
      case 'message': {
        const inner = field.resolvedType as protobuf.Type
        const fields = equivalent(inner, node.fields, random)
        // A singular message may be split into occurrences that merge (their bytes concatenate).
        if (!field.repeated && chance(random, 0.5)) for (const part of chunks(fields, random)) add(key, { t: 'message', num: node.num, fields: part })
        else add(key, { t: 'message', num: node.num, fields })
        break
      }
      case 'packed':
        // A repeated number may be split into packed runs (empty ones too) and single unpacked items.
        for (const part of chunks(node.values, random)) {
          if (chance(random, 0.5)) add(key, { t: 'packed', num: node.num, values: part })
          else for (const value of part) add(key, { t: 'varint', num: node.num, value })
        }
        break
      default:
        add(key, node)
    }
  }
  // Interleave the groups at random, keeping each group's order; drop in unknown fields anywhere.
  const queues = [...groups.values()].map((list) => [...list])
  const out: Node[] = []
  while (queues.some((queue) => queue.length > 0)) {
    if (chance(random, 0.15)) out.push(randomUnknown(type, random))
    const open = queues.filter((queue) => queue.length > 0)
    out.push(pick(random, open).shift()!)
  }
  if (chance(random, 0.3)) out.push(randomUnknown(type, random))
  return out
}

function paddingOptions(random: Random): EncodeOptions {
  const rate = pick(random, [0, 0.2, 0.6])
  return { pad: (minimal) => (chance(random, rate) ? 1 + randomInt(random, 10 - minimal) : 0) }
}

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
      const bytes = index === 0 ? encode(nodes, canonicalOptions) : encode(equivalent(type, nodes, random), paddingOptions(random))
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
    const result = await send('AddTestCase', Buffer.concat([Buffer.from([0x08, problemId]), value]))
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
    const id = varintBytes(BigInt(problemId), 0)
    const tc = varintBytes(BigInt(tcId), 0)
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
