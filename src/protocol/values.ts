/**
 * The six node value types, tagged, exactly as the embedded engine defines them
 * (src/engine/values.ts), with the same constructors. They are declared again here rather than
 * imported so that the client depends on the contract only, never on engine internals; the server
 * checks at compile time that both declarations stay identical (src/server/value-types-agree.ts).
 *
 * Tags keep an int64 3 apart from a double 3, and an empty list keeps its element type.
 */

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
export type Value = Int64Value | DoubleValue | StringValue | Int64ListValue | StringListValue | StringMapValue

export type ValueType = Value['type']

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
