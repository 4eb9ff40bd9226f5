/**
 * Converts tagged values (values.ts) to and from the `Value` message of the contract.
 *
 * int64s travel as decimal strings (see proto-definition.ts), so the full 64-bit range is exact.
 * Doubles travel as IEEE 754 bits, so NaN, the infinities and -0 survive. Map entries travel as
 * a repeated message, in order.
 */
import type { Value } from './values.ts'
import type { WireValue } from './wire-types.ts'

/** A value that cannot be put on the wire, or a Value message that is not a value. */
export class WireValueError extends Error {
  override readonly name = 'WireValueError'
}

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/** The Value message of a tagged value. REQUIRES: `value` is a valid tagged value (see `checkValue`). */
export function valueToWire(value: Value): WireValue {
  switch (value.type) {
    case 'int64':
      return { int64Value: value.value.toString() }
    case 'double':
      return { doubleValue: value.value }
    case 'string':
      return { stringValue: value.value }
    case 'int64List':
      return { int64ListValue: { values: value.value.map((item) => item.toString()) } }
    case 'stringList':
      return { stringListValue: { values: [...value.value] } }
    case 'stringMap': {
      const entries = []
      for (const [key, item] of value.value) entries.push({ key, value: item })
      return { stringMapValue: { entries } }
    }
  }
}

/**
 * The tagged value of a decoded Value message. `what` names the field in error messages.
 * Throws WireValueError when no member of the oneof is set, or a map repeats a key.
 */
export function valueFromWire(wire: WireValue | null | undefined, what: string): Value {
  if (wire === null || wire === undefined) throw new WireValueError(`${what} is required`)
  switch (wire.kind) {
    case 'int64Value':
      return { type: 'int64', value: BigInt(wire.int64Value ?? '0') }
    case 'doubleValue':
      return { type: 'double', value: wire.doubleValue ?? 0 }
    case 'stringValue':
      return { type: 'string', value: wire.stringValue ?? '' }
    case 'int64ListValue':
      return { type: 'int64List', value: (wire.int64ListValue?.values ?? []).map((item) => BigInt(item)) }
    case 'stringListValue':
      return { type: 'stringList', value: wire.stringListValue?.values ?? [] }
    case 'stringMapValue': {
      const entries = new Map<string, string>()
      for (const entry of wire.stringMapValue?.entries ?? []) {
        if (entries.has(entry.key)) throw new WireValueError(`${what} repeats the map key ${JSON.stringify(entry.key)}`)
        entries.set(entry.key, entry.value)
      }
      return { type: 'stringMap', value: entries }
    }
    case undefined:
      throw new WireValueError(`${what} has none of the six value types set`)
  }
}

/**
 * Checks that `value` is a tagged value that the wire can carry exactly: a known type, int64s
 * as bigints in range, doubles as numbers, strings well-formed (UTF-8 cannot carry a lone
 * surrogate), map keys unique by construction. Size limits are the server's to check.
 */
export function checkValue(value: unknown, what: string): asserts value is Value {
  if (typeof value !== 'object' || value === null || !('type' in value) || !('value' in value)) {
    throw new WireValueError(`${what} must be an object { type, value }`)
  }
  const { type, value: body } = value as { type: unknown; value: unknown }
  switch (type) {
    case 'int64':
      checkInt64(body, what)
      return
    case 'double':
      if (typeof body !== 'number') throw new WireValueError(`${what}: a double value must be a number`)
      return
    case 'string':
      checkText(body, what)
      return
    case 'int64List':
      if (!Array.isArray(body)) throw new WireValueError(`${what}: an int64List value must be an array`)
      for (const item of body) checkInt64(item, `${what}: an int64List item`)
      return
    case 'stringList':
      if (!Array.isArray(body)) throw new WireValueError(`${what}: a stringList value must be an array`)
      for (const item of body) checkText(item, `${what}: a stringList item`)
      return
    case 'stringMap':
      if (!(body instanceof Map)) throw new WireValueError(`${what}: a stringMap value must be a Map`)
      for (const [key, item] of body as Map<unknown, unknown>) {
        checkText(key, `${what}: a map key`)
        checkText(item, `${what}: a map value`)
      }
      return
    default:
      throw new WireValueError(`${what} has the unknown type ${JSON.stringify(type)}`)
  }
}

function checkInt64(item: unknown, what: string): void {
  if (typeof item !== 'bigint') throw new WireValueError(`${what}: an int64 must be a bigint`)
  if (item < int64Min || item > int64Max) throw new WireValueError(`${what}: ${item} is outside the int64 range`)
}

/** Strings must be well-formed UTF-16 so that their UTF-8 form (the wire's) holds the same text. */
export function checkText(text: unknown, what: string): asserts text is string {
  if (typeof text !== 'string') throw new WireValueError(`${what} must be a string`)
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new WireValueError(`${what} is not well-formed Unicode (it holds a lone surrogate)`)
  }
}
