/**
 * Re-encodes a request, by protobuf's parsing rules, into the canonical bytes that protobufjs
 * decodes exactly.
 *
 * protobufjs departs from the reference implementations (C++, Java, Go) on bytes that are legal
 * protobuf, and the strict wire check (wire-check.ts) accepts:
 *
 * - A varint of 6 to 10 bytes read by `Reader.uint32()` (every tag and length): it reads five
 *   bytes and then skips five more whatever the varint's real length, so a padded tag or length
 *   puts the reader inside the next field. The reference implementations read such varints whole.
 * - A oneof whose members appear more than once: the last one on the wire must win, and every
 *   other member is cleared. protobufjs keeps them all, and the name of the set member is then
 *   not the last one.
 * - A singular message field that appears more than once: the occurrences must be merged (as if
 *   their bytes were concatenated: scalars last-wins, repeated fields appended, messages merged
 *   recursively). protobufjs keeps only the last.
 *
 * So the server parses the request here by the reference rules into a field set, and writes that
 * set back out canonically: fields in number order, minimal varints, repeated numbers packed, a
 * oneof holding only its last member, one occurrence of each singular field (merged, for
 * messages), unknown fields dropped (the server keeps none). protobufjs then decodes these bytes
 * to exactly the message that the reference implementations would.
 *
 * REQUIRES: `findWireProblem(type, bytes)` found no problem (the wire types match the fields,
 * every length fits, strings are UTF-8, nesting is bounded).
 */
import type protobuf from 'protobufjs'
import { limits } from '../engine/index.ts'
import { endGroup, fixed32, fixed32Types, fixed64, fixed64Types, lengthDelimited, startGroup, varint } from './wire-format.ts'


const twoTo32 = 1n << 32n


/** One field's parsed content. */
type FieldValue =
  /** A scalar: its canonical encoding without the tag (a varint, 4 or 8 bytes, or a length and bytes). */
  | { kind: 'scalar'; bytes: Uint8Array }
  /**
   * A repeated scalar: the canonical encodings of its items, in runs (a packed run already
   * canonical is kept as one view, so a list of millions of items costs no object per item).
   */
  | { kind: 'repeatedScalar'; items: Uint8Array[] }
  /** A singular message: the bytes of each occurrence, merged by concatenation (protobuf's rule). */
  | { kind: 'message'; parts: Uint8Array[] }
  /** A repeated message or repeated string: each item's payload. */
  | { kind: 'repeatedPayload'; items: Uint8Array[] }

/**
 * Most items of repeated fields in one request, nested messages included: the largest list the
 * engine takes (`listMaxItems`). Counted from the wire bytes before anything is decoded, so that a
 * request of millions of one-byte items is refused without an object per item.
 */
export const requestItemsMax = limits.listMaxItems

/**
 * The items of repeated fields in a request of `type` (lists, map entries, columns, nested ones
 * included), counted from its bytes without decoding them; past `requestItemsMax` it stops
 * counting and returns requestItemsMax + 1.
 */
export function countRequestItems(type: protobuf.Type, bytes: Uint8Array): number {
  return Math.min(countItems(type, bytes, requestItemsMax), requestItemsMax + 1)
}

/** The canonical encoding of `bytes` as a message of `type`. */
export function canonicalRequest(type: protobuf.Type, bytes: Uint8Array): Buffer {
  return encodeFields(type, parseFields(type, bytes))
}

/**
 * The items of repeated fields in a message of `type`, nested messages included, counted without
 * an object per item; stops counting past `budget`.
 */
function countItems(type: protobuf.Type, bytes: Uint8Array, budget: number): number {
  let count = 0
  const cursor = new Cursor(bytes, 0, bytes.length)
  // Bounded: each pass moves the cursor past one field.
  while (count <= budget) {
    const next = nextKnownField(type, cursor)
    if (next === undefined) break
    const { field, fieldNumber, wireType } = next
    if (wireType !== lengthDelimited) {
      if (field.repeated) count++
      cursor.skip(wireType, fieldNumber)
      continue
    }
    const payload = cursor.take(cursor.small())
    if (isMessageField(field)) {
      if (field.repeated) count++
      count += countItems(field.resolvedType as protobuf.Type, payload, budget - count)
    } else if (field.type === 'string' || field.type === 'bytes') {
      if (field.repeated) count++
    } else if (fixed64Types.has(field.type)) {
      count += Math.ceil(payload.length / 8)
    } else if (fixed32Types.has(field.type)) {
      count += Math.ceil(payload.length / 4)
    } else {
      // Packed varints: one ends at each byte below 0x80.
      for (const byte of payload) if (byte < 0x80) count++
    }
  }
  return count
}

/**
 * Reads tags at `cursor` until one names a field of `type`, skipping unknown fields (and their
 * values); undefined at the end. The field's value is left for the caller to read.
 */
function nextKnownField(type: protobuf.Type, cursor: Cursor): { field: protobuf.Field; fieldNumber: number; wireType: number } | undefined {
  // Bounded: each pass moves the cursor past one unknown field.
  while (cursor.offset < cursor.end) {
    const tag = cursor.small()
    const fieldNumber = Math.floor(tag / 8)
    const wireType = tag % 8
    const field = type.fieldsById[fieldNumber]
    if (field !== undefined) return { field, fieldNumber, wireType }
    cursor.skip(wireType, fieldNumber)
  }
  return undefined
}

function isMessageField(field: protobuf.Field): boolean {
  return field.resolvedType !== null && 'fieldsById' in field.resolvedType
}

function isEnumField(field: protobuf.Field): boolean {
  return field.resolvedType !== null && !('fieldsById' in field.resolvedType)
}

class Cursor {
  offset: number
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.offset = start
  }

  /** A varint of at most 10 bytes, as an unsigned 64-bit value (higher bits dropped, as the reference does). */
  varint(): bigint {
    const start = this.offset
    const end = this.varintEnd()
    let result = 0n
    for (let index = end - 1; index >= start; index--) result = (result << 7n) | BigInt(this.bytes[index]! & 0x7f)
    return BigInt.asUintN(64, result)
  }

  /** A varint known to be below 2^53 (a tag or a length, bounded by the wire check), as a number. */
  small(): number {
    let result = 0
    let scale = 1
    const start = this.offset
    const end = this.varintEnd()
    for (let index = start; index < end; index++) {
      result += (this.bytes[index]! & 0x7f) * scale
      scale *= 128
    }
    return result
  }

  /** The offset just past the varint at the cursor, which it moves there. */
  varintEnd(): number {
    for (let index = 0; index < 10; index++) {
      if (this.offset >= this.end) throw new Error('a varint runs past the end (unchecked request)')
      if (this.bytes[this.offset++]! < 0x80) return this.offset
    }
    throw new Error('a varint is longer than 10 bytes (unchecked request)')
  }

  take(size: number): Uint8Array {
    if (size > this.end - this.offset) throw new Error('a field runs past the end (unchecked request)')
    const slice = this.bytes.subarray(this.offset, this.offset + size)
    this.offset += size
    return slice
  }

  /** Skips an unknown group's fields through its end tag. */
  skipGroup(fieldNumber: number): void {
    for (;;) {
      const tag = this.small()
      const wireType = tag % 8
      const number = Math.floor(tag / 8)
      if (wireType === endGroup) {
        if (number === fieldNumber) return
        throw new Error('an unmatched end-group tag (unchecked request)')
      }
      this.skip(wireType, number)
    }
  }

  skip(wireType: number, fieldNumber: number): void {
    switch (wireType) {
      case varint:
        this.varint()
        return
      case fixed64:
        this.take(8)
        return
      case fixed32:
        this.take(4)
        return
      case lengthDelimited:
        this.take(this.small())
        return
      case startGroup:
        this.skipGroup(fieldNumber)
        return
      default:
        throw new Error(`wire type ${wireType} is invalid (unchecked request)`)
    }
  }
}

/** The canonical varint encoding of the field's value `raw` (a 64-bit varint as read), by the field's type. */
function canonicalVarint(field: protobuf.Field, raw: bigint): Uint8Array {
  let value: bigint
  switch (field.type) {
    case 'bool':
      value = raw === 0n ? 0n : 1n
      break
    case 'uint32':
      value = raw % twoTo32
      break
    case 'sint32':
      value = raw % twoTo32 // zigzag: the low 32 bits carry the value
      break
    case 'int32':
      value = BigInt.asUintN(64, BigInt.asIntN(32, raw)) // the low 32 bits, sign-extended
      break
    default:
      value = isEnumField(field) ? BigInt.asUintN(64, BigInt.asIntN(32, raw)) : raw
  }
  return encodeVarint(value)
}

const varint64Types = new Set(['int64', 'uint64', 'sint64'])

function is64BitVarint(field: protobuf.Field): boolean {
  return varint64Types.has(field.type) && !isEnumField(field)
}

/**
 * Whether a packed run is already canonical as it is: fixed-width items always are (when the run
 * holds whole items); varints of a 64-bit type are when each is minimal. Checked without an
 * object per item.
 */
function isCanonicalRun(run: Uint8Array, itemWireType: number, field: protobuf.Field): boolean {
  if (itemWireType === fixed64) return run.length % 8 === 0
  if (itemWireType === fixed32) return run.length % 4 === 0
  if (!is64BitVarint(field)) return false
  let length = 0
  // Bounded by the run's length.
  for (let index = 0; index < run.length; index++) {
    const byte = run[index]!
    length++
    if (byte >= 0x80) continue
    if (length > 1 && (byte === 0 || (length === 10 && byte !== 1))) return false
    length = 0
  }
  return length === 0
}

function parseFields(type: protobuf.Type, bytes: Uint8Array): Map<number, FieldValue> {
  const fields = new Map<number, FieldValue>()
  const cursor = new Cursor(bytes, 0, bytes.length)
  // Bounded: each pass moves the cursor past one field.
  for (let next = nextKnownField(type, cursor); next !== undefined; next = nextKnownField(type, cursor)) {
    const { field, fieldNumber, wireType } = next
    // A member of a oneof clears the other members: the last one on the wire wins.
    const oneof = field.partOf
    if (oneof !== null) {
      for (const member of oneof.fieldsArray) if (member.id !== fieldNumber) fields.delete(member.id)
    }
    if (isMessageField(field)) {
      const payload = cursor.take(cursor.small())
      if (field.repeated) {
        addRepeatedPayload(fields, fieldNumber, payload)
      } else {
        const current = fields.get(fieldNumber)
        if (current?.kind === 'message') current.parts.push(payload)
        else fields.set(fieldNumber, { kind: 'message', parts: [payload] })
      }
      continue
    }
    if (field.type === 'string' || field.type === 'bytes') {
      const payload = cursor.take(cursor.small())
      if (field.repeated) {
        addRepeatedPayload(fields, fieldNumber, payload)
      } else {
        fields.set(fieldNumber, { kind: 'scalar', bytes: withLength(payload) })
      }
      continue
    }
    // A number: varint, fixed64 or fixed32; repeated ones may also come packed.
    const items: Uint8Array[] = []
    const readOne = (from: Cursor, itemWireType: number): void => {
      if (itemWireType === varint) {
        // A minimal varint of a 64-bit type is already canonical: copy it (the common case, and fast).
        const start = from.offset
        const end = from.varintEnd()
        const last = from.bytes[end - 1]!
        const minimal = end - start === 1 || (last !== 0 && (end - start < 10 || last === 1))
        if (minimal && is64BitVarint(field)) {
          items.push(from.bytes.subarray(start, end))
        } else {
          from.offset = start
          items.push(canonicalVarint(field, from.varint()))
        }
      }
      else if (itemWireType === fixed64) items.push(from.take(8))
      else if (itemWireType === fixed32) items.push(from.take(4))
      else throw new Error(`field ${field.name} has wire type ${itemWireType} (unchecked request)`)
    }
    if (wireType === lengthDelimited) {
      if (!field.repeated) throw new Error(`field ${field.name} is packed but not repeated (unchecked request)`)
      const size = cursor.small()
      const packed = new Cursor(bytes, cursor.offset, cursor.offset + size)
      const run = cursor.take(size)
      const itemWireType = fixed64Types.has(field.type) ? fixed64 : fixed32Types.has(field.type) ? fixed32 : varint
      if (isCanonicalRun(run, itemWireType, field)) items.push(run)
      else while (packed.offset < packed.end) readOne(packed, itemWireType)
    } else {
      readOne(cursor, wireType)
    }
    if (field.repeated) {
      const current = fields.get(fieldNumber)
      // One by one: a spread of a long list would overflow the call stack.
      if (current?.kind === 'repeatedScalar') for (const item of items) current.items.push(item)
      else fields.set(fieldNumber, { kind: 'repeatedScalar', items })
    } else {
      fields.set(fieldNumber, { kind: 'scalar', bytes: items[0]! })
    }
  }
  return fields
}

/** Appends one item (a message's or a string's payload) to repeated field `fieldNumber`. */
function addRepeatedPayload(fields: Map<number, FieldValue>, fieldNumber: number, payload: Uint8Array): void {
  const current = fields.get(fieldNumber)
  if (current?.kind === 'repeatedPayload') current.items.push(payload)
  else fields.set(fieldNumber, { kind: 'repeatedPayload', items: [payload] })
}

function encodeFields(type: protobuf.Type, fields: Map<number, FieldValue>): Buffer {
  const out: Uint8Array[] = []
  const numbers = [...fields.keys()].sort((a, b) => a - b)
  for (const fieldNumber of numbers) {
    const field = type.fieldsById[fieldNumber]!
    const value = fields.get(fieldNumber)!
    const tag = (wireType: number) => encodeVarint(BigInt(fieldNumber) * 8n + BigInt(wireType))
    switch (value.kind) {
      case 'scalar': {
        const wireType =
          field.type === 'string' || field.type === 'bytes'
            ? lengthDelimited
            : fixed64Types.has(field.type)
              ? fixed64
              : fixed32Types.has(field.type)
                ? fixed32
                : varint
        out.push(tag(wireType), value.bytes)
        break
      }
      case 'repeatedScalar':
        if (value.items.length > 0) out.push(tag(lengthDelimited), withLength(concat(value.items)))
        break
      case 'message': {
        const messageType = field.resolvedType as protobuf.Type
        out.push(tag(lengthDelimited), withLength(canonicalRequest(messageType, concat(value.parts))))
        break
      }
      case 'repeatedPayload':
        for (const item of value.items) {
          const payload = isMessageField(field) ? canonicalRequest(field.resolvedType as protobuf.Type, item) : item
          out.push(tag(lengthDelimited), withLength(payload))
        }
        break
    }
  }
  return concat(out)
}

function encodeVarint(value: bigint): Uint8Array {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  bytes.push(Number(rest))
  return Uint8Array.from(bytes)
}

function withLength(payload: Uint8Array): Uint8Array {
  return concat([encodeVarint(BigInt(payload.length)), payload])
}

function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts)
}
