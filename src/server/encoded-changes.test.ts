/**
 * Changes encoded once: a response of several is the concatenation of their single encodings,
 * which decodes as the response of all of them, in order; the cache keeps the newest within its
 * bytes, with and without values apart.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lseMethods } from '../protocol/proto-definition.ts'
import { watchEventsFromWire, type ChangeEvent } from '../protocol/watch-events.ts'
import { int64 } from '../protocol/values.ts'
import type { WatchResponse } from '../protocol/wire-types.ts'
import { EncodedChanges } from './encoded-changes.ts'

const method = lseMethods().Watch
const serialize = method.responseSerialize as (response: WatchResponse) => Buffer
const decode = (bytes: Buffer) => watchEventsFromWire(method.responseDeserialize(bytes) as WatchResponse)

function change(revision: number, withValue: boolean): ChangeEvent {
  return {
    kind: 'change',
    revision,
    type: 'created',
    target: 'testCase',
    problemId: 1,
    testCaseId: revision + 100,
    ...(withValue ? { value: { kind: 'value', value: int64(revision) } } : {}),
  }
}

describe('encoded changes', () => {
  it('encodes a response of many as the concatenation of each, decoding to all of them in order', () => {
    const encoded = new EncodedChanges(serialize, 1 << 20)
    const events = [change(5, true), change(6, true), change(9, true)]
    assert.deepStrictEqual(decode(encoded.response(events, true)), events)
    assert.deepStrictEqual(decode(encoded.response([events[1]!], true)), [events[1]])
  })

  it('keeps the encodings with and without values apart, and the newest within its bytes', () => {
    let encodings = 0
    const counting = (response: WatchResponse): Buffer => {
      encodings++
      return serialize(response)
    }
    // Room for about four changes without values.
    const oneChangeBytes = new EncodedChanges(serialize, 0).response([change(10, false)], false).length
    const encoded = new EncodedChanges(counting, 4 * oneChangeBytes + 2)
    encoded.response([change(10, false)], false)
    encoded.response([change(10, true)], true)
    assert.equal(encodings, 2, 'with and without values are two encodings')
    encoded.response([change(10, false)], false)
    assert.equal(encodings, 2, 'the second time, from the cache')
    for (let revision = 11; revision < 20; revision++) encoded.response([change(revision, false)], false)
    encodings = 0
    encoded.response([change(19, false)], false)
    assert.equal(encodings, 0, 'the newest is kept')
    encoded.response([change(10, false)], false)
    assert.equal(encodings, 1, 'the oldest was dropped for room')
  })
})
