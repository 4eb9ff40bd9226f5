/**
 * A canonical text of a value, for comparing values exactly in tests: equal values, and only
 * they, give equal texts. An int64 by its digits, a double by its bits (so NaN and -0 compare
 * as themselves), lists and maps item by item, in order.
 */
import type { Value } from '../../src/engine/index.ts'

export function canonicalValue(value: Value | undefined): string {
  if (value === undefined) return 'undefined'
  switch (value.type) {
    case 'int64':
      return `int64:${value.value}`
    case 'double': {
      const bits = Buffer.alloc(8)
      bits.writeDoubleLE(value.value)
      return `double:${bits.toString('hex')}`
    }
    case 'string':
      return `string:${JSON.stringify(value.value)}`
    case 'int64List':
      return `int64List:[${value.value.join(',')}]`
    case 'stringList':
      return `stringList:${JSON.stringify(value.value)}`
    case 'stringMap':
      return `stringMap:${JSON.stringify([...value.value])}`
  }
}
