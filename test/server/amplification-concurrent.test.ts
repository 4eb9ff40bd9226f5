/**
 * Four worst-case requests at once, each from its own connection, while another process makes a
 * small call (GetStats) every 50 ms (small-call-prober.ts): the large ones are all answered as
 * they would be alone (or refused for the memory budget of requests in flight,
 * requestsInFlightMaxBytes), the server's RSS grows by a bounded amount, no request memory stays
 * held, and every small call is answered, its latency measured and held under a loose bound.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import type { LseMethodName } from '../../src/protocol/proto-definition.ts'
import { amplifiedFields, amplifiedRequest, assertAnswer, refusedBeforeDecoding, requestContext, type AmplifiedShape, type ExpectedAnswer } from '../support/amplifying-requests.ts'
import { rawClient } from '../support/hostile-sender.ts'
import { assertCostWithin, describeCost, describeOutcome, measured, MiB, rawCall } from '../support/measured-call.ts'
import { SmallCallProber } from '../support/small-call-prober.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { lengthDelimited, repeatedBytes } from '../support/wire-bytes.ts'

const atOnce = 4

/**
 * Four requests may hold four times what one does, and are decoded one after another in one
 * turn of the event loop: a small call arriving meanwhile waits for all four. Measured on two
 * cores (docs/benchmarks.md): 4.4 s and 360 MiB for four requests of a million map entries, 3.5 s
 * and 50 MiB for four of the largest string lists; 19.8 s and 790 MiB, and 10.8 s and 510 MiB,
 * before requests were re-encoded without an object per item. The memory bounds, per case, are
 * what tell the two apart; the time bound, loose for slow machines, only catches a server that
 * stops answering for far longer.
 */
const stallMaxMs = 15_000

/** A refusal of the budget of requests in flight: a request may always get it when others hold memory. */
const budgetRefusal = /requestsInFlightMaxBytes/

let server: TestServer
let clients: grpc.Client[]
let prober: SmallCallProber

before(async () => {
  server = await startTestServer()
  prober = await SmallCallProber.open(server.server.address)
  // A connection each, as four clients would have.
  clients = Array.from({ length: atOnce }, () => rawClient(server.server.address, { 'grpc.use_local_subchannel_pool': 1 }))
})

after(async () => {
  await prober.close()
  for (const client of clients) client.close()
  await server.stop()
})

/** Sends the four requests at once, while small calls are made from another process. */
function burst(method: LseMethodName, requests: Buffer[]) {
  return prober.during(() => Promise.all(requests.map((bytes, index) => rawCall(clients[index]!, method, bytes).outcome)))
}

async function measuredBurst(
  t: { diagnostic(message: string): void },
  label: string,
  method: LseMethodName,
  requests: Buffer[],
  expected: ExpectedAnswer,
  rssGrowthMaxBytes: number,
): Promise<void> {
  const { result, ...cost } = await measured(() => burst(method, requests))
  const { latenciesMs, failures } = result.probes
  const slowest = Math.max(...latenciesMs)
  t.diagnostic(
    `${atOnce} x ${label} (${requests[0]!.length} bytes each): ${result.result.map(describeOutcome).join('; ')}; ` +
      `${describeCost(cost)}; ${latenciesMs.length} GetStats meanwhile, the slowest ${slowest.toFixed(0)} ms`,
  )
  for (const outcome of result.result) {
    if (outcome.code === grpc.status.RESOURCE_EXHAUSTED && budgetRefusal.test(outcome.details)) continue
    assertAnswer(label, outcome, expected)
  }
  assertCostWithin(label, cost, { rssGrowthMaxBytes, eventLoopDelayMaxMs: stallMaxMs })
  assert.deepEqual(failures, [])
  assert.ok(latenciesMs.length >= 1)
  assert.ok(slowest < stallMaxMs, `a GetStats took ${slowest.toFixed(0)} ms`)
  assert.equal(server.server.requestMemoryHeldBytes(), 0)
}

async function amplified(label: string, shape: AmplifiedShape): Promise<{ method: LseMethodName; requests: Buffer[] }> {
  const field = amplifiedFields().find((each) => each.label === label)!
  const requests: Buffer[] = []
  for (let index = 0; index < atOnce; index++) requests.push(amplifiedRequest(field, shape, (await requestContext(server.client, field.method)).bytes).bytes)
  return { method: field.method, requests }
}

describe(`${atOnce} worst-case requests at once`, () => {
  it('the issue\'s request: 5 MiB of one-byte int64s each, refused before decoding', async (t) => {
    const { method, requests } = await amplified('AddTestCase value.int64ListValue.values', 'filled')
    await measuredBurst(t, 'one-byte int64s', method, requests, refusedBeforeDecoding, 160 * MiB)
  })

  it('the largest requests: 16 MiB of empty columns each, refused before decoding', async (t) => {
    const { method, requests } = await amplified('CreateProblem columns', 'filled')
    await measuredBurst(t, 'empty columns', method, requests, refusedBeforeDecoding, 256 * MiB)
  })

  it('the most decoded: 1,048,576 empty map entries each, decoded and refused by the engine', async (t) => {
    const { method, requests } = await amplified('AddTestCase value.stringMapValue.entries', 'atLimit')
    await measuredBurst(t, 'empty map entries', method, requests, { code: grpc.status.INVALID_ARGUMENT, details: /repeats the map key/ }, 600 * MiB)
  })

  it('the largest lists stored: 1,048,574 empty strings each, stored', async (t) => {
    const requests: Buffer[] = []
    for (let index = 0; index < atOnce; index++) {
      const context = await requestContext(server.client, 'AddTestCase')
      requests.push(Buffer.concat([context.bytes, lengthDelimited(2, lengthDelimited(5, repeatedBytes(Buffer.from([0x0a, 0x00]), 1_048_574)))]))
    }
    await measuredBurst(t, 'largest string lists', 'AddTestCase', requests, { code: grpc.status.OK }, 384 * MiB)
  })
})
