/**
 * A document's metadata: string columns, validated against their limits and encoded as a
 * stringMap body (see values.ts): count: u32, then (name: string, value: string)[count].
 */
import { invalidArgument, limitExceeded, StratumError } from './errors.ts'
import { columnNameMaxBytes, metaMaxBytes, metaMaxColumns } from './limits.ts'
import { checkedUtf8Bytes, describe } from './values.ts'

/** Metadata as callers pass it: a plain object or a Map of column name to value. */
export type MetaInput = Readonly<Record<string, string>> | ReadonlyMap<string, string>

/** Checks a column name and returns its UTF-8 length. */
export function checkColumnName(name: unknown): number {
  const sizeBytes = checkedUtf8Bytes(name, 'a column name')
  if (sizeBytes === 0) throw invalidArgument('a column name must not be empty')
  if (sizeBytes > columnNameMaxBytes) {
    throw limitExceeded(`column name is ${sizeBytes} bytes; columnNameMaxBytes is ${columnNameMaxBytes}`)
  }
  return sizeBytes
}

/** Validates metadata input and returns it as a new Map. */
export function toMetaMap(input: unknown): Map<string, string> {
  if (input === undefined) return new Map()
  let entries: Iterable<[unknown, unknown]>
  if (input instanceof Map) entries = input
  else if (typeof input === 'object' && input !== null && !Array.isArray(input)) entries = Object.entries(input)
  else throw invalidArgument(`metadata must be an object or a Map of column name to string, got ${describe(input)}`)
  const columns = new Map<string, string>()
  for (const [name, value] of entries) {
    checkColumnName(name)
    checkedUtf8Bytes(value, `the value of column ${String(name)}`)
    columns.set(name as string, value as string)
  }
  checkMetaSize(columns)
  return columns
}

/** Encoded size of `columns`; throws LIMIT_EXCEEDED past `metaMaxColumns` or `metaMaxBytes`. */
export function checkMetaSize(columns: ReadonlyMap<string, string>): number {
  if (columns.size > metaMaxColumns) {
    throw limitExceeded(`metadata has ${columns.size} columns; metaMaxColumns is ${metaMaxColumns}`)
  }
  let sizeBytes = 4
  for (const [name, value] of columns) {
    sizeBytes += 8 + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8')
  }
  if (sizeBytes > metaMaxBytes) {
    throw limitExceeded(`metadata is ${sizeBytes} bytes encoded; metaMaxBytes is ${metaMaxBytes}`)
  }
  return sizeBytes
}

/** Writes `columns` at `offset`; returns the offset after them. REQUIRES: `checkMetaSize` passed. */
export function writeMeta(columns: ReadonlyMap<string, string>, target: Buffer, offset: number): number {
  target.writeUInt32LE(columns.size, offset)
  offset += 4
  for (const [name, value] of columns) {
    for (const text of [name, value]) {
      const written = target.write(text, offset + 4, 'utf8')
      target.writeUInt32LE(written, offset)
      offset += 4 + written
    }
  }
  return offset
}

/** Decodes metadata stored in `source[start, end)`; malformed bytes are CORRUPTION. */
export function decodeMeta(source: Buffer, start: number, end: number): Map<string, string> {
  const fail = (detail: string): never => {
    throw new StratumError('CORRUPTION', `malformed metadata encoding: ${detail}`)
  }
  let offset = start
  const readString = (): string => {
    if (offset + 4 > end) fail('string length past the end')
    const sizeBytes = source.readUInt32LE(offset)
    if (offset + 4 + sizeBytes > end) fail('string past the end')
    const text = source.toString('utf8', offset + 4, offset + 4 + sizeBytes)
    offset += 4 + sizeBytes
    return text
  }
  if (end - start < 4) fail('no column count')
  const count = source.readUInt32LE(offset)
  offset += 4
  if (count > metaMaxColumns) fail(`${count} columns`)
  const columns = new Map<string, string>()
  for (let index = 0; index < count; index++) {
    const name = readString()
    columns.set(name, readString())
  }
  if (offset !== end) fail(`ends at ${offset}, record at ${end}`)
  return columns
}
