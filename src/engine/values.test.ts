import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeValue,
  double,
  encodeValue,
  int64,
  int64List,
  string,
  stringList,
  stringMap,
  type Value,
} from './values.ts'
import { listMaxItems, mapMaxEntries, valueMaxBytes } from './limits.ts'
import { StratumError } from './errors.ts'

function roundTrip(value: Value): Value {
  const bytes = encodeValue(value)
  return decodeValue(bytes, 0, bytes.length)
}

function rejects(value: unknown, code: string, message: RegExp): void {
  assert.throws(
    () => encodeValue(value as Value),
    (error: unknown) => error instanceof StratumError && error.code === code && message.test(error.message),
  )
}

describe('values', () => {
  it('round-trips the whole int64 range as bigint', () => {
    for (const item of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]) {
      assert.deepEqual(roundTrip(int64(item)), { type: 'int64', value: item })
    }
  })

  it('round-trips NaN, infinities and negative zero as doubles', () => {
    for (const item of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0.1, Number.MIN_VALUE]) {
      const back = roundTrip(double(item))
      assert.equal(back.type, 'double')
      assert.ok(Object.is(back.value, item), `${item} came back as ${String(back.value)}`)
    }
  })

  it('keeps an int64 3 and a double 3 apart', () => {
    assert.equal(roundTrip(int64(3)).type, 'int64')
    assert.equal(roundTrip(double(3)).type, 'double')
  })

  it('round-trips strings with NUL, astral characters and the empty string', () => {
    for (const item of ['', 'a\u0000b', '😀𝄞', 'ünïcödé', '\uFFFF']) {
      assert.deepEqual(roundTrip(string(item)), { type: 'string', value: item })
    }
  })

  it('keeps the element type of empty lists and maps', () => {
    assert.deepEqual(roundTrip(int64List([])), { type: 'int64List', value: [] })
    assert.deepEqual(roundTrip(stringList([])), { type: 'stringList', value: [] })
    assert.deepEqual(roundTrip(stringMap({})), { type: 'stringMap', value: new Map() })
  })

  it('round-trips lists and maps in order, map keys that look special included', () => {
    const map = new Map([['__proto__', 'x'], ['', ''], ['b', '\u0000']])
    assert.deepEqual(roundTrip(stringMap(map)), { type: 'stringMap', value: map })
    assert.deepEqual(roundTrip(stringList(['b', 'a', ''])), { type: 'stringList', value: ['b', 'a', ''] })
    assert.deepEqual(roundTrip(int64List([3, -1n])), { type: 'int64List', value: [3n, -1n] })
  })

  it('refuses a lone surrogate, which UTF-8 cannot hold', () => {
    rejects(string('a\uD800b'), 'INVALID_ARGUMENT', /a string value is not well-formed Unicode/)
    rejects(stringList(['ok', '\uDC00']), 'INVALID_ARGUMENT', /stringList item 1 is not well-formed/)
  })

  it('refuses ints outside int64 and non-bigint ints', () => {
    rejects({ type: 'int64', value: 2n ** 63n }, 'INVALID_ARGUMENT', /outside the int64 range/)
    rejects({ type: 'int64', value: 3 }, 'INVALID_ARGUMENT', /an int64 value must be a bigint, got number 3/)
    rejects({ type: 'int64List', value: [1n, 'x'] }, 'INVALID_ARGUMENT', /int64List item 1 must be a bigint/)
  })

  it('refuses malformed values with a message that says what was wrong', () => {
    rejects(null, 'INVALID_ARGUMENT', /a value must be an object \{ type, value \}, got null/)
    rejects({ type: 'float', value: 1 }, 'INVALID_ARGUMENT', /unknown value type "float"/)
    rejects({ type: 'double', value: '1' }, 'INVALID_ARGUMENT', /a double value must be a number/)
    rejects({ type: 'stringMap', value: { a: 'b' } }, 'INVALID_ARGUMENT', /must be a Map/)
    rejects({ type: 'stringMap', value: new Map([[1, 'b']]) }, 'INVALID_ARGUMENT', /a map key must be a string/)
    rejects({ type: 'stringList', value: 'abc' }, 'INVALID_ARGUMENT', /must be an array/)
  })

  it('enforces valueMaxBytes, listMaxItems and mapMaxEntries with LIMIT_EXCEEDED', () => {
    rejects(string('x'.repeat(valueMaxBytes)), 'LIMIT_EXCEEDED', /valueMaxBytes is 4194304/)
    rejects({ type: 'int64List', value: new Array(listMaxItems + 1).fill(0n) }, 'LIMIT_EXCEEDED', /listMaxItems/)
    const big = new Map<string, string>()
    for (let index = 0; index <= mapMaxEntries; index++) big.set(String(index), '')
    rejects(stringMap(big), 'LIMIT_EXCEEDED', /mapMaxEntries is 65536/)
    // Exactly at the limit is fine: 1 tag + 4 length bytes + the text.
    assert.equal(encodeValue(string('x'.repeat(valueMaxBytes - 5))).length, valueMaxBytes)
  })

  it('reports a malformed encoding as CORRUPTION, never as a value', () => {
    const bytes = encodeValue(stringList(['abc']))
    assert.throws(() => decodeValue(bytes, 0, bytes.length - 1), { code: 'CORRUPTION' })
    const badTag = Buffer.from([99])
    assert.throws(() => decodeValue(badTag, 0, 1), /unknown tag 99/)
  })
})
