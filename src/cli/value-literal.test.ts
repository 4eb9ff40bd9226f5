/**
 * The command line's value literals: every type round-trips through formatValue and parseValue
 * exactly, edges included; `TYPE:@FILE` reads the text from a file; every malformed literal is
 * refused with a message that says how to write it.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { double, int64, int64List, string, stringList, stringMap, type Value } from '../client/index.ts'
import { formatValue, parseValue, ValueLiteralError } from './value-literal.ts'

function refuses(literal: string, pattern: RegExp): void {
  assert.throws(() => parseValue(literal), (error: unknown) => error instanceof ValueLiteralError && pattern.test(error.message), literal)
}

describe('value literals', () => {
  it('parse each type', () => {
    assert.deepStrictEqual(parseValue('int64:-42'), int64(-42n))
    assert.deepStrictEqual(parseValue('int64:9223372036854775807'), int64(2n ** 63n - 1n))
    assert.deepStrictEqual(parseValue('int64:-9223372036854775808'), int64(-(2n ** 63n)))
    assert.deepStrictEqual(parseValue('double:2.5'), double(2.5))
    assert.ok(Object.is(parseValue('double:-0').value, -0))
    assert.ok(Number.isNaN(parseValue('double:NaN').value))
    assert.deepStrictEqual(parseValue('double:-Infinity'), double(Number.NEGATIVE_INFINITY))
    assert.deepStrictEqual(parseValue('double:1e-300'), double(1e-300))
    assert.deepStrictEqual(parseValue('string:'), string(''))
    assert.deepStrictEqual(parseValue('string: a:b '), string(' a:b '))
    assert.deepStrictEqual(parseValue('string:@@name'), string('@name'))
    assert.deepStrictEqual(parseValue('int64-list:[]'), int64List([]))
    assert.deepStrictEqual(parseValue('int64-list:[1, -2, "9223372036854775807"]'), int64List([1n, -2n, 2n ** 63n - 1n]))
    assert.deepStrictEqual(parseValue('string-list:["a","","😀"]'), stringList(['a', '', '😀']))
    assert.deepStrictEqual(parseValue('map:{"k":"v","a":"b"}'), stringMap(new Map([['k', 'v'], ['a', 'b']])))
    assert.deepStrictEqual(parseValue('map:{"k":"a,b","j":"{\\"x\\":1}"}'), stringMap(new Map([['k', 'a,b'], ['j', '{"x":1}']])))
    assert.deepStrictEqual(parseValue('map:{}'), stringMap(new Map()))
    assert.deepStrictEqual(parseValue('map:{"7":"only one"}'), stringMap(new Map([['7', 'only one']])))
    // Pairs keep an order that a JSON object would not (its integer-like keys come first).
    assert.deepStrictEqual([...(parseValue('map:[["b","1"],["2","x"]]').value as Map<string, string>)], [['b', '1'], ['2', 'x']])
  })

  it('print every value so that it parses back exactly', () => {
    const values: Value[] = [
      int64(0n),
      int64(-(2n ** 63n)),
      double(-0),
      double(Number.NaN),
      double(Number.POSITIVE_INFINITY),
      double(5e-324),
      double(1.7976931348623157e308),
      double(1e21),
      string(''),
      string('@at the start'),
      string('nul \u0000, astral 😀, newline\n'),
      int64List([2n ** 63n - 1n, -1n]),
      stringList(['"quoted"', '\u0000']),
      stringMap(new Map([['2', 'two'], ['1', 'one'], ['', '']])),
    ]
    for (const value of values) {
      const back = parseValue(formatValue(value))
      assert.equal(back.type, value.type)
      if (value.type === 'double') assert.ok(Object.is(back.value, value.value), formatValue(value))
      else assert.deepStrictEqual(back, value, formatValue(value))
    }
    assert.equal(formatValue(int64List([1n, 2n])), 'int64-list:[1,2]')
    assert.equal(formatValue(double(-0)), 'double:-0')
  })

  it('read TYPE:@FILE from the file, as it is, and refuse a file that is not UTF-8', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-literal-'))
    try {
      const text = path.join(dir, 'in.txt')
      fs.writeFileSync(text, '1 2\n\u0000 😀\n')
      assert.deepStrictEqual(parseValue(`string:@${text}`), string('1 2\n\u0000 😀\n'))
      const list = path.join(dir, 'list.json')
      fs.writeFileSync(list, '[3, 4]\n')
      assert.deepStrictEqual(parseValue(`int64-list:@${list}`), int64List([3n, 4n]))
      const binary = path.join(dir, 'bin')
      fs.writeFileSync(binary, Buffer.from([0xff, 0xfe]))
      refuses(`string:@${binary}`, /bin is not UTF-8 text/)
      refuses(`string:@${path.join(dir, 'missing')}`, /^cannot read .*missing for a string value/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuse a malformed literal, saying how to write it', () => {
    refuses('5', /^"5" is not a value: write TYPE:TEXT with TYPE one of int64, double, string, int64-list, string-list, map/)
    refuses('float:5', /is not a value: write TYPE:TEXT/)
    refuses('int64:5.0', /^an int64 is an integer, e\.g\. int64:-42; got "5\.0"/)
    refuses('int64:9223372036854775808', /^9223372036854775808 is outside int64/)
    refuses('int64:', /an int64 is an integer/)
    refuses('double:0x10', /^a double is a decimal number/)
    refuses('double:', /^a double is a decimal number/)
    refuses('double:1e999', /beyond a double's range; write double:Infinity/)
    refuses('int64-list:1,2', /^an int64-list is integers in brackets/)
    refuses('int64-list:[1,,2]', /^item 2 of the int64-list is an integer/)
    refuses('string-list:["a",1]', /^a string-list is a JSON array of strings/)
    refuses('string-list:[a]', /^a string-list is JSON, but \[a\] is not/)
    refuses('map:{"k":1}', /^a map is a JSON object of strings/)
    refuses('map:[["k","v"],["k","w"]]', /the map has the key "k" twice/)
    refuses('map:"k"', /^a map is a JSON object of strings/)
    // A JSON object would store these reordered, or short of a value: the pairs form keeps them.
    refuses('map:{"2":"a","1":"b"}', /integer-like keys, whose order a JSON object does not keep: write it as pairs/)
    refuses('map:{"a":"1","a":"2"}', /the map gives a key twice/)
    refuses('map:{"a":"x,y","b":"{\\"c\\":1}","a":"z"}', /the map gives a key twice/)
    refuses('string-list:["\\ud800"]', /holds a lone surrogate, which is not Unicode text/)
    refuses('map:[["\\udc00","x"]]', /holds a lone surrogate/)
  })
})
