/**
 * Hostile requests for the gRPC server, as raw bytes for a client with identity serializers:
 * random bytes to every method, fields of the wrong wire type, truncated and bit-flipped
 * encodings, unknown ids, malformed ids, test cases named with other problems, unknown methods,
 * oversized messages, and calls cancelled as they start. Each comes with the statuses it may get.
 *
 * The stream is endless and replays from its seed, block after block of `hostileBlockRequests`:
 * the hostile-input test sends one block, `npm run fuzz` as many as it is asked for.
 *
 * Requests that would change the seeded data if they happened to decode (random bytes can spell
 * a valid write) are left out, and so are CompactNow requests that would be accepted: each would
 * run a full compaction (which changes no data, and is tested in server-e2e.test.ts), making a
 * run slow for nothing it tests.
 */
import * as grpc from '@grpc/grpc-js'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { lseMethodNames, lseServiceName, loadLseRoot, type LseMethodName } from '../../src/protocol/proto-definition.ts'
import { requestMaxBytes } from '../../src/server/index.ts'
import { requestMaxBytesByMethod } from '../../src/server/message-limits.ts'
import { findWireProblem } from '../../src/server/wire-check.ts'
import type { SeededData } from './hostile-store.ts'

export interface HostileRequest {
  kind: string
  path: string
  bytes: Buffer
  /** Statuses this request may get. */
  expected: ReadonlySet<grpc.status>
  cancel?: boolean
  /**
   * Over the transport's limit: grpc-js answers it on its length prefix, yet its client goes on
   * sending the rest of the body (it half-closes a call the server ended, rather than resetting
   * it), and the server reads that to the end.
   */
  overTransportLimit?: boolean
}

const S = grpc.status

/** The seed of the hostile-input test; `npm run fuzz` starts from it unless told otherwise. */
export const defaultHostileSeed = 20_26_12_01

/** Requests in a block: the oversized messages open each block, the weighted mix fills it. */
export const hostileBlockRequests = 10_000

/** Any status that answers a request properly, whatever its content. */
export const anyProper: ReadonlySet<grpc.status> = new Set([S.OK, S.INVALID_ARGUMENT, S.NOT_FOUND, S.RESOURCE_EXHAUSTED, S.ALREADY_EXISTS])

/**
 * Statuses no hostile request may ever get: a bug (INTERNAL, UNKNOWN), a server too slow to
 * answer (DEADLINE_EXCEEDED), or one that went away (UNAVAILABLE).
 */
export const neverProper: ReadonlySet<grpc.status> = new Set([S.INTERNAL, S.UNKNOWN, S.DEADLINE_EXCEEDED, S.UNAVAILABLE])

/** Unsafe draws in a row after which the mix is taken to be broken, so that a stream cannot spin. */
const unsafeDrawsMax = 1000

const root = loadLseRoot()
const service = root.lookupService(lseServiceName)
const requestTypeOf = (method: LseMethodName) => service.methods[method]!.resolvedRequestType!
const pathOf = (method: LseMethodName): string => `/${lseServiceName}/${method}`

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
  'Commit',
])

/** The methods that name a test case, in the proto's order. */
const testCaseMethods: LseMethodName[] = lseMethodNames.filter((name) => requestTypeOf(name).fields.tcId !== undefined)

function encode(method: LseMethodName, fields: Record<string, unknown>): Buffer {
  const type = requestTypeOf(method)
  return Buffer.from(type.encode(type.fromObject(fields)).finish())
}

/** True when the server would accept `bytes` as a CompactNow request, and compact. */
function wouldCompact(method: LseMethodName, bytes: Buffer): boolean {
  return method === 'CompactNow' && bytes.length <= requestMaxBytesByMethod.CompactNow && findWireProblem(requestTypeOf(method), bytes) === undefined
}

/** Messages over the transport's limit, and over a value method's and a small method's own. */
function oversizedRequests(): HostileRequest[] {
  const requests: HostileRequest[] = []
  for (let index = 0; index < 2; index++) {
    requests.push({
      kind: 'oversized',
      path: pathOf('CreateProblem'),
      bytes: Buffer.alloc(requestMaxBytes + 1 + index, 0x0a),
      expected: new Set([S.RESOURCE_EXHAUSTED]),
      overTransportLimit: true,
    })
    requests.push({ kind: 'oversized', path: pathOf('AddTestCase'), bytes: Buffer.alloc(6 * 1024 * 1024, 0x08), expected: new Set([S.RESOURCE_EXHAUSTED]) })
    requests.push({ kind: 'oversized', path: pathOf('GetStats'), bytes: Buffer.alloc(64 * 1024, 0x08), expected: new Set([S.RESOURCE_EXHAUSTED]) })
  }
  return requests
}

/** The endless stream of hostile requests against `data`, the same for the same seed and data. */
export function* hostileRequests(data: SeededData, seed: number = defaultHostileSeed): Generator<HostileRequest, never> {
  const { problemIds, tcIdsByProblem } = data
  const random = seededRandom(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const randomBytes = (maxBytes: number): Buffer => {
    const bytes = Buffer.alloc(Math.floor(random() * (maxBytes + 1)))
    for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(random() * 256)
    return bytes
  }
  const seeded = new Set(problemIds.map(String))
  const allTcIds = [...tcIdsByProblem.values()].flat()
  /** True when `bytes` could decode into a write touching the seeded data. */
  const couldChangeData = (method: LseMethodName, bytes: Buffer): boolean => {
    if (!writeMethods.has(method)) return false
    let decoded: { problemId?: string; operations?: unknown[] }
    try {
      const type = requestTypeOf(method)
      decoded = type.toObject(type.decode(bytes), { longs: String, defaults: true }) as { problemId?: string; operations?: unknown[] }
    } catch {
      return false
    }
    // Any operation of a Commit may create a problem.
    if (method === 'Commit') return (decoded.operations?.length ?? 0) > 0
    return method === 'CreateProblem' || seeded.has(String(decoded.problemId))
  }
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
        // (Commit names its ids inside its operations: the mutated encodings reach it.)
        const method = pick(lseMethodNames.filter((name) => !['CreateProblem', 'ListProblems', 'GetStats', 'Flush', 'CompactNow', 'Commit'].includes(name)))
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
      weight: 3,
      make: () => {
        // The health service's unary methods, which need no token: garbage is INVALID_ARGUMENT
        // (checked-services.ts), and bytes that happen to decode name a service or none.
        const path = pick(['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/List'])
        return { kind: 'health garbage', path, bytes: randomBytes(64), expected: new Set([S.OK, S.NOT_FOUND, S.INVALID_ARGUMENT]) }
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
  const draw = (): HostileRequest => {
    for (let attempts = 0; attempts < unsafeDrawsMax; attempts++) {
      let roll = random() * totalWeight
      const generator = generators.find((candidate) => (roll -= candidate.weight) < 0) ?? generators[0]!
      const request = generator.make()
      if (request !== undefined) return request
    }
    throw new Error(`${unsafeDrawsMax} unsafe hostile requests in a row: the mix no longer avoids writes to the seeded data`)
  }
  for (;;) {
    const oversized = oversizedRequests()
    yield* oversized
    for (let index = oversized.length; index < hostileBlockRequests; index++) yield draw()
  }
}
