/**
 * Values of every type at their edges, and a canonical form to compare values exactly: an int64
 * by its digits, a double by its bits (NaN, -0), lists and maps item by item, in order.
 */
import { double, int64, int64List, string, stringList, stringMap, type Value } from '../../src/engine/index.ts'

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

export const edgeValues: readonly { label: string; value: Value }[] = [
  { label: 'int64 0', value: int64(0n) },
  { label: 'int64 -1', value: int64(-1n) },
  { label: 'int64 min', value: int64(int64Min) },
  { label: 'int64 max', value: int64(int64Max) },
  { label: 'int64 2^53+1', value: int64(2n ** 53n + 1n) },
  { label: 'double 0', value: double(0) },
  { label: 'double -0', value: double(-0) },
  { label: 'double NaN', value: double(NaN) },
  { label: 'double +Infinity', value: double(Infinity) },
  { label: 'double -Infinity', value: double(-Infinity) },
  { label: 'double min subnormal', value: double(Number.MIN_VALUE) },
  { label: 'double max', value: double(Number.MAX_VALUE) },
  { label: 'double 0.1', value: double(0.1) },
  { label: 'string empty', value: string('') },
  { label: 'string NUL', value: string('\u0000') },
  { label: 'string with NULs and astral', value: string('a\u0000b\u{1F600}c\u{10FFFF}') },
  { label: 'string non-ASCII', value: string('héllo wörld — 日本語') },
  { label: 'string of 100,000 characters', value: string('x'.repeat(100_000)) },
  { label: 'int64List empty', value: int64List([]) },
  { label: 'int64List extremes', value: int64List([int64Min, -1n, 0n, 1n, int64Max]) },
  { label: 'int64List of 10,000', value: int64List(Array.from({ length: 10_000 }, (_, index) => BigInt(index) * 7919n - 5000n)) },
  { label: 'stringList empty', value: stringList([]) },
  { label: 'stringList edges', value: stringList(['', '\u0000', '\u{1F600}', 'plain']) },
  { label: 'stringMap empty', value: stringMap(new Map()) },
  {
    label: 'stringMap with awkward keys, in order',
    value: stringMap(
      new Map([
        ['b', '1'],
        ['a', '2'],
        ['10', 'index-like'],
        ['1', 'index-like too'],
        ['__proto__', 'not a prototype'],
        ['constructor', 'not a function'],
        ['', 'empty key'],
        ['\u0000', '\u{1F600}'],
      ]),
    ),
  },
]

export { canonicalValue as canonical } from '../support/canonical-value.ts'
