/**
 * Node values: the six types, their validation, and their binary encoding.
 *
 * Values are tagged so that an int64 3 and a double 3 are never confused, and so that an empty
 * list keeps its element type. Encoding (see docs/format.md#values), all integers little-endian:
 *
 *   value      := tag: u8, body
 *   int64      := i64
 *   double     := f64                       (any bit pattern: NaN, ±Infinity and -0 survive)
 *   string     := byteLength: u32, utf8[byteLength]
 *   int64List  := count: u32, i64[count]
 *   stringList := count: u32, string[count]
 *   stringMap  := count: u32, (key: string, value: string)[count]   (in insertion order)
 *
 * Invariant: `decodeValue(encodeValue(v))` equals `v` for every value that passes validation.
 */
import { invalidArgument, limitExceeded, StratumError } from './errors.ts'
import { listMaxItems, mapMaxEntries, valueMaxBytes } from './limits.ts'

export type Int64Value = { readonly type: 'int64'; readonly value: bigint }
export type DoubleValue = { readonly type: 'double'; readonly value: number }
export type StringValue = { readonly type: 'string'; readonly value: string }
export type Int64ListValue = { readonly type: 'int64List'; readonly value: readonly bigint[] }
export type StringListValue = { readonly type: 'stringList'; readonly value: readonly string[] }
export type StringMapValue = {
  readonly type: 'stringMap'
  readonly value: ReadonlyMap<string, string>
}

/** A node value: exactly one of the six types. */
export type Value =
  | Int64Value
  | DoubleValue
  | StringValue
  | Int64ListValue
  | StringListValue
  | StringMapValue

export type ValueType = Value['type']

/** Tag bytes on disk. Never renumber: stored files depend on them. */
export const valueTags = {
  int64: 1,
  double: 2,
  string: 3,
  int64List: 4,
  stringList: 5,
  stringMap: 6,
} as const satisfies Record<ValueType, number>

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/** Builds an int64 value; accepts a safe integer number for convenience. */
export function int64(value: bigint | number): Int64Value {
  return { type: 'int64', value: typeof value === 'number' ? BigInt(value) : value }
}
export function double(value: number): DoubleValue {
  return { type: 'double', value }
}
export function string(value: string): StringValue {
  return { type: 'string', value }
}
export function int64List(value: readonly (bigint | number)[]): Int64ListValue {
  return { type: 'int64List', value: value.map((item) => (typeof item === 'number' ? BigInt(item) : item)) }
}
export function stringList(value: readonly string[]): StringListValue {
  return { type: 'stringList', value }
}
export function stringMap(value: ReadonlyMap<string, string> | Record<string, string>): StringMapValue {
  return { type: 'stringMap', value: value instanceof Map ? value : new Map(Object.entries(value)) }
}

/**
 * True when `text` is well-formed UTF-16 (no lone surrogates), so that UTF-8 round-trips it.
 * A lone surrogate would silently become U+FFFD on disk, which is data loss, so it is refused.
 */
export function isWellFormedText(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed()
}

/** Validates a string that will be stored, and returns its UTF-8 length in bytes. */
export function checkedUtf8Bytes(text: unknown, what: string): number {
  if (typeof text !== 'string') {
    throw invalidArgument(`${what} must be a string, got ${describe(text)}`)
  }
  if (!isWellFormedText(text)) {
    throw invalidArgument(`${what} is not well-formed Unicode (it holds a lone surrogate)`)
  }
  return Buffer.byteLength(text, 'utf8')
}

/**
 * Validates `value` and returns its encoded size in bytes.
 * Throws INVALID_ARGUMENT for a malformed value and LIMIT_EXCEEDED past a limit.
 */
export function encodedValueBytes(value: unknown): number {
  if (typeof value !== 'object' || value === null || !('type' in value) || !('value' in value)) {
    throw invalidArgument(`a value must be an object { type, value }, got ${describe(value)}`)
  }
  const tagged = value as { type: unknown; value: unknown }
  const body = tagged.value
  let sizeBytes: number
  switch (tagged.type) {
    case 'int64':
      checkInt64(body, 'an int64 value')
      sizeBytes = 1 + 8
      break
    case 'double':
      if (typeof body !== 'number') throw invalidArgument(`a double value must be a number, got ${describe(body)}`)
      sizeBytes = 1 + 8
      break
    case 'string':
      sizeBytes = 1 + 4 + checkedUtf8Bytes(body, 'a string value')
      break
    case 'int64List': {
      const items = checkList(body, 'an int64List value')
      for (let index = 0; index < items.length; index++) checkInt64(items[index], `int64List item ${index}`)
      sizeBytes = 1 + 4 + 8 * items.length
      break
    }
    case 'stringList': {
      const items = checkList(body, 'a stringList value')
      sizeBytes = 1 + 4
      for (let index = 0; index < items.length; index++) {
        sizeBytes += 4 + checkedUtf8Bytes(items[index], `stringList item ${index}`)
        if (sizeBytes > valueMaxBytes) break
      }
      break
    }
    case 'stringMap': {
      if (!(body instanceof Map)) {
        throw invalidArgument(`a stringMap value must be a Map of string to string, got ${describe(body)}`)
      }
      if (body.size > mapMaxEntries) {
        throw limitExceeded(`map has ${body.size} entries; mapMaxEntries is ${mapMaxEntries}`)
      }
      sizeBytes = 1 + 4
      for (const [key, item] of body as Map<unknown, unknown>) {
        sizeBytes += 8 + checkedUtf8Bytes(key, 'a map key') + checkedUtf8Bytes(item, `map value of key ${String(key)}`)
        if (sizeBytes > valueMaxBytes) break
      }
      break
    }
    default:
      throw invalidArgument(
        `unknown value type ${JSON.stringify(tagged.type)}; expected one of ${Object.keys(valueTags).join(', ')}`,
      )
  }
  if (sizeBytes > valueMaxBytes) {
    throw limitExceeded(`value is ${sizeBytes} bytes or more encoded; valueMaxBytes is ${valueMaxBytes}`)
  }
  return sizeBytes
}

/**
 * Writes `value` at `offset` of `target` and returns the offset after it.
 * REQUIRES: `value` passed `encodedValueBytes`, and `target` has room for that many bytes.
 */
export function writeValue(value: Value, target: Buffer, offset: number): number {
  target[offset++] = valueTags[value.type]
  switch (value.type) {
    case 'int64':
      target.writeBigInt64LE(value.value, offset)
      return offset + 8
    case 'double':
      target.writeDoubleLE(value.value, offset)
      return offset + 8
    case 'string':
      return writeString(value.value, target, offset)
    case 'int64List':
      target.writeUInt32LE(value.value.length, offset)
      offset += 4
      for (const item of value.value) {
        target.writeBigInt64LE(item, offset)
        offset += 8
      }
      return offset
    case 'stringList':
      target.writeUInt32LE(value.value.length, offset)
      offset += 4
      for (const item of value.value) offset = writeString(item, target, offset)
      return offset
    case 'stringMap':
      target.writeUInt32LE(value.value.size, offset)
      offset += 4
      for (const [key, item] of value.value) {
        offset = writeString(key, target, offset)
        offset = writeString(item, target, offset)
      }
      return offset
  }
}

/** Validates and encodes a value into a new buffer. */
export function encodeValue(value: Value): Buffer {
  const sizeBytes = encodedValueBytes(value)
  const target = Buffer.allocUnsafe(sizeBytes)
  const end = writeValue(value, target, 0)
  if (end !== sizeBytes) throw new Error(`value encoding wrote ${end} bytes, expected ${sizeBytes}`)
  return target
}

/**
 * Decodes the value stored in `source[start, end)`. The bytes were checksummed, so a malformed
 * encoding here means a bug or a checksum collision; it is reported as CORRUPTION either way.
 */
export function decodeValue(source: Buffer, start: number, end: number): Value {
  const reader = new ValueReader(source, start, end)
  const value = reader.value()
  if (reader.offset !== end) reader.fail(`value ends at ${reader.offset}, record at ${end}`)
  return value
}

class ValueReader {
  offset: number
  constructor(
    private readonly source: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.offset = start
  }

  fail(detail: string): never {
    throw new StratumError('CORRUPTION', `malformed value encoding: ${detail}`)
  }

  need(sizeBytes: number): void {
    if (this.offset + sizeBytes > this.end) this.fail(`needs ${sizeBytes} bytes at ${this.offset}, has ${this.end - this.offset}`)
  }

  u32(): number {
    this.need(4)
    const result = this.source.readUInt32LE(this.offset)
    this.offset += 4
    return result
  }

  i64(): bigint {
    this.need(8)
    const result = this.source.readBigInt64LE(this.offset)
    this.offset += 8
    return result
  }

  string(): string {
    const sizeBytes = this.u32()
    this.need(sizeBytes)
    const result = this.source.toString('utf8', this.offset, this.offset + sizeBytes)
    this.offset += sizeBytes
    return result
  }

  count(max: number): number {
    const result = this.u32()
    if (result > max) this.fail(`count ${result} over ${max}`)
    return result
  }

  value(): Value {
    this.need(1)
    const tag = this.source[this.offset++]
    switch (tag) {
      case valueTags.int64:
        return { type: 'int64', value: this.i64() }
      case valueTags.double: {
        this.need(8)
        const result = this.source.readDoubleLE(this.offset)
        this.offset += 8
        return { type: 'double', value: result }
      }
      case valueTags.string:
        return { type: 'string', value: this.string() }
      case valueTags.int64List: {
        const count = this.count(listMaxItems)
        this.need(8 * count)
        const items = new Array<bigint>(count)
        for (let index = 0; index < count; index++) items[index] = this.i64()
        return { type: 'int64List', value: items }
      }
      case valueTags.stringList: {
        const count = this.count(listMaxItems)
        const items = new Array<string>(count)
        for (let index = 0; index < count; index++) items[index] = this.string()
        return { type: 'stringList', value: items }
      }
      case valueTags.stringMap: {
        const count = this.count(mapMaxEntries)
        const entries = new Map<string, string>()
        for (let index = 0; index < count; index++) {
          const key = this.string()
          entries.set(key, this.string())
        }
        return { type: 'stringMap', value: entries }
      }
      default:
        return this.fail(`unknown tag ${String(tag)}`)
    }
  }
}

function writeString(text: string, target: Buffer, offset: number): number {
  const written = target.write(text, offset + 4, 'utf8')
  target.writeUInt32LE(written, offset)
  return offset + 4 + written
}

function checkInt64(item: unknown, what: string): void {
  if (typeof item !== 'bigint') throw invalidArgument(`${what} must be a bigint, got ${describe(item)}`)
  if (item < int64Min || item > int64Max) throw invalidArgument(`${what} ${item} is outside the int64 range`)
}

function checkList(items: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(items)) throw invalidArgument(`${what} must be an array, got ${describe(items)}`)
  if (items.length > listMaxItems) {
    throw limitExceeded(`list has ${items.length} items; listMaxItems is ${listMaxItems}`)
  }
  return items
}

/** A short description of a bad input for error messages; never the whole input. */
export function describe(input: unknown): string {
  if (input === null) return 'null'
  if (Array.isArray(input)) return 'an array'
  if (input instanceof Map) return 'a Map'
  if (typeof input === 'string') return `a string of length ${input.length}`
  if (typeof input === 'object') return 'an object'
  return typeof input === 'bigint' || typeof input === 'number' ? `${typeof input} ${String(input)}` : typeof input
}
