/**
 * The command line's literal syntax for typed values: `TYPE:TEXT`, which keeps the six types
 * apart where a bare `5` could be an int64, a double or a string.
 *
 *   int64:-42              an integer from -2^63 to 2^63-1
 *   double:2.5             a number; also NaN, Infinity, -Infinity, -0
 *   string:any text        the rest of the argument, as it is (empty allowed)
 *   int64-list:[1,-2,3]    integers, bare or quoted ("9223372036854775807")
 *   string-list:["a","b"]  JSON strings
 *   map:{"k":"v"}          JSON object of strings; or [["k","v"],…] to keep any order
 *
 * `TYPE:@FILE` reads the text after the colon from FILE (`string:@tests/01.in`); a string that
 * starts with `@` is written with two (`string:@@name` is "@name"). Values are printed in the same
 * syntax (`formatValue`), so what a command prints can be given back to another.
 */
import fs from 'node:fs'
import { double, int64, int64List, string, stringList, stringMap, type Value } from '../client/index.ts'
import { isWellFormedText } from '../engine/values.ts'

/** A bad literal: the message says what is wrong and how to write it. */
export class ValueLiteralError extends Error {}

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

const typeNames = ['int64', 'double', 'string', 'int64-list', 'string-list', 'map'] as const
type TypeName = (typeof typeNames)[number]

const syntax = `write TYPE:TEXT with TYPE one of ${typeNames.join(', ')} (e.g. int64:5, string:abc, int64-list:[1,2], map:{"k":"v"}), or TYPE:@FILE`

/** Reads `file` as UTF-8; a file that is not UTF-8 is refused rather than changed. */
export type ReadText = (file: string) => string

export function readUtf8(file: string): string {
  const bytes = fs.readFileSync(file)
  const text = bytes.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new ValueLiteralError(`${file} is not UTF-8 text`)
  return text
}

/** Parses a value literal; throws ValueLiteralError naming what is wrong. */
export function parseValue(literal: string, readText: ReadText = readUtf8): Value {
  const colon = literal.indexOf(':')
  const typeName = colon < 0 ? literal : literal.slice(0, colon)
  if (colon < 0 || !(typeNames as readonly string[]).includes(typeName)) {
    throw new ValueLiteralError(`"${shorten(literal)}" is not a value: ${syntax}`)
  }
  let text = literal.slice(colon + 1)
  if (text.startsWith('@@')) text = text.slice(1)
  else if (text.startsWith('@')) {
    const file = text.slice(1)
    try {
      text = readText(file)
    } catch (error) {
      if (error instanceof ValueLiteralError) throw error
      throw new ValueLiteralError(`cannot read ${file} for a ${typeName} value: ${(error as Error).message}`)
    }
  }
  const value = parseTyped(typeName as TypeName, text)
  checkWellFormed(value)
  return value
}

/** Unicode text only: a lone surrogate (possible in JSON's \u escapes) has no UTF-8 form. */
function checkWellFormed(value: Value): void {
  const texts = value.type === 'string' ? [value.value] : value.type === 'stringList' ? value.value : value.type === 'stringMap' ? [...value.value].flat() : []
  for (const text of texts) {
    if (!isWellFormedText(text)) {
      throw new ValueLiteralError(`${shorten(JSON.stringify(text))} holds a lone surrogate, which is not Unicode text: strings are UTF-8`)
    }
  }
}

function parseTyped(typeName: TypeName, text: string): Value {
  switch (typeName) {
    case 'int64':
      return int64(parseInt64(text.trim(), 'an int64'))
    case 'double':
      return double(parseDouble(text.trim()))
    case 'string':
      return string(text)
    case 'int64-list':
      return int64List(parseInt64List(text))
    case 'string-list': {
      const parsed = parseJson(text, 'a string-list')
      if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
        throw new ValueLiteralError(`a string-list is a JSON array of strings, e.g. string-list:["a","b"]; got ${shorten(text)}`)
      }
      return stringList(parsed as string[])
    }
    case 'map':
      return stringMap(parseMap(text))
  }
}

function parseInt64(text: string, what: string): bigint {
  if (!/^-?\d+$/.test(text)) throw new ValueLiteralError(`${what} is an integer, e.g. int64:-42; got "${shorten(text)}"`)
  const value = BigInt(text)
  if (value < int64Min || value > int64Max) throw new ValueLiteralError(`${text} is outside int64 (-2^63 to 2^63-1)`)
  return value
}

function parseDouble(text: string): number {
  if (text === 'NaN') return Number.NaN
  if (text === 'Infinity' || text === '+Infinity') return Number.POSITIVE_INFINITY
  if (text === '-Infinity') return Number.NEGATIVE_INFINITY
  // JSON's number syntax, and no other: Number('') is 0, Number('0x10') is 16.
  if (!/^-?(\d+)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) {
    throw new ValueLiteralError(`a double is a decimal number (e.g. double:2.5, double:-0, double:1e-9) or NaN, Infinity, -Infinity; got "${shorten(text)}"`)
  }
  const value = Number(text)
  if (!Number.isFinite(value)) throw new ValueLiteralError(`${text} is beyond a double's range; write double:Infinity for it`)
  return value
}

/** Integers in brackets, bare or in quotes: JSON would round those beyond 2^53. */
function parseInt64List(text: string): bigint[] {
  const trimmed = text.trim()
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) {
    throw new ValueLiteralError(`an int64-list is integers in brackets, e.g. int64-list:[1,-2,"9223372036854775807"]; got ${shorten(text)}`)
  }
  const inner = trimmed.slice(1, -1).trim()
  if (inner === '') return []
  return inner.split(',').map((item, index) => {
    const bare = item.trim().replace(/^"(.*)"$/, '$1')
    return parseInt64(bare, `item ${index + 1} of the int64-list`)
  })
}

function parseMap(text: string): Map<string, string> {
  const parsed = parseJson(text, 'a map')
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) checkObjectForm(text, parsed as Record<string, unknown>)
  const entries: unknown[] = Array.isArray(parsed)
    ? parsed
    : typeof parsed === 'object' && parsed !== null
      ? Object.entries(parsed)
      : []
  const shape = `a map is a JSON object of strings, e.g. map:{"k":"v"}, or an array of [key, value] pairs of strings; got ${shorten(text)}`
  if (!Array.isArray(parsed) && (typeof parsed !== 'object' || parsed === null)) throw new ValueLiteralError(shape)
  const map = new Map<string, string>()
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') throw new ValueLiteralError(shape)
    if (map.has(entry[0])) throw new ValueLiteralError(`the map has the key ${JSON.stringify(entry[0])} twice`)
    map.set(entry[0], entry[1])
  }
  return map
}

/**
 * The object form of a map must mean what it says: JavaScript lists integer-like keys first,
 * whatever their place in the text, and JSON.parse keeps the last of a key given twice. Both are
 * refused, in favour of the pairs form, rather than stored reordered or short of a value.
 */
function checkObjectForm(text: string, parsed: Record<string, unknown>): void {
  const keys = Object.keys(parsed)
  if (keys.length > 1 && keys.some((key) => /^(0|[1-9]\d*)$/.test(key))) {
    throw new ValueLiteralError(`the map has integer-like keys, whose order a JSON object does not keep: write it as pairs, map:[["k","v"],...]`)
  }
  if (topLevelMembers(text) !== keys.length) throw new ValueLiteralError('the map gives a key twice: write each key once')
}

/** The members of the JSON object `text` (already parsed, so well formed), counted at its top level. */
function topLevelMembers(text: string): number {
  let depth = 0
  let members = 0
  let inString = false
  let empty = true
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!
    if (inString) {
      if (char === '\\') index++
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') {
      inString = true
      if (depth === 1) empty = false
    } else if (char === '{' || char === '[') depth++
    else if (char === '}' || char === ']') depth--
    else if (char === ',' && depth === 1) members++
  }
  return empty ? 0 : members + 1
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new ValueLiteralError(`${what} is JSON, but ${shorten(text)} is not: ${(error as Error).message}`)
  }
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** A value in the literal syntax, exactly: parseValue(formatValue(value)) gives it back. */
export function formatValue(value: Value): string {
  switch (value.type) {
    case 'int64':
      return `int64:${value.value}`
    case 'double':
      return `double:${Object.is(value.value, -0) ? '-0' : String(value.value)}`
    case 'string':
      return `string:${value.value.startsWith('@') ? '@' : ''}${value.value}`
    case 'int64List':
      return `int64-list:[${value.value.join(',')}]`
    case 'stringList':
      return `string-list:${JSON.stringify(value.value)}`
    case 'stringMap':
      return `map:${JSON.stringify([...value.value])}`
  }
}

/** A value as plain JSON, exact: an int64 as a decimal string, a double JSON has no number for as a string, a map as [key, value] pairs. */
export function valueJson(value: Value): unknown {
  switch (value.type) {
    case 'int64':
      return { type: value.type, value: value.value.toString() }
    case 'int64List':
      return { type: value.type, value: value.value.map((item) => item.toString()) }
    case 'double':
      // -0 too: JSON would print it as 0.
      return { type: value.type, value: Object.is(value.value, -0) ? '-0' : Number.isFinite(value.value) ? value.value : String(value.value) }
    case 'stringMap':
      return { type: value.type, value: [...value.value] }
    default:
      return value
  }
}

/** The value of its `valueJson` form; throws ValueLiteralError naming what is wrong. */
export function valueFromJson(json: unknown): Value {
  const shape = (what: string): ValueLiteralError => new ValueLiteralError(`a value is {"type":…,"value":…}; ${what}`)
  if (typeof json !== 'object' || json === null) throw shape('this is not an object')
  const { type, value } = json as { type?: unknown; value?: unknown }
  const strings = (items: unknown): items is string[] => Array.isArray(items) && items.every((item) => typeof item === 'string')
  let result: Value
  switch (type) {
    case 'int64':
      if (typeof value !== 'string') throw shape('an int64 value is a decimal string')
      result = int64(parseInt64(value, 'an int64'))
      break
    case 'double':
      if (typeof value === 'number') result = double(value)
      else if (value === '-0' || value === 'NaN' || value === 'Infinity' || value === '-Infinity') result = double(value === '-0' ? -0 : Number(value))
      else throw shape('a double value is a number, or "-0", "NaN", "Infinity" or "-Infinity"')
      break
    case 'string':
      if (typeof value !== 'string') throw shape('a string value is a string')
      result = string(value)
      break
    case 'int64List':
      if (!strings(value)) throw shape('an int64List value is an array of decimal strings')
      result = int64List(value.map((item, index) => parseInt64(item, `item ${index + 1} of the int64List`)))
      break
    case 'stringList':
      if (!strings(value)) throw shape('a stringList value is an array of strings')
      result = stringList(value)
      break
    case 'stringMap': {
      if (!Array.isArray(value) || !value.every((pair) => strings(pair) && pair.length === 2)) throw shape('a stringMap value is an array of [key, value] pairs of strings')
      const map = new Map<string, string>()
      for (const [key, item] of value as Array<[string, string]>) {
        if (map.has(key)) throw new ValueLiteralError(`the stringMap has the key ${JSON.stringify(key)} twice`)
        map.set(key, item)
      }
      result = stringMap(map)
      break
    }
    default:
      throw shape(`"type" is one of int64, double, string, int64List, stringList, stringMap, not ${JSON.stringify(type)}`)
  }
  checkWellFormed(result)
  return result
}
