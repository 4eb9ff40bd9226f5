/**
 * Arguments of the client's calls as the wire carries them, checked first: what the wire cannot
 * carry (an id that is not a positive safe integer, a string that is not valid UTF-16, a value of
 * no known type) is a WireValueError, which the client turns into INVALID_ARGUMENT without a call.
 */
import { checkText, checkValue, valueToWire, WireValueError } from '../protocol/value-wire.ts'
import type { Value } from '../protocol/values.ts'

/** Metadata columns: a plain object or a Map of column name to value. */
export type MetaInput = Readonly<Record<string, string>> | ReadonlyMap<string, string>

/** An id as the wire carries it; anything but a positive safe integer is refused here. */
export function id(value: number, what: string): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new WireValueError(`${what} must be an integer from 1 to 2^53-1, got ${String(value)}`)
  }
  return String(value)
}

/** The expected_version field of a conditional write: absent when `options` sets none. */
export function condition(options: { expectedVersion?: number } | undefined): { expectedVersion?: string } {
  if (options?.expectedVersion === undefined) return {}
  return { expectedVersion: id(options.expectedVersion, 'expectedVersion') }
}

export function testCaseIds(problemId: number, tcId: number): { problemId: string; tcId: string } {
  return { problemId: id(problemId, 'problemId'), tcId: id(tcId, 'tcId') }
}

export function text(value: string, what: string): string {
  checkText(value, what)
  return value
}

export function wireValue(value: Value): ReturnType<typeof valueToWire> {
  checkValue(value, 'value')
  return valueToWire(value)
}

export function pageSize(items: number | undefined): number {
  if (items === undefined) return 0
  if (!Number.isInteger(items) || items < 1 || items > 2 ** 31 - 1) {
    throw new WireValueError(`pageSize must be a positive integer, got ${String(items)}`)
  }
  return items
}

export function columnsOf(meta: MetaInput | undefined): { name: string; value: string }[] {
  if (meta === undefined) return []
  let entries: Iterable<[unknown, unknown]>
  if (meta instanceof Map) entries = meta
  else if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) entries = Object.entries(meta)
  else throw new WireValueError('metadata must be an object or a Map of column name to string')
  const columns = []
  for (const [name, value] of entries) {
    checkText(name, 'a column name')
    checkText(value, `the value of column ${name}`)
    columns.push({ name, value })
  }
  return columns
}
