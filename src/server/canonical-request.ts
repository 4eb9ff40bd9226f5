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


/**
 * One field's parsed content: where its bytes are in the request rather than copies of them, so
 * that an item costs no object of its own (a list of a million items would otherwise be a
 * million views and a million re-encoded pieces, half a gigabyte held at once).
 */
type FieldValue =
  /** A scalar: the last occurrence's wire type and the range of its value (a varint, 4 or 8 bytes, or a string's payload). */
  | { kind: 'scalar'; wireType: number; start: number; end: number }
  /** A repeated number: the canonical encodings of its items, one after another. */
  | { kind: 'repeatedScalar'; items: ByteWriter }
  /** A singular message: the payload range of each occurrence (start, end, start, end, ...), merged by protobuf's rule. */
  | { kind: 'message'; ranges: number[] }
  /** A repeated message or repeated string: the payload range of each item (start, end, ...). */
  | { kind: 'repeatedPayload'; ranges: number[] }

/**
 * Most items of repeated fields in one request, nested messages included: the largest list the
 * engine takes (`listMaxItems`). Counted from the wire bytes before anything is decoded, so that a
 * request of millions of one-byte items is refused without an object per item.
 */
export const requestItemsMax = limits.listMaxItems

/**
 * The items of repeated fields in a request of `type` (lists, map entries, columns, nested ones
 * included), counted from its bytes without decoding them; past `requestItemsMax` it stops
 * counting and returns requestItemsMax + 1. A singular message field sent more than once counts
 * an item for each occurrence after the first: each is a part to merge, as costly as an item.
 */
export function countRequestItems(type: protobuf.Type, bytes: Uint8Array): number {
  return Math.min(countItems(type, bytes, 0, bytes.length, requestItemsMax), requestItemsMax + 1)
}

/**
 * How many times the field `fieldName` of `type` occurs at the top level of `bytes` (the
 * operations of a Commit), counted without decoding; past `max` it stops and returns max + 1.
 */
export function countTopLevelField(type: protobuf.Type, bytes: Uint8Array, fieldName: string, max: number): number {
  const wanted = type.fields[fieldName]
  if (wanted === undefined) throw new Error(`${type.name} has no field ${fieldName}`)
  let count = 0
  const cursor = new Cursor(bytes, 0, bytes.length)
  // Bounded: each pass moves the cursor past one field.
  while (count <= max) {
    const next = nextKnownField(type, cursor)
    if (next === undefined) break
    if (next.field === wanted) count++
    cursor.skip(next.wireType, next.fieldNumber)
  }
  return count
}

/** The canonical encoding of `bytes` as a message of `type`. */
export function canonicalRequest(type: protobuf.Type, bytes: Uint8Array): Buffer {
  // The canonical form is rarely longer than the request (only negative 32-bit numbers sent in
  // 5 bytes grow, to 10): one allocation in the common case.
  const out = new ByteWriter(bytes.length + 16)
  writeMessage(out, type, bytes, [0, bytes.length], 0, 2)
  return out.result()
}

/**
 * The items of repeated fields in the message of `type` at [start, end) of `bytes`, and every
 * message occurrence (each decodes to an object of its own: an operation of a Commit holds three
 * or four, nested), counted without an object per item; stops counting past `budget`.
 */
function countItems(type: protobuf.Type, bytes: Uint8Array, start: number, end: number, budget: number): number {
  let count = 0
  const cursor = new Cursor(bytes, start, end)
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
    const size = cursor.small()
    const from = cursor.advance(size)
    if (isMessageField(field)) {
      count++
      count += countItems(field.resolvedType as protobuf.Type, bytes, from, from + size, budget - count)
    } else if (field.type === 'string' || field.type === 'bytes') {
      if (field.repeated) count++
    } else if (fixed64Types.has(field.type)) {
      count += Math.ceil(size / 8)
    } else if (fixed32Types.has(field.type)) {
      count += Math.ceil(size / 4)
    } else {
      // Packed varints: one ends at each byte below 0x80.
      for (let index = from; index < from + size; index++) if (bytes[index]! < 0x80) count++
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

  /** Moves past `size` bytes and returns where they start. */
  advance(size: number): number {
    if (size > this.end - this.offset) throw new Error('a field runs past the end (unchecked request)')
    const start = this.offset
    this.offset += size
    return start
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
        this.varintEnd()
        return
      case fixed64:
        this.advance(8)
        return
      case fixed32:
        this.advance(4)
        return
      case lengthDelimited:
        this.advance(this.small())
        return
      case startGroup:
        this.skipGroup(fieldNumber)
        return
      default:
        throw new Error(`wire type ${wireType} is invalid (unchecked request)`)
    }
  }
}

/** Bytes appended to one buffer, which doubles as it fills. */
class ByteWriter {
  private buffer: Buffer
  length = 0

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, 16))
  }

  private room(size: number): void {
    if (this.length + size <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + size))
    this.buffer.copy(grown, 0, 0, this.length)
    this.buffer = grown
  }

  /** A varint below 2^53 (a tag or a length). */
  small(value: number): void {
    this.room(8)
    this.length = putSmall(this.buffer, this.length, value)
  }

  /** A 64-bit varint. */
  varint(value: bigint): void {
    this.room(10)
    let rest = value
    while (rest >= 0x80n) {
      this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80
      rest >>= 7n
    }
    this.buffer[this.length++] = Number(rest)
  }

  tag(fieldNumber: number, wireType: number): void {
    this.small(fieldNumber * 8 + wireType)
  }

  /** Bytes [start, end) of `source`. */
  copy(source: Uint8Array, start: number, end: number): void {
    const size = end - start
    this.room(size)
    // A short item is copied byte by byte: a view of it would cost more than the copy.
    if (size <= 16) for (let index = start; index < end; index++) this.buffer[this.length++] = source[index]!
    else {
      this.buffer.set(source.subarray(start, end), this.length)
      this.length += size
    }
  }

  append(other: ByteWriter): void {
    this.copy(other.buffer, 0, other.length)
  }

  /**
   * Starts a length-delimited payload: room for its length, which `endLength` writes once the
   * payload is known, minimal, moving the payload back over the room it did not take.
   */
  startLength(): number {
    this.room(lengthRoomBytes)
    const at = this.length
    this.length += lengthRoomBytes
    return at
  }

  endLength(at: number): void {
    const size = this.length - at - lengthRoomBytes
    let lengthBytes = 1
    for (let rest = size; rest >= 0x80; rest = Math.floor(rest / 0x80)) lengthBytes++
    // In place: the length fits the room kept for it, which must not move (or grow) meanwhile.
    this.buffer.copyWithin(at + lengthBytes, at + lengthRoomBytes, this.length)
    putSmall(this.buffer, at, size)
    this.length = at + lengthBytes + size
  }

  result(): Buffer {
    return this.buffer.subarray(0, this.length)
  }
}

/** Room for a length below 2^35, more than any request holds. */
const lengthRoomBytes = 5

/** Writes `value` (below 2^53) as a varint at `offset` of `buffer`, which has room; returns the offset past it. */
function putSmall(buffer: Buffer, offset: number, value: number): number {
  let at = offset
  let rest = value
  while (rest >= 0x80) {
    buffer[at++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  buffer[at++] = rest
  return at
}

/** The canonical value of the field's varint `raw` (a 64-bit varint as read), by the field's type. */
function canonicalVarint(field: protobuf.Field, raw: bigint): bigint {
  switch (field.type) {
    case 'bool':
      return raw === 0n ? 0n : 1n
    case 'uint32':
      return raw % twoTo32
    case 'sint32':
      return raw % twoTo32 // zigzag: the low 32 bits carry the value
    case 'int32':
      return BigInt.asUintN(64, BigInt.asIntN(32, raw)) // the low 32 bits, sign-extended
    default:
      return isEnumField(field) ? BigInt.asUintN(64, BigInt.asIntN(32, raw)) : raw
  }
}

const varint64Types = new Set(['int64', 'uint64', 'sint64'])

function is64BitVarint(field: protobuf.Field): boolean {
  return varint64Types.has(field.type) && !isEnumField(field)
}

/**
 * Whether the packed run at [start, end) of `bytes` is already canonical as it is: fixed-width
 * items always are (when the run holds whole items); varints of a 64-bit type are when each is
 * minimal. Checked without an object per item.
 */
function isCanonicalRun(bytes: Uint8Array, start: number, end: number, itemWireType: number, field: protobuf.Field): boolean {
  if (itemWireType === fixed64) return (end - start) % 8 === 0
  if (itemWireType === fixed32) return (end - start) % 4 === 0
  if (!is64BitVarint(field)) return false
  let length = 0
  // Bounded by the run's length.
  for (let index = start; index < end; index++) {
    const byte = bytes[index]!
    length++
    if (byte >= 0x80) continue
    if (length > 1 && (byte === 0 || (length === 10 && byte !== 1))) return false
    length = 0
  }
  return length === 0
}

/** Appends the canonical encoding of the number at `from` (of `itemWireType`) to `items`. */
function writeNumber(items: ByteWriter, from: Cursor, itemWireType: number, field: protobuf.Field): void {
  if (itemWireType === varint) {
    // A minimal varint of a 64-bit type is already canonical: copy it (the common case, and fast).
    const start = from.offset
    const end = from.varintEnd()
    const last = from.bytes[end - 1]!
    const minimal = end - start === 1 || (last !== 0 && (end - start < 10 || last === 1))
    if (minimal && is64BitVarint(field)) {
      items.copy(from.bytes, start, end)
    } else {
      from.offset = start
      items.varint(canonicalVarint(field, from.varint()))
    }
  } else if (itemWireType === fixed64) {
    const start = from.advance(8)
    items.copy(from.bytes, start, start + 8)
  } else if (itemWireType === fixed32) {
    const start = from.advance(4)
    items.copy(from.bytes, start, start + 4)
  } else {
    throw new Error(`field ${field.name} has wire type ${itemWireType} (unchecked request)`)
  }
}

/**
 * Reads the fields at [start, end) of `bytes` as a message of `type` into `fields`; reading the
 * occurrences of a message one after another into the same `fields` merges them, as protobuf's
 * rule (parse their concatenation) says.
 */
function parseFields(type: protobuf.Type, bytes: Uint8Array, start: number, end: number, fields: Map<number, FieldValue>): void {
  const cursor = new Cursor(bytes, start, end)
  // Bounded: each pass moves the cursor past one field.
  for (let next = nextKnownField(type, cursor); next !== undefined; next = nextKnownField(type, cursor)) {
    const { field, fieldNumber, wireType } = next
    // A member of a oneof clears the other members: the last one on the wire wins.
    const oneof = field.partOf
    if (oneof !== null) {
      for (const member of oneof.fieldsArray) if (member.id !== fieldNumber) fields.delete(member.id)
    }
    const current = fields.get(fieldNumber)
    if (isMessageField(field) || field.type === 'string' || field.type === 'bytes') {
      const size = cursor.small()
      const from = cursor.advance(size)
      if (field.repeated) {
        if (current?.kind === 'repeatedPayload') current.ranges.push(from, from + size)
        else fields.set(fieldNumber, { kind: 'repeatedPayload', ranges: [from, from + size] })
      } else if (isMessageField(field)) {
        if (current?.kind === 'message') current.ranges.push(from, from + size)
        else fields.set(fieldNumber, { kind: 'message', ranges: [from, from + size] })
      } else {
        setScalar(fields, current, fieldNumber, lengthDelimited, from, from + size)
      }
      continue
    }
    // A number: varint, fixed64 or fixed32; repeated ones may also come packed.
    if (!field.repeated) {
      if (wireType === lengthDelimited) throw new Error(`field ${field.name} is packed but not repeated (unchecked request)`)
      const from = cursor.offset
      cursor.skip(wireType, fieldNumber)
      setScalar(fields, current, fieldNumber, wireType, from, cursor.offset)
      continue
    }
    let items: ByteWriter
    if (current?.kind === 'repeatedScalar') {
      items = current.items
    } else {
      items = new ByteWriter(0)
      fields.set(fieldNumber, { kind: 'repeatedScalar', items })
    }
    if (wireType === lengthDelimited) {
      const size = cursor.small()
      const from = cursor.advance(size)
      const itemWireType = fixed64Types.has(field.type) ? fixed64 : fixed32Types.has(field.type) ? fixed32 : varint
      if (isCanonicalRun(bytes, from, from + size, itemWireType, field)) {
        items.copy(bytes, from, from + size)
      } else {
        const packed = new Cursor(bytes, from, from + size)
        // Bounded: each pass moves past one item.
        while (packed.offset < packed.end) writeNumber(items, packed, itemWireType, field)
      }
    } else {
      writeNumber(items, cursor, wireType, field)
    }
  }
}

/** Makes the scalar `fieldNumber` the value at [start, end), reusing its entry when it has one. */
function setScalar(fields: Map<number, FieldValue>, current: FieldValue | undefined, fieldNumber: number, wireType: number, start: number, end: number): void {
  if (current?.kind === 'scalar') {
    current.wireType = wireType
    current.start = start
    current.end = end
  } else {
    fields.set(fieldNumber, { kind: 'scalar', wireType, start, end })
  }
}

/**
 * Writes the canonical encoding of the message of `type` made of the occurrences
 * ranges[first..last) (start, end pairs) of `bytes`, merged.
 */
function writeMessage(out: ByteWriter, type: protobuf.Type, bytes: Uint8Array, ranges: readonly number[], first: number, last: number): void {
  const fields = new Map<number, FieldValue>()
  for (let index = first; index < last; index += 2) parseFields(type, bytes, ranges[index]!, ranges[index + 1]!, fields)
  const numbers = [...fields.keys()].sort((a, b) => a - b)
  for (const fieldNumber of numbers) {
    const field = type.fieldsById[fieldNumber]!
    const value = fields.get(fieldNumber)!
    switch (value.kind) {
      case 'scalar':
        out.tag(fieldNumber, value.wireType)
        if (value.wireType === varint) {
          out.varint(canonicalVarint(field, new Cursor(bytes, value.start, value.end).varint()))
        } else {
          if (value.wireType === lengthDelimited) out.small(value.end - value.start)
          out.copy(bytes, value.start, value.end)
        }
        break
      case 'repeatedScalar':
        if (value.items.length > 0) {
          out.tag(fieldNumber, lengthDelimited)
          out.small(value.items.length)
          out.append(value.items)
        }
        break
      case 'message': {
        out.tag(fieldNumber, lengthDelimited)
        const at = out.startLength()
        writeMessage(out, field.resolvedType as protobuf.Type, bytes, value.ranges, 0, value.ranges.length)
        out.endLength(at)
        break
      }
      case 'repeatedPayload': {
        const ranges = value.ranges
        const itemType = isMessageField(field) ? (field.resolvedType as protobuf.Type) : undefined
        for (let index = 0; index < ranges.length; index += 2) {
          out.tag(fieldNumber, lengthDelimited)
          if (itemType === undefined) {
            out.small(ranges[index + 1]! - ranges[index]!)
            out.copy(bytes, ranges[index]!, ranges[index + 1]!)
          } else {
            const at = out.startLength()
            writeMessage(out, itemType, bytes, ranges, index, index + 2)
            out.endLength(at)
          }
        }
        break
      }
    }
  }
}
