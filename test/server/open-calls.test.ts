/**
 * callsMax: the calls open at once on the whole server. At the limit a new call ends the
 * streaming call open longest (a health Watch, which needs no token and never ends by itself);
 * when only unary calls are open, the new call is refused RESOURCE_EXHAUSTED, and served again
 * once calls end.
 */
import assert from 'node:assert/strict'
import * as grpc from '@grpc/grpc-js'
import { after, before, describe, it } from 'node:test'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { rawClient } from '../support/hostile-sender.ts'
import { grpcRequestHeaders, RawHttp2 } from '../support/raw-http2.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

const callsMax = 4
const identity = (bytes: Buffer): Buffer => bytes

let server: TestServer

before(async () => {
  server = await startTestServer({ limits: { callsMax } })
})

after(async () => {
  await server.stop()
})

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 20_000
  // Bounded by the deadline.
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A health Watch of the whole server: its first answer, then its end. */
function healthWatch(client: grpc.Client): { call: grpc.ClientReadableStream<Buffer>; firstAnswer: Promise<void>; ended: Promise<grpc.StatusObject> } {
  const call = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', identity, identity, Buffer.alloc(0), new grpc.Metadata(), {})
  // Read on to the end: a stream nobody reads is paused, and would hold its status back.
  const firstAnswer = new Promise<void>((resolve) => call.on('data', () => resolve()))
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))
  call.on('error', () => {})
  return { call, firstAnswer, ended }
}

describe('callsMax', () => {
  it('ends the streaming call open longest for a new call', { timeout: 60_000 }, async () => {
    const watcher = rawClient(`127.0.0.1:${server.server.port}`)
    const watches = Array.from({ length: callsMax }, () => healthWatch(watcher))
    await Promise.all(watches.map((watch) => watch.firstAnswer))
    // Every call is open: the next one ends the first watch, then runs.
    assert.equal((await server.client.getStats()).problemsInIndex, 0)
    const first = await watches[0]!.ended
    assert.equal(first.code, grpc.status.CANCELLED, first.details)
    // The others are still open. A new watch fills the place again; the next call ends the
    // oldest still open, the second.
    const another = healthWatch(watcher)
    await another.firstAnswer
    await until('the calls are open', () => server.server.openCalls() === callsMax)
    await server.client.getStats()
    assert.equal((await watches[1]!.ended).code, grpc.status.CANCELLED)
    // Closing a client leaves its calls open: they are cancelled.
    const rest = [...watches.slice(2), another]
    for (const watch of rest) watch.call.cancel()
    await Promise.all(rest.map((watch) => watch.ended))
    watcher.close()
  })

  it('refuses a new call RESOURCE_EXHAUSTED while only unary calls are open, and serves it once they end', { timeout: 60_000 }, async () => {
    // Unary calls whose requests have not arrived yet: headers only.
    const raw = await RawHttp2.connect(server.server.port)
    for (let index = 0; index < callsMax; index++) raw.headers(1 + 2 * index, grpcRequestHeaders(`/${lseServiceName}/GetStats`))
    await until('the calls are open', () => server.server.openCalls() === callsMax)
    await assert.rejects(server.client.getStats(), (error: Error & { codeName?: string }) => {
      assert.equal(error.codeName, 'RESOURCE_EXHAUSTED')
      assert.match(error.message, /the server has 4 calls open \(callsMax\); retry with backoff/)
      return true
    })
    raw.destroy()
    await until('the calls are closed', () => server.server.openCalls() === 0)
    assert.equal((await server.client.getStats()).problemsInIndex, 0)
  })
})
