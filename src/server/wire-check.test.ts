/** The strict wire check that runs before protobufjs decodes a request (wire-check.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadLseRoot } from '../protocol/proto-definition.ts'
import { findWireProblem } from './wire-check.ts'

const root = loadLseRoot()
const addTestCase = root.lookupType('lse.v1.AddTestCaseRequest')
const createProblem = root.lookupType('lse.v1.CreateProblemRequest')

const bytes = (...values: number[]): Buffer => Buffer.from(values)

describe('findWireProblem', () => {
  it('accepts well-formed messages, unknown fields and groups included', () => {
    const encoded = addTestCase
      .encode(addTestCase.fromObject({ problemId: 7, value: { stringMapValue: { entries: [{ key: 'é\u{1F600}', value: '\u0000' }] } } }))
      .finish()
    assert.equal(findWireProblem(addTestCase, encoded), undefined)
    assert.equal(findWireProblem(addTestCase, bytes()), undefined)
    // Unknown field 9 as a varint, as fixed64, and as a group holding a varint.
    assert.equal(findWireProblem(addTestCase, bytes(0x48, 0x01, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x4b, 0x08, 0x01, 0x4c)), undefined)
    // A packed repeated int64 (field 1 of Int64List) inside a value.
    const packed = addTestCase.encode(addTestCase.fromObject({ problemId: 1, value: { int64ListValue: { values: ['-1', '2'] } } })).finish()
    assert.equal(findWireProblem(addTestCase, packed), undefined)
  })

  it('refuses invalid UTF-8 in a string field, naming it', () => {
    // html (field 1) holding a lone surrogate as CESU-8, then an overlong '/'.
    assert.match(findWireProblem(createProblem, bytes(0x0a, 0x03, 0xed, 0xa0, 0x80)) ?? '', /html is not valid UTF-8/)
    assert.match(findWireProblem(createProblem, bytes(0x0a, 0x02, 0xc0, 0xaf)) ?? '', /html is not valid UTF-8/)
    // A nested string: value.string_value.
    assert.match(findWireProblem(addTestCase, bytes(0x12, 0x03, 0x1a, 0x01, 0xff)) ?? '', /stringValue is not valid UTF-8/)
    // ASCII then a stray continuation byte, in a short string and in a long one.
    assert.match(findWireProblem(createProblem, bytes(0x0a, 0x02, 0x61, 0x80)) ?? '', /html is not valid UTF-8/)
    assert.match(findWireProblem(createProblem, bytes(0x0a, 0x28, ...Array<number>(39).fill(0x61), 0x80)) ?? '', /html is not valid UTF-8/)
    // Valid ones: ASCII, short and long, and a short one with a two-byte character.
    for (const text of ['', 'a', 'a'.repeat(40), 'é']) {
      const payload = Buffer.from(text)
      assert.equal(findWireProblem(createProblem, bytes(0x0a, payload.length, ...payload)), undefined, text)
    }
  })

  it('refuses a field sent with the wrong wire type', () => {
    // problem_id (uint64) sent length-delimited; html (string) sent as a varint.
    assert.match(findWireProblem(addTestCase, bytes(0x0a, 0x01, 0x00)) ?? '', /problemId has wire type 2/)
    assert.match(findWireProblem(createProblem, bytes(0x08, 0x01)) ?? '', /html has wire type 0/)
  })

  it('refuses truncated and nonsensical encodings', () => {
    assert.match(findWireProblem(addTestCase, bytes(0x08)) ?? '', /varint runs past the end/)
    assert.match(findWireProblem(addTestCase, bytes(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)) ?? '', /longer than 10 bytes/)
    assert.match(findWireProblem(addTestCase, bytes(0x12, 0x05, 0x00)) ?? '', /runs past the end/)
    assert.match(findWireProblem(addTestCase, bytes(0x00, 0x00)) ?? '', /field number 0/)
    assert.match(findWireProblem(addTestCase, bytes(0x0e)) ?? '', /wire type 6/)
    assert.match(findWireProblem(addTestCase, bytes(0x4b, 0x08, 0x01)) ?? '', /group 9 has no end/)
    assert.match(findWireProblem(addTestCase, bytes(0x4c)) ?? '', /unmatched end-group/)
  })

  it('bounds the nesting of unknown groups', () => {
    assert.match(findWireProblem(addTestCase, Buffer.alloc(100, 0x4b)) ?? '', /nested too deeply/)
  })
})
