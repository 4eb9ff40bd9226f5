/**
 * The requests that make the most decoded objects out of the fewest bytes, one pair per repeated
 * or message field reachable from a request of proto/lse.proto.
 *
 * The fields are enumerated from the contract, so a field added later either has its case in
 * `fieldCases` or fails with "no amplification case for field X". A field that one request reaches
 * by several paths (a Value under each kind of Commit operation) is tried on the first. Every
 * message occurrence counts as an item, those enclosing the field included. For each field two
 * requests are built:
 *
 * - `filled`: the largest request under its method's size limit (requestMaxBytesByMethod), all
 *   of it items of the field: one-byte packed varints, empty strings, empty messages (2 bytes
 *   each), or, for a singular message field, one empty occurrence after another (each is a part
 *   to merge, so it costs what an item does). Every such request holds more than requestItemsMax
 *   items, and is refused before it is decoded.
 * - `atLimit`: exactly requestItemsMax items, in the encoding that costs the most work per item
 *   (numbers unpacked, each with its own tag): the most that is decoded. What the server answers
 *   it depends on the field (see `fieldCases`).
 */
import assert from 'node:assert/strict'
import * as grpc from '@grpc/grpc-js'
import type protobuf from 'protobufjs'
import { int64, type StratumClient } from '../../src/client/index.ts'
import { lseMethodNames, lseServiceName, loadLseRoot, type LseMethodName } from '../../src/protocol/proto-definition.ts'
import { countRequestItems, requestItemsMax } from '../../src/server/canonical-request.ts'
import { requestMaxBytesByMethod } from '../../src/server/message-limits.ts'
import { MiB, type CostBounds, type RawOutcome } from './measured-call.ts'
import { lengthDelimited, lengthDelimitedWireType, repeatedBytes, tag, varintWireType } from './wire-bytes.ts'

const S = grpc.status

export interface AmplifiedField {
  method: LseMethodName
  /** The fields from the request message down to the amplified one. */
  path: readonly protobuf.Field[]
  /** The amplified field as protobufjs names it, e.g. lse.v1.Value.int64ListValue: the key of its case. */
  fieldName: string
  /** For messages: the method and the path, e.g. "AddTestCase value.int64ListValue.values". */
  label: string
}

export interface ExpectedAnswer {
  code: grpc.status
  details?: RegExp
}

export interface FieldCase {
  /** What a request holding requestItemsMax items of the field is answered. */
  atLimit: ExpectedAnswer
  /**
   * For a singular message field: the payload of its first occurrence, the rest being empty, so
   * that the merged message is one the engine can store.
   */
  firstOccurrence?: Buffer
}

/** Value { int64_list_value = 4: Int64List {} }: an empty list, which the engine stores. */
const emptyInt64ListValue = lengthDelimited(4, Buffer.alloc(0))

const tooManyItems = new RegExp(`more than ${requestItemsMax} items \\(list items, map entries, columns and messages; requestItemsMax\\)`)

/**
 * What the server may cost a request refused before decoding, and one decoded: loose on purpose
 * (a slow or busy machine must not fail them), yet under what a request decoded item by item
 * used to cost: 490 to 610 MiB of RSS and 2 to 4.6 s for a million empty strings, map entries or
 * columns. Measured on two cores (docs/benchmarks.md): at most 55 MiB and 0.6 s refused, 145 MiB
 * and 1 s decoded. The time bounds only catch a server that stalls for far longer.
 */
export const refusedBounds: CostBounds = { rssGrowthMaxBytes: 96 * MiB, eventLoopDelayMaxMs: 4_000 }
export const decodedBounds: CostBounds = { rssGrowthMaxBytes: 256 * MiB, eventLoopDelayMaxMs: 8_000 }

/** What a request over requestItemsMax is answered, whatever its field. */
export const refusedBeforeDecoding: ExpectedAnswer = { code: S.RESOURCE_EXHAUSTED, details: tooManyItems }

/** A Value field sent once per item: the occurrences merge into one Value holding an empty list, which is stored. */
const valueField: FieldCase = { atLimit: { code: S.OK }, firstOccurrence: emptyInt64ListValue }

export const fieldCases: Readonly<Record<string, FieldCase>> = {
  // A million columns, all named "": decoded, then refused for their repeated name (they are
  // also over metaMaxColumns, 1,024, and named "", which the engine checks after).
  'lse.v1.CreateProblemRequest.columns': { atLimit: { code: S.INVALID_ARGUMENT, details: /columns repeat the name ""/ } },
  'lse.v1.AddTestCaseRequest.value': valueField,
  'lse.v1.UpdateTestCaseRequest.value': valueField,
  'lse.v1.SetExpectedOutputRequest.value': valueField,
  'lse.v1.UpdateExpectedOutputRequest.value': valueField,
  // Empty lists and maps sent once per item merge into one empty list or map, which is stored.
  'lse.v1.Value.int64ListValue': { atLimit: { code: S.OK } },
  'lse.v1.Value.stringListValue': { atLimit: { code: S.OK } },
  'lse.v1.Value.stringMapValue': { atLimit: { code: S.OK } },
  // The engine stores an int64 in 8 bytes: a million of them are 8 MiB, over valueMaxBytes.
  'lse.v1.Int64List.values': { atLimit: { code: S.RESOURCE_EXHAUSTED, details: /valueMaxBytes/ } },
  // The engine stores an empty string in 4 bytes: the 1,048,574 that fit beside the Value and the
  // StringList (two items more) and the list's header are just valueMaxBytes (4 MiB): stored.
  'lse.v1.StringList.values': { atLimit: { code: S.OK } },
  // A million entries, all keyed "": decoded, then refused for their repeated key (they are also
  // over mapMaxEntries, 65,536, which the engine checks after).
  'lse.v1.StringMap.entries': { atLimit: { code: S.INVALID_ARGUMENT, details: /repeats the map key ""/ } },
}

export function assertAnswer(label: string, outcome: RawOutcome, expected: ExpectedAnswer): void {
  assert.equal(outcome.code, expected.code, `${label}: ${grpc.status[outcome.code]} ${outcome.details}`)
  if (expected.details !== undefined) assert.match(outcome.details, expected.details, label)
}

/**
 * Commit's operations name their ids inside each operation, which these requests leave empty:
 * every operation but create_problem is refused for its problem_id, before its value is read.
 */
const commitCases: Readonly<Record<string, FieldCase>> = {
  // A million empty operations: over batchMaxOperations (100,000), refused once decoded.
  'lse.v1.CommitRequest.operations': { atLimit: { code: S.RESOURCE_EXHAUSTED, details: /batchMaxOperations/ } },
  // A million empty occurrences merge into one problem with no text: stored.
  'lse.v1.Operation.createProblem': { atLimit: { code: S.OK } },
  'lse.v1.CreateProblemRequest.columns': fieldCases['lse.v1.CreateProblemRequest.columns']!,
}
const commitOperationWithoutIds: FieldCase = { atLimit: { code: S.INVALID_ARGUMENT, details: /problem_id is required/ } }

export function fieldCaseOf(target: AmplifiedField): FieldCase {
  if (target.method === 'Commit') return commitCases[target.fieldName] ?? commitOperationWithoutIds
  const found = fieldCases[target.fieldName]
  if (found === undefined) throw new Error(`no amplification case for field ${target.fieldName} (${target.label})`)
  return found
}

function messageTypeOf(field: protobuf.Field): protobuf.Type | undefined {
  const resolved = field.resolvedType
  return resolved !== null && 'fieldsById' in resolved ? (resolved as protobuf.Type) : undefined
}

/** Every repeated or message field reachable from a request message of the service, per method. */
export function amplifiedFields(): AmplifiedField[] {
  const service = loadLseRoot().lookupService(lseServiceName)
  const found: AmplifiedField[] = []
  const walk = (method: LseMethodName, type: protobuf.Type, path: protobuf.Field[], onPath: ReadonlySet<string>, seen: Set<string>): void => {
    for (const field of type.fieldsArray) {
      const message = messageTypeOf(field)
      if (!field.repeated && !field.map && message === undefined) continue
      if (seen.has(field.fullName)) continue
      seen.add(field.fullName)
      const fieldPath = [...path, field]
      found.push({
        method,
        path: fieldPath,
        fieldName: field.fullName.replace(/^\./, ''),
        label: `${method} ${fieldPath.map((each) => each.name).join('.')}`,
      })
      if (message === undefined) continue
      // A message that holds itself would nest as deep as the bytes allow: a case of its own.
      if (onPath.has(message.fullName)) throw new Error(`no amplification case for the recursive message ${message.fullName} (${method})`)
      walk(method, message, fieldPath, new Set([...onPath, message.fullName]), seen)
    }
  }
  for (const method of lseMethodNames) {
    const requestType = service.methods[method]!.resolvedRequestType!
    walk(method, requestType, [], new Set([requestType.fullName]), new Set())
  }
  return found
}

export type AmplifiedShape = 'filled' | 'atLimit'

export interface AmplifiedRequest {
  bytes: Buffer
  /** The items the server counts in it (every message occurrence included). */
  items: number
}

const varintTypes = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool'])

interface Leaf {
  /** The bytes of one item. */
  unit: Buffer
  /** The items go in one packed field rather than one after another. */
  packed: boolean
  /** The field is a singular message: its occurrences merge into one. */
  singularMessage: boolean
}

function leafOf(target: AmplifiedField, shape: AmplifiedShape): Leaf {
  const field = target.path.at(-1)!
  if (field.repeated && !field.map && messageTypeOf(field) === undefined && field.type !== 'string' && field.type !== 'bytes') {
    if (!varintTypes.has(field.type) && field.resolvedType === null) throw new Error(`no amplification case for field ${target.fieldName}: a ${field.type} list`)
    // One byte an item packed; unpacked, each item is read on its own (two bytes).
    return shape === 'filled'
      ? { unit: Buffer.from([0x01]), packed: true, singularMessage: false }
      : { unit: Buffer.concat([tag(field.id, varintWireType), Buffer.from([0x01])]), packed: false, singularMessage: false }
  }
  // An empty string, map entry or message: its tag and a zero length.
  const unit = Buffer.concat([tag(field.id, lengthDelimitedWireType), Buffer.from([0])])
  return { unit, packed: false, singularMessage: !field.repeated && !field.map }
}

/**
 * The `shape` request for `target`; `context` is the encoding of the request's other fields
 * (the ids it names).
 */
export function amplifiedRequest(target: AmplifiedField, shape: AmplifiedShape, context: Buffer): AmplifiedRequest {
  const leaf = leafOf(target, shape)
  const first = fieldCaseOf(target).firstOccurrence
  const field = target.path.at(-1)!
  const build = (count: number): Buffer => {
    let content: Buffer
    if (leaf.packed) content = lengthDelimited(field.id, repeatedBytes(leaf.unit, count))
    else if (first !== undefined && leaf.singularMessage) content = Buffer.concat([lengthDelimited(field.id, first), repeatedBytes(leaf.unit, count - 1)])
    else content = repeatedBytes(leaf.unit, count)
    for (const outer of target.path.slice(0, -1).reverse()) content = lengthDelimited(outer.id, content)
    return Buffer.concat([context, content])
  }
  // The messages enclosing the field, one occurrence each, count too.
  const enclosing = target.path.length - 1
  if (shape === 'atLimit') {
    // The first occurrence's payload holds messages of its own, which count too.
    const firstItems = first !== undefined && leaf.singularMessage ? countRequestItems(messageTypeOf(field)!, first) : 0
    const count = requestItemsMax - enclosing - firstItems
    return { bytes: build(count), items: requestItemsMax }
  }
  const limit = requestMaxBytesByMethod[target.method]
  const one = build(1).length
  // Each enclosing length may take up to 4 more bytes than it does for one item.
  let count = Math.floor((limit - one - 4 * target.path.length) / leaf.unit.length) + 1
  let bytes = build(count)
  // Bounded: each pass drops enough items to cover the excess.
  while (bytes.length > limit) {
    count -= Math.ceil((bytes.length - limit) / leaf.unit.length)
    bytes = build(count)
  }
  return { bytes, items: count + enclosing + (first !== undefined && leaf.singularMessage ? countRequestItems(messageTypeOf(field)!, first) : 0) }
}

export interface RequestContext {
  /** The encoding of the ids the request names. */
  bytes: Buffer
  problemId?: number
}

/** The ids a `method` request names, made afresh so that the request can succeed. */
export async function requestContext(client: StratumClient, method: LseMethodName): Promise<RequestContext> {
  const type = loadLseRoot().lookupService(lseServiceName).methods[method]!.resolvedRequestType!
  const encoded = (fields: { problemId: number; tcId?: number }): RequestContext => ({
    bytes: Buffer.from(type.encode(type.fromObject(fields)).finish()),
    problemId: fields.problemId,
  })
  switch (method) {
    case 'CreateProblem':
    case 'Commit':
      return { bytes: Buffer.alloc(0) }
    case 'AddTestCase':
      return encoded({ problemId: await client.createProblem(method) })
    case 'UpdateTestCase':
    case 'SetExpectedOutput': {
      const problemId = await client.createProblem(method)
      return encoded({ problemId, tcId: await client.addTestCase(problemId, int64(1n)) })
    }
    case 'UpdateExpectedOutput': {
      const problemId = await client.createProblem(method)
      const tcId = await client.addTestCase(problemId, int64(1n))
      await client.setExpectedOutput(problemId, tcId, int64(2n))
      return encoded({ problemId, tcId })
    }
    default:
      throw new Error(`no amplification context for method ${method}: which ids must its requests name?`)
  }
}
