/**
 * The memory budget of the requests in flight (requestsInFlightMaxBytes, request-memory.ts), on a
 * server whose budget is 8 MiB and whose store syncs every write (syncMode 'always') through a
 * file system whose syncs can be held back: a write request is then held in flight, its memory
 * charged, for as long as the test wants.
 *
 * While a request charged 4.5 MiB is held, another one as large is refused RESOURCE_EXHAUSTED
 * naming requestsInFlightMaxBytes, and a small one is taken. A request larger than the whole
 * budget is taken whenever nothing else is held, one after another. The bytes held return to 0
 * once the calls end, those the client cancelled included.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { nodeFileSystem, type FileSystem } from '../../src/engine/file-system.ts'
import { requestMemoryBytes } from '../../src/server/request-memory.ts'
import { requestContext } from '../support/amplifying-requests.ts'
import { rawClient } from '../support/hostile-sender.ts'
import { collectGarbage, describeOutcome, MiB, rawCall } from '../support/measured-call.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { lengthDelimited } from '../support/wire-bytes.ts'

const S = grpc.status
const budgetBytes = 8 * MiB
const budgetRefusal = /the server is busy: .*\(requestsInFlightMaxBytes = 8388608\); retry with backoff/

/** Syncs that wait, while the gate is shut, until it opens. */
class SyncGate {
  private shut = false
  private readonly waiting: (() => void)[] = []

  readonly fileSystem: FileSystem = {
    ...nodeFileSystem,
    fdatasync: async (fd) => {
      if (this.shut) await new Promise<void>((resolve) => this.waiting.push(resolve))
      return nodeFileSystem.fdatasync(fd)
    },
  }

  get syncsWaiting(): number {
    return this.waiting.length
  }

  close(): void {
    this.shut = true
  }

  open(): void {
    this.shut = false
    for (const resume of this.waiting.splice(0)) resume()
  }
}

const gate = new SyncGate()
let server: TestServer
let raw: grpc.Client

before(async () => {
  server = await startTestServer({ store: { syncMode: 'always', fileSystem: gate.fileSystem }, limits: { requestsInFlightMaxBytes: budgetBytes } })
  raw = rawClient(server.server.address)
})

after(async () => {
  gate.open()
  raw.close()
  await server.stop()
})

/** An AddTestCase request whose value is a string of `sizeBytes` (value = 2: Value { string_value = 3 }). */
/** The items the server counts in a stringRequest: its Value message. */
const valueItems = 1

async function stringRequest(sizeBytes: number): Promise<Buffer> {
  const context = await requestContext(server.client, 'AddTestCase')
  return Buffer.concat([context.bytes, lengthDelimited(2, lengthDelimited(3, Buffer.alloc(sizeBytes, 0x78)))])
}

/** Resolves once `condition` holds, checking every 5 ms; fails after 10 s. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  // Bounded by the deadline.
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`waited 10 s for ${what}`)
    await sleep(5)
  }
}

const held = () => server.server.requestMemoryHeldBytes()

describe('requests in flight share a memory budget (requestsInFlightMaxBytes)', () => {
  it('refuses a large request while another is held, takes a small one, and returns every byte once the calls end', async (t) => {
    // 1.5 MiB strings: each charged three times its bytes, about 4.5 MiB; two are over 8 MiB.
    const first = await stringRequest(1.5 * MiB)
    const second = await stringRequest(1.5 * MiB)
    const small = await stringRequest(10)
    const cancelled = await stringRequest(10)
    assert.ok(requestMemoryBytes(first.length, valueItems) <= budgetBytes && 2 * requestMemoryBytes(first.length, valueItems) > budgetBytes)

    gate.close()
    try {
      const held1 = rawCall(raw, 'AddTestCase', first)
      await until('the first request to be held in flight', () => gate.syncsWaiting > 0 && held() > 0)
      assert.equal(held(), requestMemoryBytes(first.length, valueItems))

      // Refused at once: a short deadline, so that a server that takes it fails here, not later.
      const refused = await rawCall(raw, 'AddTestCase', second, 10_000).outcome
      t.diagnostic(`a second 1.5 MiB request while ${held()} bytes are held: ${describeOutcome(refused)}`)
      assert.equal(refused.code, S.RESOURCE_EXHAUSTED, refused.details)
      assert.match(refused.details, budgetRefusal)

      // A small request fits beside the held one; it waits for the same sync.
      const taken = rawCall(raw, 'AddTestCase', small)
      await until('the small request to be held too', () => held() > requestMemoryBytes(first.length, valueItems))
      // One the client gives up on while it is held: the server finishes it, and releases its bytes.
      const abandoned = rawCall(raw, 'AddTestCase', cancelled)
      await until('the abandoned request to be held too', () => held() === requestMemoryBytes(first.length, valueItems) + 2 * requestMemoryBytes(small.length, valueItems))
      abandoned.call.cancel()
      assert.equal((await abandoned.outcome).code, S.CANCELLED)

      gate.open()
      const outcomes = await Promise.all([held1.outcome, taken.outcome])
      assert.deepEqual(outcomes.map((outcome) => outcome.code), [S.OK, S.OK], outcomes.map(describeOutcome).join('; '))
      await until('the abandoned request to be released', () => held() === 0)
    } finally {
      gate.open()
    }
  })

  it('takes a request larger than the whole budget whenever nothing else is held, one after another', async (t) => {
    // 3 MiB strings: each charged about 9 MiB, more than the budget by itself.
    for (let index = 0; index < 4; index++) {
      const bytes = await stringRequest(3 * MiB)
      assert.ok(requestMemoryBytes(bytes.length, valueItems) > budgetBytes)
      const outcome = await rawCall(raw, 'AddTestCase', bytes).outcome
      assert.equal(outcome.code, S.OK, describeOutcome(outcome))
      // Released as the call is answered, before its response is sent.
      assert.equal(held(), 0)
    }
    t.diagnostic(`4 requests charged ${requestMemoryBytes((await stringRequest(3 * MiB)).length, valueItems)} bytes each, one at a time: all OK`)
  })

  it('refuses some of many large requests at once, answers every one, and returns every byte', async (t) => {
    const requests = await Promise.all(Array.from({ length: 12 }, () => stringRequest(1.5 * MiB)))
    // A connection each, so that the requests arrive together.
    const clients = requests.map(() => rawClient(server.server.address, { 'grpc.use_local_subchannel_pool': 1 }))
    try {
      const outcomes = await Promise.all(requests.map((bytes, index) => rawCall(clients[index]!, 'AddTestCase', bytes).outcome))
      const ok = outcomes.filter((outcome) => outcome.code === S.OK).length
      t.diagnostic(`12 requests of 1.5 MiB at once: ${ok} OK, ${outcomes.length - ok} refused for the budget`)
      for (const outcome of outcomes) {
        if (outcome.code !== S.OK) assert.match(outcome.details, budgetRefusal, describeOutcome(outcome))
      }
      assert.ok(ok >= 1)
      assert.equal(held(), 0)
    } finally {
      for (const client of clients) client.close()
    }
  })

  it('returns the bytes of calls the client cancels at any point', async (t) => {
    const requests = await Promise.all(Array.from({ length: 16 }, () => stringRequest(1.5 * MiB)))
    const clients = requests.map(() => rawClient(server.server.address, { 'grpc.use_local_subchannel_pool': 1 }))
    // Syncs held back: a request decoded before its call is cancelled stays held in its handler.
    gate.close()
    try {
      // Cancelled from before the body is sent to well after it arrived, 10 ms apart; the last
      // once a request is decoded and charged, however slow the machine is.
      const last = requests.length - 1
      const outcomes = await Promise.all(
        requests.map(async (bytes, index) => {
          const call = rawCall(clients[index]!, 'AddTestCase', bytes)
          await sleep(10 * index)
          if (index === last) await until('a request is decoded', () => held() >= requestMemoryBytes(bytes.length, valueItems))
          call.call.cancel()
          return call.outcome
        }),
      )
      const heldWhileShut = held()
      t.diagnostic(`16 calls cancelled 0 to 150 ms after they started: ${outcomes.map((outcome) => S[outcome.code]).join(', ')}; ${heldWhileShut} bytes held after`)
      for (const outcome of outcomes) {
        if (outcome.code === S.RESOURCE_EXHAUSTED) assert.match(outcome.details, budgetRefusal)
        else assert.equal(outcome.code, S.CANCELLED, describeOutcome(outcome))
      }
      // One was decoded, and charged, before it was cancelled: its handler still waits.
      assert.ok(heldWhileShut > 0)
    } finally {
      gate.open()
      for (const client of clients) client.close()
    }
    // A call cancelled after its request was decoded, before its handler ran, is released
    // when its request is collected (request-memory.ts): give the collector a chance.
    await until('every cancelled call to be released', () => {
      collectGarbage()
      return held() === 0
    })
  })
})
