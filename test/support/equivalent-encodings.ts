/**
 * Encodings of a message that protobuf's parsing rules say are the same message
 * (`equivalentNodes`, `paddingOptions`).
 *
 * They are driven by a seeded random source, so that a failing case replays from its seed, and they
 * work from the message's type (protobufjs reflection of proto/lse.proto), so that they apply to
 * every request message without knowing it.
 *
 * What counts as equivalent follows what the reference implementations (C++, Java, Go) agree on:
 * varints padded with zero continuation bytes to at most 10 bytes, fields in any order, unknown
 * fields of every wire type (groups included) anywhere, scalars sent more than once (the last
 * wins), oneof members sent before the one that counts (the last wins), singular message fields
 * split into occurrences that merge, repeated numbers split into packed runs and unpacked items,
 * defaults sent explicitly, the high 32 bits of a 32-bit varint field (dropped when read), and
 * any non-zero varint for `true`. A 10-byte varint whose last byte is over 1 is left out: C++ and
 * Java drop the excess bits, Go refuses it.
 */
import type protobuf from 'protobufjs'
import { utf8, type EncodeOptions, type WireNode } from './wire-encoding.ts'

export type Random = () => number

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!
const chance = (random: Random, p: number) => random() < p
const randomInt = (random: Random, below: number) => Math.floor(random() * below)
const randomU64 = (random: Random) => BigInt.asUintN(64, BigInt(randomInt(random, 2 ** 30)) * (BigInt(randomInt(random, 2 ** 30)) + 1n) * (chance(random, 0.5) ? 1n : 2n ** 20n))
const randomBytes = (random: Random, length: number) => Uint8Array.from({ length }, () => randomInt(random, 256))
const randomAscii = (random: Random) => utf8(Array.from({ length: randomInt(random, 5) }, () => pick(random, ['a', 'b', 'z', '0', '~'])).join(''))

/** The largest field number protobuf allows. */
const fieldNumberMax = 536_870_911

const thirtyTwoBitTypes = new Set(['int32', 'uint32', 'sint32'])
const fixed64Types = new Set(['double', 'fixed64', 'sfixed64'])
const fixed32Types = new Set(['float', 'fixed32', 'sfixed32'])

const messageTypeOf = (field: protobuf.Field): protobuf.Type | undefined =>
  field.resolvedType !== null && 'fieldsById' in field.resolvedType ? field.resolvedType : undefined

const isRepeatedNumber = (field: protobuf.Field) => field.repeated && messageTypeOf(field) === undefined && field.type !== 'string' && field.type !== 'bytes'

/** The wire type a well-formed occurrence of `field` has (a repeated number may also come packed, as 2). */
function wireTypeOf(field: protobuf.Field): number {
  if (messageTypeOf(field) !== undefined || field.type === 'string' || field.type === 'bytes') return 2
  if (fixed64Types.has(field.type)) return 1
  if (fixed32Types.has(field.type)) return 5
  return 0 // varints, enums included
}

/** A random, valid occurrence of `field` (any value of its type): what a decoy carries. */
function randomOccurrence(field: protobuf.Field, random: Random, depth = 0): WireNode {
  const num = field.id
  const messageType = messageTypeOf(field)
  if (messageType !== undefined) {
    const fields: WireNode[] = []
    if (depth < 2) for (const inner of messageType.fieldsArray) if (chance(random, 0.5)) fields.push(randomOccurrence(inner, random, depth + 1))
    // One occurrence per field, so that the decoy is plainly well formed whatever oneofs it holds.
    return { t: 'message', num, fields: [...new Map(fields.map((node) => [node.num, node])).values()] }
  }
  switch (wireTypeOf(field)) {
    case 2:
      return { t: 'bytes', num, bytes: randomAscii(random) }
    case 1:
      return { t: 'fixed64', num, bytes: randomBytes(random, 8) }
    case 5:
      return { t: 'fixed32', num, bytes: randomBytes(random, 4) }
    default:
      if (field.type === 'bool') return { t: 'varint', num, value: BigInt(randomInt(random, 2)) }
      return field.repeated ? { t: 'packed', num, values: [randomU64(random)] } : { t: 'varint', num, value: randomU64(random) }
  }
}

/** A field number `type` does not use (sometimes the largest there is). */
function unknownNumber(type: protobuf.Type | undefined, random: Random): number {
  if (chance(random, 0.05)) return fieldNumberMax
  let num: number
  do num = 1 + randomInt(random, 3000)
  while (type?.fieldsById[num] !== undefined)
  return num
}

/** An unknown field of any wire type, under a number `type` does not use. */
function randomUnknown(type: protobuf.Type | undefined, random: Random, depth = 0): WireNode {
  const num = unknownNumber(type, random)
  switch (randomInt(random, depth < 2 ? 5 : 4)) {
    case 0:
      return { t: 'varint', num, value: randomU64(random) }
    case 1:
      return { t: 'fixed64', num, bytes: randomBytes(random, 8) }
    case 2:
      return { t: 'fixed32', num, bytes: randomBytes(random, 4) }
    case 3:
      // Any bytes: an unknown field is not checked for UTF-8, nor parsed as a message.
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

/** Another varint that a field of `field`'s type reads as `value`. */
function sameVarint(field: protobuf.Field, value: bigint, random: Random): bigint {
  // 32-bit fields (enums too) read the low 32 bits of the varint.
  if (thirtyTwoBitTypes.has(field.type) || (field.resolvedType !== null && messageTypeOf(field) === undefined)) {
    return (value & 0xffff_ffffn) | (BigInt(randomInt(random, 2 ** 32)) << 32n)
  }
  // A bool is true for any varint other than 0.
  if (field.type === 'bool' && value !== 0n) return 1n + (randomU64(random) % (2n ** 64n - 1n))
  return value
}

/** An occurrence of `field` holding its default value (proto3: the same as leaving it out). */
function defaultOccurrence(field: protobuf.Field): WireNode {
  switch (wireTypeOf(field)) {
    case 2:
      return { t: 'bytes', num: field.id, bytes: new Uint8Array() }
    case 1:
      return { t: 'fixed64', num: field.id, bytes: new Uint8Array(8) }
    case 5:
      return { t: 'fixed32', num: field.id, bytes: new Uint8Array(4) }
    default:
      return { t: 'varint', num: field.id, value: 0n }
  }
}

/**
 * Nodes equivalent, by protobuf's parsing rules, to the canonical `nodes` of a message of `type`.
 * Every transformation keeps the meaning: see the comments.
 */
export function equivalentNodes(type: protobuf.Type, nodes: readonly WireNode[], random: Random): WireNode[] {
  // Occurrences grouped by what they override or extend: a field, or a whole oneof. The relative
  // order inside a group matters (last wins; repeated items in order), between groups it does not.
  const groups = new Map<string, WireNode[]>()
  const add = (key: string, node: WireNode) => {
    const list = groups.get(key) ?? []
    list.push(node)
    groups.set(key, list)
  }
  const keyOf = (field: protobuf.Field) => (field.partOf !== null ? `oneof:${field.partOf.name}` : `field:${field.id}`)
  for (const node of nodes) {
    const field = type.fieldsById[node.num]!
    const key = keyOf(field)
    // A decoy before a singular field or oneof member: the later occurrence wins.
    if (!field.repeated && chance(random, 0.4)) {
      const decoyField = field.partOf !== null ? pick(random, field.partOf.fieldsArray) : field
      add(key, randomOccurrence(decoyField, random))
      // A decoy of the same message field would merge into the canonical one; only scalars and
      // other oneof members are overridden. Put the field itself in a clean state afterwards.
      if (decoyField.id === field.id && messageTypeOf(decoyField) !== undefined) groups.get(key)!.pop()
      else if (field.partOf !== null && decoyField.id !== field.id && chance(random, 0.3)) add(key, randomOccurrence(field.partOf.fieldsArray.find((f) => f.id !== decoyField.id)!, random))
    }
    switch (node.t) {
      case 'message': {
        const fields = equivalentNodes(messageTypeOf(field)!, node.fields, random)
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
      case 'varint':
        add(key, chance(random, 0.5) ? { ...node, value: sameVarint(field, node.value, random) } : node)
        break
      default:
        add(key, node)
    }
  }
  // Fields left out hold their defaults: the same as sending those (after a decoy, even), or, for
  // a repeated number, an empty packed run. Message fields and oneof members are left alone:
  // sending one, even empty, sets it.
  const present = new Set(nodes.map((node) => node.num))
  for (const field of type.fieldsArray) {
    if (present.has(field.id) || field.partOf !== null || messageTypeOf(field) !== undefined || !chance(random, 0.3)) continue
    if (isRepeatedNumber(field)) add(keyOf(field), { t: 'packed', num: field.id, values: [] })
    else if (!field.repeated) {
      if (chance(random, 0.3)) add(keyOf(field), randomOccurrence(field, random))
      add(keyOf(field), defaultOccurrence(field))
    }
  }
  // Interleave the groups at random, keeping each group's order; drop in unknown fields anywhere.
  const queues = [...groups.values()].map((list) => [...list])
  const out: WireNode[] = []
  while (queues.some((queue) => queue.length > 0)) {
    if (chance(random, 0.15)) out.push(randomUnknown(type, random))
    const open = queues.filter((queue) => queue.length > 0)
    out.push(pick(random, open).shift()!)
  }
  // A message with few fields (or none: GetStats) still gets unknown fields to skip.
  const extra = out.length < 2 ? randomInt(random, 4) : chance(random, 0.3) ? 1 : 0
  for (let index = 0; index < extra; index++) out.push(randomUnknown(type, random))
  return out
}

/** Varints padded at random: never, sometimes or often, by 1 to 9 bytes (10 bytes at the most). */
export function paddingOptions(random: Random): EncodeOptions {
  const rate = pick(random, [0, 0.2, 0.6])
  return { pad: (minimal) => (chance(random, rate) ? 1 + randomInt(random, 10 - minimal) : 0) }
}
