/**
 * Hostile input: 10,000 malformed or random requests through a raw grpc-js client that sends
 * bytes as they are (identity serializers): random bytes to every method, fields of the wrong
 * wire type, truncated and bit-flipped encodings, unknown ids, malformed ids, test cases named
 * with other problems, unknown methods, oversized messages, and calls cancelled as they start.
 *
 * Each must get a proper status (INTERNAL, UNKNOWN and timeouts never appear), the server must
 * stay up, and the stored data must be exactly what it was before. Requests that would change the
 * seeded data if they happened to decode (random bytes can spell a valid write) are not sent, nor
 * CompactNow requests that would be accepted: each would run a full compaction (which changes no
 * data, and is tested in server-e2e.test.ts), making the run slow for nothing it tests here.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { pino } from 'pino'
import { double, int64, int64List, string, stringList, stringMap, StratumClient, type Value } from '../../src/client/index.ts'
import { lseMethodNames, lseServiceName, loadLseRoot, type LseMethodName } from '../../src/protocol/proto-definition.ts'
import { requestMaxBytes, startServer, type RunningServer } from '../../src/server/index.ts'
import { requestMaxBytesByMethod } from '../../src/server/message-limits.ts'
import { findWireProblem } from '../../src/server/wire-check.ts'
import { makeTempDir } from '../support/fixture.ts'
import fs from 'node:fs'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { canonicalValue } from '../support/canonical-value.ts'

const requestCount = 10_000
const concurrency = 32
const callDeadlineMs = 30_000


const root = loadLseRoot()
const service = root.lookupService(lseServiceName)
const requestTypeOf = (method: LseMethodName) => service.methods[method]!.resolvedRequestType!

const writeMethods = new Set<LseMethodName>([
  'CreateProblem',
  'UpdateProblemHtml',
  'UpdateProblemColumn',
  'DeleteProblem',
  'AddTestCase',
  'UpdateTestCase',
  'DeleteTestCase',
  'SetExpectedOutput',
  'UpdateExpectedOutput',
  'DeleteExpectedOutput',
])

const testCaseMethods: LseMethodName[] = [
  'GetTestCase',
  'UpdateTestCase',
  'DeleteTestCase',
  'SetExpectedOutput',
  'GetExpectedOutput',
  'UpdateExpectedOutput',
  'DeleteExpectedOutput',
]

interface HostileRequest {
  kind: string
  path: string
  bytes: Buffer
  /** Statuses this request may get. */
  expected: ReadonlySet<grpc.status>
  cancel?: boolean
}

const S = grpc.status
const anyProper = new Set([S.OK, S.INVALID_ARGUMENT, S.NOT_FOUND, S.RESOURCE_EXHAUSTED, S.ALREADY_EXISTS])

interface Snapshot {
  problems: { id: number; html: string; meta: Record<string, string>; testCases: { tcId: number; value: string; output: string }[] }[]
}


async function snapshot(client: StratumClient): Promise<Snapshot> {
  const problems: Snapshot['problems'] = []
  for await (const id of client.listProblems()) {
    const testCases = []
    for await (const testCase of client.getAllTestCases(id, { includeOutputs: true })) {
      testCases.push({ tcId: testCase.tcId, value: canonicalValue(testCase.value), output: canonicalValue(testCase.output) })
    }
    problems.push({ id, html: await client.getProblemHtml(id), meta: await client.getProblemMeta(id), testCases })
  }
  return { problems }
}

describe('hostile input', () => {
  let server: RunningServer
  let client: StratumClient
  let dir: string
  const errorLog: string[] = []
  const problemIds: number[] = []
  const tcIdsByProblem = new Map<number, number[]>()

  before(async () => {
    dir = makeTempDir('hostile')
    const logStream = new Writable({
      write(chunk, _encoding, callback) {
        errorLog.push(String(chunk))
        callback()
      },
    })
    server = await startServer({ host: '127.0.0.1', port: 0, store: { dir, syncMode: 'none' }, logger: pino({ level: 'error' }, logStream) })
    client = new StratumClient(server.address)
    const values: Value[] = [int64(-(2n ** 63n)), double(NaN), string('a\u0000\u{1F600}'), int64List([]), stringList(['', 'x']), stringMap({ __proto__: 'k', b: '' } as Record<string, string>)]
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
  })

  after(async () => {
    client.close()
    await server.shutdown()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it(`answers ${requestCount.toLocaleString('en')} hostile requests properly, stays up, and changes nothing`, { timeout: 150_000 }, async () => {
    const before = await snapshot(client)
    const random = seededRandom(20_26_12_01)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const randomBytes = (maxBytes: number): Buffer => {
      const bytes = Buffer.alloc(Math.floor(random() * (maxBytes + 1)))
      for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(random() * 256)
      return bytes
    }
    const seeded = new Set(problemIds.map(String))
    const allTcIds = [...tcIdsByProblem.values()].flat()
    const pathOf = (method: LseMethodName): string => `/${lseServiceName}/${method}`
    const encode = (method: LseMethodName, fields: Record<string, unknown>): Buffer => {
      const type = requestTypeOf(method)
      return Buffer.from(type.encode(type.fromObject(fields)).finish())
    }
    /** True when `bytes` could decode into a write touching the seeded data. */
    const couldChangeData = (method: LseMethodName, bytes: Buffer): boolean => {
      if (!writeMethods.has(method)) return false
      let decoded: { problemId?: string }
      try {
        const type = requestTypeOf(method)
        decoded = type.toObject(type.decode(bytes), { longs: String, defaults: true }) as { problemId?: string }
      } catch {
        return false
      }
      return method === 'CreateProblem' || seeded.has(String(decoded.problemId))
    }
    /** True when the server would accept `bytes` as a CompactNow request, and compact. */
    const wouldCompact = (method: LseMethodName, bytes: Buffer): boolean =>
      method === 'CompactNow' && bytes.length <= requestMaxBytesByMethod.CompactNow && findWireProblem(requestTypeOf(method), bytes) === undefined
    const unknownId = (): number => 1_000_000 + Math.floor(random() * 1_000_000_000)
    const valueFields = (): Record<string, unknown> => pick([{ int64Value: '5' }, { stringValue: 'hostile' }, { int64ListValue: { values: ['1'] } }])

    const generators: { weight: number; make: () => HostileRequest | undefined }[] = [
      {
        weight: 35,
        make: () => {
          const method = pick(lseMethodNames)
          const bytes = randomBytes(pick([4, 16, 64, 300]))
          if (couldChangeData(method, bytes) || wouldCompact(method, bytes)) return undefined
          return { kind: 'random bytes', path: pathOf(method), bytes, expected: anyProper }
        },
      },
      {
        weight: 10,
        make: () => {
          // A declared field with the wrong wire type: ids as strings, strings as varints.
          const method = pick(lseMethodNames.filter((name) => name !== 'GetStats' && name !== 'Flush' && name !== 'CompactNow'))
          const type = requestTypeOf(method)
          const field = pick(type.fieldsArray)
          const wrongWireType = field.type === 'string' || field.resolvedType !== null ? 0 : 2
          const tag = Buffer.from([(field.id << 3) | wrongWireType])
          const body = wrongWireType === 0 ? Buffer.from([0x05]) : Buffer.from([0x03, 0x41, 0x42, 0x43])
          return { kind: 'wrong wire type', path: pathOf(method), bytes: Buffer.concat([tag, body]), expected: new Set([S.INVALID_ARGUMENT]) }
        },
      },
      {
        weight: 15,
        make: () => {
          // A valid request for an unknown problem, truncated or with bits flipped.
          const method = pick(lseMethodNames)
          const bytes = encode(method, { problemId: unknownId(), tcId: unknownId(), html: 'h', column: 'c', value: valueFields(), pageSize: 3 })
          if (random() < 0.5 && bytes.length > 0) {
            const at = Math.floor(random() * bytes.length)
            bytes.writeUInt8(bytes.readUInt8(at) ^ (1 << Math.floor(random() * 8)), at)
          }
          const cut = random() < 0.5 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes
          if (couldChangeData(method, cut) || wouldCompact(method, cut)) return undefined
          return { kind: 'mutated encoding', path: pathOf(method), bytes: Buffer.from(cut), expected: anyProper }
        },
      },
      {
        weight: 10,
        make: () => {
          const method = pick(lseMethodNames.filter((name) => name !== 'CreateProblem' && name !== 'ListProblems' && name !== 'GetStats' && name !== 'Flush' && name !== 'CompactNow'))
          const problemId = random() < 0.5 ? unknownId() : pick(allTcIds) // a test case id is no problem id
          const bytes = encode(method, { problemId, tcId: unknownId(), html: 'h', column: 'c', value: valueFields() })
          return { kind: 'unknown id', path: pathOf(method), bytes, expected: new Set([S.NOT_FOUND]) }
        },
      },
      {
        weight: 10,
        make: () => {
          // A test case named with another problem: unknown there, for reads and writes alike.
          const method = pick(testCaseMethods)
          const problemId = pick(problemIds)
          const tcId = pick(allTcIds.filter((id) => !tcIdsByProblem.get(problemId)!.includes(id)))
          const bytes = encode(method, { problemId, tcId, value: valueFields() })
          return { kind: 'test case of another problem', path: pathOf(method), bytes, expected: new Set([S.NOT_FOUND]) }
        },
      },
      {
        weight: 6,
        make: () => {
          const method = pick([...testCaseMethods, 'GetProblemHtml', 'DeleteProblem', 'UpdateProblemHtml'] as LseMethodName[])
          const badId = pick(['0', String(2 ** 53), '18446744073709551615', '9007199254740993'])
          const goodProblem = String(pick(problemIds))
          const fields = random() < 0.5 ? { problemId: badId, tcId: String(pick(allTcIds)) } : { problemId: goodProblem, tcId: badId }
          if (!testCaseMethods.includes(method)) Object.assign(fields, { problemId: badId })
          const bytes = encode(method, { ...fields, html: 'h', value: valueFields() })
          return { kind: 'malformed id', path: pathOf(method), bytes, expected: new Set([S.INVALID_ARGUMENT]) }
        },
      },
      {
        weight: 4,
        make: () => {
          const method = pick(['ListProblems', 'GetAllTestCases'] as LseMethodName[])
          const fields = { problemId: pick(problemIds), pageSize: pick([-1, 100_001, 2 ** 31 - 1]), pageToken: pick(['', 'cDE', 'garbage', 'dDEuMg']) }
          return { kind: 'bad page', path: pathOf(method), bytes: encode(method, fields), expected: new Set([S.INVALID_ARGUMENT]) }
        },
      },
      {
        weight: 3,
        make: () => {
          const path = pick(['/lse.v1.LseService/NoSuchMethod', '/lse.v2.LseService/GetStats', '/x/y', '/grpc.health.v1.Health/Nope'])
          return { kind: 'unknown method', path, bytes: randomBytes(20), expected: new Set([S.UNIMPLEMENTED]) }
        },
      },
      {
        weight: 2,
        make: () => {
          const method = pick(['GetProblemHtml', 'GetAllTestCases', 'GetStats', 'ListProblems'] as LseMethodName[])
          const bytes = encode(method, { problemId: pick(problemIds) })
          return { kind: 'text for a message', path: pathOf(method), bytes: random() < 0.5 ? Buffer.from('{"problemId": 1}') : bytes, expected: anyProper }
        },
      },
      {
        weight: 5,
        make: () => {
          const method = pick(['GetProblemHtml', 'GetAllTestCases', 'GetStats', 'ListProblems', 'GetTestCase'] as LseMethodName[])
          const bytes = encode(method, { problemId: pick(problemIds), tcId: pick(allTcIds) })
          return { kind: 'cancelled', path: pathOf(method), bytes, expected: new Set([S.CANCELLED, S.OK, S.NOT_FOUND]), cancel: true }
        },
      },
    ]
    const totalWeight = generators.reduce((sum, generator) => sum + generator.weight, 0)
    const requests: HostileRequest[] = []
    // A few oversized messages: over the transport's limit, and over a value method's own limit.
    for (let index = 0; index < 2; index++) {
      requests.push({ kind: 'oversized', path: pathOf('CreateProblem'), bytes: Buffer.alloc(requestMaxBytes + 1 + index, 0x0a), expected: new Set([S.RESOURCE_EXHAUSTED]) })
      requests.push({ kind: 'oversized', path: pathOf('AddTestCase'), bytes: Buffer.alloc(6 * 1024 * 1024, 0x08), expected: new Set([S.RESOURCE_EXHAUSTED]) })
      requests.push({ kind: 'oversized', path: pathOf('GetStats'), bytes: Buffer.alloc(64 * 1024, 0x08), expected: new Set([S.RESOURCE_EXHAUSTED]) })
    }
    // Bounded: each pass adds one request or skips an unsafe one, and unsafe ones are rare.
    for (let attempts = 0; requests.length < requestCount && attempts < requestCount * 10; attempts++) {
      let roll = random() * totalWeight
      const generator = generators.find((candidate) => (roll -= candidate.weight) < 0) ?? generators[0]!
      const request = generator.make()
      if (request !== undefined) requests.push(request)
    }
    assert.equal(requests.length, requestCount)

    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 })
    const identity = (bytes: Buffer): Buffer => bytes
    const counts = new Map<string, number>()
    const failures: string[] = []
    const send = (request: HostileRequest): Promise<void> =>
      new Promise((resolve) => {
        const call = raw.makeUnaryRequest(request.path, identity, identity, request.bytes, new grpc.Metadata(), { deadline: Date.now() + callDeadlineMs }, (error) => {
          const code = error === null ? S.OK : error.code
          const key = `${request.kind}: ${S[code]}`
          counts.set(key, (counts.get(key) ?? 0) + 1)
          if (!request.expected.has(code)) failures.push(`${request.kind} ${request.path} (${request.bytes.length} bytes) got ${S[code]}: ${error?.details ?? ''}`)
          resolve()
        })
        if (request.cancel === true) call.cancel()
      })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < requests.length) await send(requests[next++]!)
    }
    try {
      await Promise.all(Array.from({ length: concurrency }, worker))
    } finally {
      raw.close()
    }
    const summary = [...counts].sort().map(([key, count]) => `${key} ×${count}`).join('\n')
    if (process.env.HOSTILE_SUMMARY !== undefined) console.log(summary)
    assert.deepEqual(failures.slice(0, 20), [], `unexpected statuses:\n${summary}`)
    for (const key of counts.keys()) assert.doesNotMatch(key, /INTERNAL|UNKNOWN|DEADLINE_EXCEEDED|UNAVAILABLE/, summary)

    // Still up, and nothing changed.
    assert.equal((await client.getStats({ deadlineMs: 5000 })).storeStatus, 'open')
    assert.deepEqual(await snapshot(client), before)
    assert.deepEqual(errorLog, [], 'no error was logged')
  })
})
