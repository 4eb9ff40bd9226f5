/**
 * The memory a decoded request holds per item, measured with the server's own deserializer (the
 * wire check, the item count, the canonical re-encoding and protobufjs), against what the budget
 * of requests in flight charges for it: requestMemoryBytes (request-memory.ts), three times the
 * wire bytes and requestItemCostBytes (104) per item.
 *
 * For up to a million items of each kind, the heap and array buffers a decoded request keeps
 * (after a full collection, the request still referenced) must be within its charge; the figures, and what
 * was in use right after decoding (garbage included, a lower bound of the peak), are printed.
 * Figures: docs/benchmarks.md.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lseMethods, type LseMethodName } from '../../src/protocol/proto-definition.ts'
import { countRequestItems, requestItemsMax } from '../../src/server/canonical-request.ts'
import { loadLseRoot, lseServiceName } from '../../src/protocol/proto-definition.ts'
import { requestItemCostBytes, requestMemoryBytes, RequestMemoryBudget } from '../../src/server/request-memory.ts'
import { MalformedRequest, strictDeserializer } from '../../src/server/strict-requests.ts'
import { collectGarbage } from '../support/measured-call.ts'
import { lengthDelimited, repeatedBytes } from '../support/wire-bytes.ts'

/** AddTestCaseRequest { problem_id: 1, value = 2: Value { `member`: list } }. */
function addTestCase(member: number, list: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x08, 0x01]), lengthDelimited(2, lengthDelimited(member, list))])
}

const items = requestItemsMax
const requestTypeOf = (method: LseMethodName) => loadLseRoot().lookupService(lseServiceName).methods[method]!.resolvedRequestType!
/** The AddTestCase requests hold a Value and a list or map message around their items, which count too. */
const valueItems = requestItemsMax - 2

/**
 * `count` two-letter strings, each after `prefix` (its tag and length, or more). Each decodes to a
 * string of its own on the heap; one-letter strings would not (V8 shares them).
 */
function twoLetterStrings(count: number, prefix: number[]): Buffer {
  const bytes = Buffer.alloc(count * (prefix.length + 2))
  for (let index = 0; index < count; index++) {
    const at = index * (prefix.length + 2)
    bytes.set(prefix, at)
    bytes[at + prefix.length] = 0x21 + (index % 94)
    bytes[at + prefix.length + 1] = 0x21 + Math.floor(index / 94) % 94
  }
  return bytes
}

interface Case {
  name: string
  method: LseMethodName
  count: number
  bytes: (count: number) => Buffer
}

/** Appends `value = 2: two letters` to each 6-byte entry of `entries` (whose length says 8). */
function withValues(entries: Buffer, count: number): Buffer {
  const bytes = Buffer.alloc(count * 10)
  for (let index = 0; index < count; index++) {
    entries.copy(bytes, index * 10, index * 6, index * 6 + 6)
    bytes.set([0x12, 0x02, entries[index * 6 + 5]!, entries[index * 6 + 4]!], index * 10 + 6)
  }
  return bytes
}

const cases: Case[] = [
  // Value: int64_list_value = 4 (Int64List: values = 1), string_list_value = 5 (StringList: values = 1),
  // string_map_value = 6 (StringMap: entries = 1: StringMapEntry { key = 1, value = 2 }).
  { name: 'one-byte int64s, packed', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(4, lengthDelimited(1, repeatedBytes(Buffer.from([0x01]), count))) },
  { name: 'one-byte int64s, unpacked', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(4, repeatedBytes(Buffer.from([0x08, 0x01]), count)) },
  // 2^32 - 1: an 11-character string each once decoded.
  { name: 'five-byte int64s, packed', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(4, lengthDelimited(1, repeatedBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), count))) },
  { name: 'empty strings', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(5, repeatedBytes(Buffer.from([0x0a, 0x00]), count)) },
  { name: 'two-letter strings', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(5, twoLetterStrings(count, [0x0a, 0x02])) },
  { name: 'empty map entries', method: 'AddTestCase', count: valueItems, bytes: (count) => addTestCase(6, repeatedBytes(Buffer.from([0x0a, 0x00]), count)) },
  // StringMapEntry { key = 1: two letters }, 6 bytes each: as many as fit AddTestCase's limit.
  {
    name: 'map entries with two-letter keys',
    method: 'AddTestCase',
    count: 870_000,
    bytes: (count) => addTestCase(6, twoLetterStrings(count, [0x0a, 0x04, 0x0a, 0x02])),
  },
  // StringMapEntry { key = 1: two letters, value = 2: two letters }, 10 bytes each.
  {
    name: 'map entries with two-letter keys and values',
    method: 'AddTestCase',
    count: 520_000,
    bytes: (count) => addTestCase(6, withValues(twoLetterStrings(count, [0x0a, 0x08, 0x0a, 0x02]), count)),
  },
  // CreateProblemRequest { columns = 2: Column {} ... }
  { name: 'empty columns', method: 'CreateProblem', count: items, bytes: (count) => repeatedBytes(Buffer.from([0x12, 0x00]), count) },
]

/** What the process holds that a request can: the JavaScript heap and the array buffers (wire bytes). */
function held(): number {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

describe(`the memory of a decoded request, per item (charged ${requestItemCostBytes} bytes)`, () => {
  for (const { name, method, count, bytes: build } of cases) {
    it(`${count} ${name}`, (t) => {
      const decode = strictDeserializer(method, lseMethods()[method], new RequestMemoryBudget(Number.MAX_SAFE_INTEGER))
      // Once small first, so that what is made once (protobufjs' decoders, compiled code) is not counted.
      decode(build(10))
      let bytes: Buffer | undefined = build(count)
      const wireBytes = bytes.length
      collectGarbage()
      const before = held()
      let request: object | undefined = decode(bytes)
      const afterDecoding = held() - before
      // The request as received is kept too (grpc-js holds it until the call ends).
      collectGarbage()
      const kept = held() - before
      assert.ok(!(request instanceof MalformedRequest), (request as MalformedRequest).details)
      // Charged as the server charges it: every item it counts, the enclosing messages included.
      const charged = requestMemoryBytes(wireBytes, countRequestItems(requestTypeOf(method), build(count)))
      // Keep both referenced until measured.
      assert.ok(request !== undefined && bytes.length === wireBytes)
      request = undefined
      bytes = undefined
      const perItem = (value: number) => (value / count).toFixed(1)
      t.diagnostic(
        `${name}: ${wireBytes} wire bytes; after decoding ${perItem(afterDecoding)} B/item in use (garbage included), ` +
          `kept ${perItem(kept)} B/item; charged ${perItem(charged)} B/item (${requestItemCostBytes} + 3 x ${perItem(wireBytes)} wire)`,
      )
      assert.ok(kept <= charged, `${name}: kept ${kept} bytes, charged ${charged}`)
    })
  }
})
