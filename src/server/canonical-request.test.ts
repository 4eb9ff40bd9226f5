/** The canonical re-encoding of requests, by protobuf's parsing rules (canonical-request.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadLseRoot } from '../protocol/proto-definition.ts'
import { canonicalRequest, countRequestItems, requestItemsMax } from './canonical-request.ts'
import { findWireProblem } from './wire-check.ts'

const root = loadLseRoot()
const addTestCase = root.lookupType('lse.v1.AddTestCaseRequest')
const createProblem = root.lookupType('lse.v1.CreateProblemRequest')
const getAllTestCases = root.lookupType('lse.v1.GetAllTestCasesRequest')
const listProblems = root.lookupType('lse.v1.ListProblemsRequest')

function varint(value: number): Buffer {
  const bytes: number[] = []
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes.push((value % 0x80) | 0x80)
  bytes.push(value)
  return Buffer.from(bytes)
}

const hex = (text: string) => Buffer.from(text.replace(/ /g, ''), 'hex')
const options = { longs: String, defaults: true, oneofs: true }

/** What protobufjs decodes from the canonical form of `bytes`, which must pass the wire check. */
function decoded(type: typeof addTestCase, bytes: Buffer): Record<string, unknown> {
  assert.equal(findWireProblem(type, bytes), undefined)
  return type.toObject(type.decode(canonicalRequest(type, bytes)), options)
}

describe('canonicalRequest', () => {
  it('leaves canonical encodings as they are', () => {
    const messages: [typeof addTestCase, Uint8Array][] = [
      [addTestCase, addTestCase.encode(addTestCase.fromObject({ problemId: 7, value: { int64ListValue: { values: ['-1', '2', '9223372036854775807'] } } })).finish()],
      [addTestCase, addTestCase.encode(addTestCase.fromObject({ problemId: 1, value: { stringMapValue: { entries: [{ key: 'k', value: 'v' }, { key: '', value: 'w' }] } } })).finish()],
      [addTestCase, addTestCase.encode(addTestCase.fromObject({ problemId: 1, value: { doubleValue: -0 } })).finish()],
      [createProblem, createProblem.encode(createProblem.fromObject({ html: '<p>é</p>', columns: [{ name: 'a', value: 'b' }] })).finish()],
    ]
    for (const [type, bytes] of messages) assert.ok(canonicalRequest(type, bytes).equals(Buffer.from(bytes)), Buffer.from(bytes).toString('hex'))
  })

  it('reads tags, lengths and numbers written as padded varints', () => {
    // html (field 1) with a 6-byte tag and a 10-byte length, then column n=v.
    assert.deepEqual(decoded(createProblem, hex('8a8080808000 85808080808080808000 68656c6c6f 12060a016e120176')), { html: 'hello', columns: [{ name: 'n', value: 'v' }] })
    // problem_id 1 as a 10-byte varint.
    assert.equal(decoded(addTestCase, hex('08 81808080808080808000')).problemId, '1')
  })

  it('reads 32-bit and bool varints as the reference implementations do', () => {
    // page_size -1 as the 5-byte form some encoders write (the low 32 bits count).
    assert.equal(decoded(listProblems, hex('08 ffffffff0f')).pageSize, -1)
    // include_outputs as a varint whose only set bit is bit 35: true.
    assert.equal(decoded(getAllTestCases, hex('10 8080808080 01')).includeOutputs, true)
  })

  it('keeps the last oneof member and merges message fields', () => {
    assert.deepEqual(decoded(addTestCase, hex('0801 1205 1a01780807')).value, { kind: 'int64Value', int64Value: '7' })
    // int64_list_value [1, 2] then [3], once inside one value and once across two.
    assert.deepEqual(decoded(addTestCase, hex('0801 120a 2204 08010802 22020803')).value, { kind: 'int64ListValue', int64ListValue: { values: ['1', '2', '3'] } })
    assert.deepEqual(decoded(addTestCase, hex('0801 1206 2204 08010802 1204 22020803')).value, { kind: 'int64ListValue', int64ListValue: { values: ['1', '2', '3'] } })
    // A string list, then an int64, then the string list again: only the last list counts.
    assert.deepEqual(decoded(addTestCase, hex('0801 1204 2a020a00 1202 0805 1205 2a030a0178')).value, { kind: 'stringListValue', stringListValue: { values: ['x'] } })
  })

  it('drops unknown fields of every wire type', () => {
    const bytes = hex('0801 f803 05 f903 0102030405060708 fd03 01020304 fa03 0100 fb03 0801 fc03 1202 0807')
    assert.deepEqual(decoded(addTestCase, bytes), { problemId: '1', value: { kind: 'int64Value', int64Value: '7' } })
    assert.ok(canonicalRequest(addTestCase, bytes).equals(hex('0801 1202 0807')))
  })
})

describe('countRequestItems', () => {
  it('counts list items, map entries and columns, packed or not', () => {
    // int64_list_value [1, 2] packed and [3] unpacked; string_list_value ['', 'x']; two map
    // entries; two columns. The Value and the list or map messages count one each.
    assert.equal(countRequestItems(addTestCase, hex('0801 1208 2206 0a020102 0803')), 2 + 3)
    assert.equal(countRequestItems(addTestCase, hex('0801 1207 2a05 0a00 0a0178')), 2 + 2)
    assert.equal(countRequestItems(addTestCase, hex('0801 1208 3206 0a00 0a020a00')), 2 + 2)
    assert.equal(countRequestItems(createProblem, hex('0a00 1200 1202 0a00')), 2)
  })

  it('counts an item for each occurrence of a message field, parts to merge included', () => {
    // value sent three times; int64_list_value twice in the last of them.
    assert.equal(countRequestItems(addTestCase, hex('0801 1200 1200 1204 2200 2200')), 5)
    // Once each: the Value and its list.
    assert.equal(countRequestItems(addTestCase, hex('0801 1202 2200')), 2)
  })

  it('stops counting past requestItemsMax', () => {
    const lengthDelimited = (tag: number, payload: Buffer) => Buffer.concat([Buffer.from([tag]), varint(payload.length), payload])
    // problem_id 1, value { int64_list_value { values: 4 Mi one-byte varints, packed } }
    const bytes = Buffer.concat([hex('0801'), lengthDelimited(0x12, lengthDelimited(0x22, lengthDelimited(0x0a, Buffer.alloc(4 * 1024 * 1024, 1))))])
    assert.equal(findWireProblem(addTestCase, bytes), undefined)
    assert.equal(countRequestItems(addTestCase, bytes), requestItemsMax + 1)
  })
})
