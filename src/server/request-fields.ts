/**
 * Decoding of request fields the engine cannot take as they come off the wire: uint64 ids and
 * versions (decimal strings, see proto-definition.ts) and page sizes. Errors name the proto field.
 */
import { limits } from '../engine/index.ts'
import type { WireColumn } from '../protocol/wire-types.ts'
import { invalidArgument } from './call-error.ts'

/** 2^53 - 1 as a decimal string has 16 digits; any longer id is out of range. */
const idMaxDigits = String(Number.MAX_SAFE_INTEGER).length

/** An id field (uint64 as a decimal string) as the engine's number, from 1 to 2^53-1. */
export function idOf(text: string, field: string): number {
  if (text === '0') throw invalidArgument(`${field} is required (ids start at 1)`)
  const id = text.length > idMaxDigits ? Infinity : Number(text)
  if (!Number.isSafeInteger(id)) throw invalidArgument(`${field} ${text} is above 2^53-1, the largest id`)
  return id
}

/** The condition of an update or delete (expected_version): undefined for "0", no condition. */
export function expectedVersionOf(request: { expectedVersion?: string }, field = 'expected_version'): { expectedVersion?: number } {
  const text = request.expectedVersion ?? '0'
  if (text === '0') return {}
  const version = text.length > idMaxDigits ? Infinity : Number(text)
  if (!Number.isSafeInteger(version)) throw invalidArgument(`${field} ${text} is above 2^53-1, the largest version`)
  return { expectedVersion: version }
}

/** The page size of a listing: 0 means `defaultItems`. */
export function pageSizeOf(pageSize: number, defaultItems: number): number {
  if (pageSize === 0) return defaultItems
  if (pageSize < 0 || pageSize > limits.pageMaxItems) {
    throw invalidArgument(`page_size must be from 0 (the default, ${defaultItems}) to ${limits.pageMaxItems}, got ${pageSize}`)
  }
  return pageSize
}

/** Metadata columns as the engine takes them; a repeated name is refused rather than merged. */
export function columnsOf(columns: readonly WireColumn[], field = 'columns'): Map<string, string> {
  const map = new Map<string, string>()
  for (const column of columns) {
    if (map.has(column.name)) throw invalidArgument(`${field} repeat the name ${JSON.stringify(column.name)}`)
    map.set(column.name, column.value)
  }
  return map
}
