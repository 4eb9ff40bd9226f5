/**
 * Encodings of a message that protobuf's parsing rules say are the same message
 * (`equivalentNodes`, `paddingOptions`), and encodings that are not protobuf at all (`corrupted`).
 *
 * Both are driven by a seeded random source, so that a failing case replays from its seed, and both
 * work from the message's type (protobufjs reflection of proto/lse.proto), so that they apply to
 * every request message without knowing it.
 *
 * What counts as equivalent is what protobuf's encoding rules and proto/lse.proto say: varints
 * padded with zero continuation bytes to at most 10 bytes, fields in any order, unknown fields of
 * every wire type (groups included) anywhere, scalars sent more than once (the last wins), oneof
 * members sent before the one that counts (the last wins), singular message fields split into
 * occurrences that merge, repeated numbers split into packed runs and unpacked items, defaults
 * sent explicitly, the high 32 bits of a 32-bit varint field (dropped when read), and any
 * non-zero varint for `true`. protobuf-go reads every one of these as the canonical message.
 * C++ (libprotobuf 3.21) refuses tags and lengths of more than 5 bytes, which the contract
 * accepts as Go and Java do. A 10-byte varint whose last byte is over 1 is left out: C++ and Java
 * drop the excess bits, Go refuses it.
 *
 * What is broken is what protobuf refuses, with two exceptions that the contract refuses and
 * reference implementations take: a known field of the wrong wire type (C++ and Go keep it as an
 * unknown field) and a field number over 2^29-1 (C++ reads the tag's low 32 bits; Go refuses).
 */
import type protobuf from 'protobufjs'
import { encodeNodes, tagBytes, utf8, varintBytes, type EncodeOptions, type MessageNode, type WireNode } from './wire-encoding.ts'

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

/** Nesting of random messages: deep enough for every message of the contract (a request's Value's StringMap's entries). */
const randomDepthMax = 4

/**
 * The fields of a random, valid message of `type`: each field at most once, with any value of
 * its type (a oneof may hold several members: the last counts).
 */
export function randomMessage(type: protobuf.Type, random: Random, depth = 0): WireNode[] {
  return depth < randomDepthMax ? type.fieldsArray.filter(() => chance(random, 0.5)).map((field) => randomOccurrence(field, random, depth + 1)) : []
}

/** A random, valid occurrence of `field` (any value of its type): what a decoy carries. */
function randomOccurrence(field: protobuf.Field, random: Random, depth = 0): WireNode {
  const num = field.id
  const messageType = messageTypeOf(field)
  if (messageType !== undefined) return { t: 'message', num, fields: randomMessage(messageType, random, depth) }
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
  // A bool is true for any varint other than 0, even one whose low 32 bits are all 0.
  if (field.type === 'bool' && value !== 0n) return pick(random, [1n + (randomU64(random) % (2n ** 64n - 1n)), BigInt(1 + randomInt(random, 2 ** 32 - 1)) << 32n, 2n ** 63n])
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
    if (node.t === 'raw') throw new Error('a canonical message holds no raw bytes')
    const field = type.fieldsById[node.num]!
    const key = keyOf(field)
    // A decoy before a singular field or oneof member: the later occurrence wins.
    if (!field.repeated && chance(random, 0.4)) {
      const decoyField = field.partOf !== null ? pick(random, field.partOf.fieldsArray) : field
      add(key, randomOccurrence(decoyField, random))
      // A decoy of the same message field would merge into the canonical one; only scalars and
      // other oneof members are overridden. Put the field itself in a clean state afterwards.
      if (decoyField.id === field.id && messageTypeOf(decoyField) !== undefined) groups.get(key)!.pop()
      else if (field.partOf !== null && decoyField.id !== field.id && chance(random, 0.3)) {
        // A second decoy: a third member, never the canonical one, whose random fields would merge into it.
        const third = field.partOf.fieldsArray.find((f) => f.id !== decoyField.id && f.id !== field.id)
        if (third !== undefined) add(key, randomOccurrence(third, random))
      }
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
  const present = new Set(nodes.map((node) => (node.t === 'raw' ? -1 : node.num)))
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

// ---------------------------------------------------------------- encodings that are not protobuf

/** A varint of 11 bytes: one more than protobuf allows. */
const elevenByteVarint = (value: bigint): number[] => varintBytes(value, 10 - varintBytes(value).length + 1)

/** Byte sequences that are not UTF-8: a stray continuation byte, 0xff, an overlong NUL, a surrogate, past U+10FFFF, a cut sequence. */
const invalidUtf8: readonly number[][] = [[0x80], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]

interface Flaw {
  name: string
  /** How often it is drawn, against 1 for the others. */
  weight?: number
  /** Only at the end of its message: what follows would otherwise be read as part of it. */
  atEnd: boolean
  make(type: protobuf.Type, nodes: WireNode[], random: Random): WireNode | undefined
}

const raw = (bytes: readonly number[] | Uint8Array): WireNode => ({ t: 'raw', bytes: Uint8Array.from(bytes) })

/** Any field of `type`, or an unknown one. */
const anyNumber = (type: protobuf.Type, random: Random) => (type.fieldsArray.length > 0 && chance(random, 0.6) ? pick(random, type.fieldsArray).id : unknownNumber(type, random))

/** A packed run of a repeated varint field of `type` (if it has one): a few good items, then `last`. */
function packedRun(type: protobuf.Type, random: Random, last: number[]): WireNode | undefined {
  const numbers = type.fieldsArray.filter((field) => isRepeatedNumber(field) && wireTypeOf(field) === 0)
  if (numbers.length === 0) return undefined
  const items = Array.from({ length: randomInt(random, 3) }, () => varintBytes(BigInt(randomInt(random, 1000)))).flat()
  const run = [...items, ...last]
  return raw([...tagBytes(pick(random, numbers).id, 2), ...varintBytes(BigInt(run.length)), ...run])
}

const flaws: readonly Flaw[] = [
  {
    name: 'a field cut short',
    atEnd: true,
    make(type, nodes, random) {
      // The last field, or a new one, cut strictly inside its bytes: in its tag, its length or its value.
      const last = nodes.at(-1)
      const whole = last !== undefined && last.t !== 'raw' && chance(random, 0.5) ? nodes.pop()! : chance(random, 0.5) && type.fieldsArray.length > 0 ? randomOccurrence(pick(random, type.fieldsArray), random) : randomUnknown(type, random)
      const bytes = encodeNodes([whole], paddingOptions(random))
      return raw(bytes.subarray(0, 1 + randomInt(random, bytes.length - 1)))
    },
  },
  {
    name: 'a length past the end',
    atEnd: true,
    make(type, _nodes, random) {
      const payload = randomAscii(random)
      return raw([...tagBytes(anyNumber(type, random), 2), ...varintBytes(BigInt(payload.length + 1 + randomInt(random, 1000))), ...payload])
    },
  },
  {
    name: 'a group without its end',
    atEnd: true,
    make(type, _nodes, random) {
      const num = unknownNumber(type, random)
      return raw([...tagBytes(num, 3), ...encodeNodes(Array.from({ length: randomInt(random, 3) }, () => randomUnknown(undefined, random, 1)))])
    },
  },
  {
    name: 'a varint of 11 bytes',
    atEnd: false,
    make(type, _nodes, random) {
      const num = anyNumber(type, random)
      switch (randomInt(random, 3)) {
        case 0: // as the tag
          return raw([...elevenByteVarint(BigInt(num) * 8n), 0x01])
        case 1: // as the value
          return raw([...tagBytes(num, 0), ...elevenByteVarint(BigInt(randomInt(random, 300)))])
        default: // as the length
          return raw([...tagBytes(num, 2), ...elevenByteVarint(1n), 0x61])
      }
    },
  },
  {
    name: 'a known field of the wrong wire type',
    atEnd: false,
    // Four wrong wire types for each field, each misread its own way.
    weight: 3,
    make(type, _nodes, random) {
      if (type.fieldsArray.length === 0) return undefined
      const field = pick(random, type.fieldsArray)
      const allowed = new Set([wireTypeOf(field), ...(isRepeatedNumber(field) ? [2] : [])])
      const wrong = pick(random, [0, 1, 2, 3, 5].filter((wireType) => !allowed.has(wireType)))
      const num = field.id
      switch (wrong) {
        case 0: // small, sometimes: a reader that took it for a length would find that many bytes after it
          return { t: 'varint', num, value: chance(random, 0.5) ? BigInt(randomInt(random, 3)) : randomU64(random) }
        case 1:
          return { t: 'fixed64', num, bytes: randomBytes(random, 8) }
        case 2:
          return { t: 'bytes', num, bytes: randomAscii(random) }
        case 3:
          return { t: 'group', num, fields: [] }
        default:
          return { t: 'fixed32', num, bytes: randomBytes(random, 4) }
      }
    },
  },
  {
    name: 'a string that is not UTF-8',
    atEnd: false,
    make(type, _nodes, random) {
      const strings = type.fieldsArray.filter((field) => field.type === 'string')
      if (strings.length === 0) return undefined
      const bytes = [...randomAscii(random), ...pick(random, invalidUtf8), ...randomAscii(random)]
      return { t: 'bytes', num: pick(random, strings).id, bytes: Uint8Array.from(bytes) }
    },
  },
  {
    name: 'a packed run whose last varint is cut',
    atEnd: false,
    make: (type, _nodes, random) => packedRun(type, random, [0x80 | randomInt(random, 0x80)]),
  },
  {
    name: 'a packed run holding a varint of 11 bytes',
    atEnd: false,
    make: (type, _nodes, random) => packedRun(type, random, elevenByteVarint(BigInt(randomInt(random, 2 ** 31)))),
  },
  {
    name: 'an end-group tag without its start',
    atEnd: false,
    make: (type, _nodes, random) => raw(tagBytes(anyNumber(type, random), 4)),
  },
  {
    name: 'a group ended under another number',
    atEnd: false,
    make(type, _nodes, random) {
      const num = unknownNumber(type, random)
      return raw([...tagBytes(num, 3), ...tagBytes(num === 1 ? 2 : num - 1, 4)])
    },
  },
  {
    name: 'wire type 6 or 7',
    atEnd: false,
    make: (type, _nodes, random) => raw([...tagBytes(anyNumber(type, random), 6 + randomInt(random, 2)), 0x00]),
  },
  {
    name: 'field number 0',
    atEnd: false,
    make: (_type, _nodes, random) => raw(pick(random, [[0x00, 0x01], [0x02, 0x00], [0x05, 0, 0, 0, 0], [0x01, 0, 0, 0, 0, 0, 0, 0, 0]])),
  },
  {
    name: 'a field number over 2^29-1',
    atEnd: false,
    make: (_type, _nodes, random) => raw([...varintBytes(BigInt(fieldNumberMax + 1 + randomInt(random, 1000)) * 8n), 0x01]),
  },
]

const weightedFlaws = flaws.flatMap((flaw) => Array.from({ length: flaw.weight ?? 1 }, () => flaw))

/**
 * `nodes` (a message of `type`) with one flaw that makes them not protobuf, at this level or in a
 * nested message field; `flaw` names it and where it is.
 */
export function corrupted(type: protobuf.Type, nodes: readonly WireNode[], random: Random): { nodes: WireNode[]; flaw: string } {
  const out = [...nodes]
  // Sometimes in a message field's occurrence, so that nested messages are checked too.
  const nested = out.flatMap((node, index) => (node.t === 'message' && type.fieldsById[node.num] !== undefined && messageTypeOf(type.fieldsById[node.num]!) !== undefined ? [index] : []))
  if (nested.length > 0 && chance(random, 0.5)) {
    const index = pick(random, nested)
    const node = out[index] as MessageNode
    const field = type.fieldsById[node.num]!
    const inner = corrupted(messageTypeOf(field)!, node.fields, random)
    out[index] = { ...node, fields: inner.nodes }
    return { nodes: out, flaw: `${field.name}: ${inner.flaw}` }
  }
  for (;;) {
    const flaw = pick(random, weightedFlaws)
    const node = flaw.make(type, out, random)
    if (node === undefined) continue
    out.splice(flaw.atEnd ? out.length : randomInt(random, out.length + 1), 0, node)
    return { nodes: out, flaw: flaw.name }
  }
}

