/**
 * Requests built to make the most objects out of the fewest bytes: an AddTestCase whose int64
 * list is 5,242,880 one-byte packed varints (5 MiB, under the method's size limit), and one whose
 * string list is 2,621,440 empty strings. Their items are counted from the wire bytes before
 * anything is decoded, and they are refused RESOURCE_EXHAUSTED naming requestItemsMax, without
 * an object per item: the server's memory grows by far less than the millions of objects would
 * take (measured here, asserted loosely; the duration is printed, not asserted). The largest list
 * the engine takes still goes through.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { requestItemsMax } from '../../src/server/canonical-request.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer
let raw: grpc.Client

before(async () => {
  server = await startTestServer()
  raw = new grpc.Client(server.server.address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  })
})

after(async () => {
  raw.close()
  await server.stop()
})

function varint(value: number): Buffer {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

function lengthDelimited(fieldNumber: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(payload.length), payload])
}

/** AddTestCaseRequest { problem_id = 1: docId, value = 2: Value { oneof member `member`: list } }. */
function addTestCase(docId: number, member: number, list: Buffer): Buffer {
  return Buffer.concat([varint(8), varint(docId), lengthDelimited(2, lengthDelimited(member, list))])
}

function send(bytes: Buffer): Promise<grpc.ServiceError | undefined> {
  const identity = (value: Buffer): Buffer => value
  return new Promise((resolve) => {
    raw.makeUnaryRequest(`/${lseServiceName}/AddTestCase`, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (error) =>
      resolve(error ?? undefined),
    )
  })
}

/** Sends `bytes`, and returns the refusal and how much the server's RSS grew meanwhile. */
async function measured(bytes: Buffer): Promise<{ error: grpc.ServiceError | undefined; rssGrowthBytes: number; durationMs: number }> {
  global.gc?.()
  const before = process.memoryUsage().rss
  const started = performance.now()
  const error = await send(bytes)
  return { error, rssGrowthBytes: process.memoryUsage().rss - before, durationMs: performance.now() - started }
}

describe('amplification', () => {
  it('refuses millions of one-byte list items before decoding them', async (t) => {
    const docId = await server.client.createProblem('amplified')
    // Value: int64_list_value = 4 (Int64List: values = 1, packed), string_list_value = 5 (StringList: values = 1).
    const int64Items = 5 * 1024 * 1024
    const strings = 2.5 * 1024 * 1024
    const cases: Array<[string, Buffer]> = [
      ['5,242,880 one-byte int64 varints', addTestCase(docId, 4, lengthDelimited(1, Buffer.alloc(int64Items, 1)))],
      ['2,621,440 empty strings', addTestCase(docId, 5, Buffer.concat(Array.from({ length: strings }, () => Buffer.from([0x0a, 0x00]))))],
    ]
    for (const [name, bytes] of cases) {
      const { error, rssGrowthBytes, durationMs } = await measured(bytes)
      assert.equal(error?.code, grpc.status.RESOURCE_EXHAUSTED, `${name}: ${error?.message}`)
      assert.match(error!.details, new RegExp(`more than ${requestItemsMax} list, map and column items \\(requestItemsMax\\)`))
      // Millions of decoded items would take hundreds of megabytes; the request's own bytes and
      // the transport's buffers are what may remain.
      assert.ok(rssGrowthBytes < 160 * 1024 * 1024, `${name}: RSS grew ${rssGrowthBytes} bytes`)
      t.diagnostic(`${name}: ${bytes.length} bytes, refused in ${durationMs.toFixed(0)} ms, RSS +${(rssGrowthBytes / 1048576).toFixed(1)} MiB`)
    }
    // Nothing was stored, and the server goes on.
    const stored = []
    for await (const testCase of server.client.getAllTestCases(docId)) stored.push(testCase)
    assert.deepEqual(stored, [])
  })

  it('still takes a list of a million items, which the engine stores', async () => {
    // A million empty strings: 4,000,005 bytes encoded, under valueMaxBytes (4 MiB); the byte
    // limit, not requestItemsMax, is what bounds a list the engine stores.
    const docId = await server.client.createProblem('largest')
    const count = 1_000_000
    assert.ok(count <= requestItemsMax)
    const tcId = await server.client.addTestCase(docId, { type: 'stringList', value: Array.from({ length: count }, () => '') })
    const read = await server.client.getTestCase(docId, tcId)
    assert.equal(read.type, 'stringList')
    assert.equal((read.value as string[]).length, count)
  })
})
