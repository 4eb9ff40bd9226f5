/**
 * Requests built to make the most objects out of the fewest bytes, for every repeated or message
 * field reachable from a request (test/support/amplifying-requests.ts):
 *
 * - the largest one under its method's size limit (millions of one-byte items) is refused
 *   RESOURCE_EXHAUSTED naming requestItemsMax, its items counted from the wire bytes;
 * - one of exactly requestItemsMax items, the most that is decoded, is decoded and answered as
 *   its field's case says (stored, or refused by the engine's own limits);
 *
 * each with the server's RSS growth and event-loop stall measured (the server runs in this
 * process), printed, and held under loose bounds. The largest list the engine stores, and the
 * most fields a request can hold, go through too. Figures: docs/benchmarks.md.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { requestItemsMax } from '../../src/server/canonical-request.ts'
import { requestMaxBytesByMethod } from '../../src/server/message-limits.ts'
import {
  amplifiedFields,
  amplifiedRequest,
  assertAnswer,
  decodedBounds,
  fieldCaseOf,
  refusedBeforeDecoding,
  refusedBounds,
  requestContext,
  type AmplifiedField,
  type AmplifiedShape,
  type ExpectedAnswer,
} from '../support/amplifying-requests.ts'
import { rawClient } from '../support/hostile-sender.ts'
import { assertCostWithin, describeCost, describeOutcome, measured, rawCall, type CostBounds } from '../support/measured-call.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { lengthDelimited, repeatedBytes } from '../support/wire-bytes.ts'

let server: TestServer
let raw: grpc.Client

before(async () => {
  server = await startTestServer()
  raw = rawClient(server.server.address)
})

after(async () => {
  raw.close()
  await server.stop()
})

const fields = amplifiedFields()

async function sendMeasured(
  t: { diagnostic(message: string): void },
  label: string,
  method: AmplifiedField['method'],
  bytes: Buffer,
  expected: ExpectedAnswer,
  bounds: CostBounds,
): Promise<void> {
  const { result, ...cost } = await measured(() => rawCall(raw, method, bytes).outcome)
  t.diagnostic(`${label}: ${bytes.length} bytes: ${describeOutcome(result)} in ${describeCost(cost)}`)
  assertAnswer(label, result, expected)
  assertCostWithin(label, cost, bounds)
}

async function sendAmplified(t: { diagnostic(message: string): void }, field: AmplifiedField, shape: AmplifiedShape): Promise<void> {
  const request = amplifiedRequest(field, shape, (await requestContext(server.client, field.method)).bytes)
  const expected = shape === 'filled' ? refusedBeforeDecoding : fieldCaseOf(field).atLimit
  await sendMeasured(t, `${field.label} ${shape}, ${request.items} items`, field.method, request.bytes, expected, shape === 'filled' ? refusedBounds : decodedBounds)
}

describe('amplification', () => {
  it('finds the repeated and message fields of every request, each with its case', () => {
    // The contract has them all under CreateProblem, the four methods that carry a Value, and Commit.
    assert.deepEqual([...new Set(fields.map((field) => field.method))], ['CreateProblem', 'AddTestCase', 'UpdateTestCase', 'SetExpectedOutput', 'UpdateExpectedOutput', 'Commit'])
    assert.ok(fields.some((field) => field.label === 'Commit operations.addTestCase.value.stringMapValue.entries'))
    assert.ok(fields.some((field) => field.label === 'AddTestCase value.stringMapValue.entries'))
    for (const field of fields) fieldCaseOf(field)
  })

  for (const field of fields) {
    describe(field.label, () => {
      it('the largest request, all items, is refused before decoding', async (t) => {
        await sendAmplified(t, field, 'filled')
      })

      it(`a request of ${requestItemsMax} items is decoded and answered as its field says`, async (t) => {
        await sendAmplified(t, field, 'atLimit')
      })
    })
  }

  it('stores the largest list the engine takes: 1,048,574 empty strings', async (t) => {
    // An empty string is 4 bytes in the engine's encoding: 1,048,574 of them and the list's header
    // are the most that fit valueMaxBytes (4 MiB). Strings are never packed: 2 bytes each.
    const count = 1_048_574
    const context = await requestContext(server.client, 'AddTestCase')
    // AddTestCaseRequest { value = 2: Value { string_list_value = 5: StringList { values = 1: '' ... } } }
    const bytes = Buffer.concat([context.bytes, lengthDelimited(2, lengthDelimited(5, repeatedBytes(Buffer.from([0x0a, 0x00]), count)))])
    await sendMeasured(t, `${count} empty strings`, 'AddTestCase', bytes, { code: grpc.status.OK }, decodedBounds)
    const stored = []
    for await (const testCase of server.client.getAllTestCases(context.problemId!)) stored.push(testCase)
    assert.equal(stored.length, 1)
    assert.equal(stored[0]!.value.type, 'stringList')
    assert.equal((stored[0]!.value.value as string[]).length, count)
  })

  it('reads the most fields the largest request holds, a singular one sent again and again, in bounded time', async (t) => {
    // CreateProblem's html (field 1) empty, 8,552,448 times: the last occurrence wins, so nothing
    // is held per field, but each is read; the method's size limit is what bounds the work.
    const bytes = repeatedBytes(Buffer.from([0x0a, 0x00]), Math.floor(requestMaxBytesByMethod.CreateProblem / 2))
    await sendMeasured(t, `${bytes.length / 2} empty html fields`, 'CreateProblem', bytes, { code: grpc.status.OK }, { ...refusedBounds, eventLoopDelayMaxMs: decodedBounds.eventLoopDelayMaxMs })
  })

  it('still answers small calls afterwards, and holds no request memory', async () => {
    await server.client.getStats()
    assert.equal(server.server.requestMemoryHeldBytes(), 0)
  })
})
