/**
 * The receipt of a request (request-receipt.ts), by clients that speak HTTP/2 themselves: one that
 * sends its request whole but never ends its stream, one that sends all but the end of its
 * request, and one that sends a request larger than the budget left while others hold it.
 *
 * Each is answered (DEADLINE_EXCEEDED after requestReceiveTimeoutMs, RESOURCE_EXHAUSTED past
 * requestsInFlightMaxBytes) and gives back every byte it was charged; none of them runs a handler.
 * Without the receipt, these calls hold their memory, uncharged or charged, for as long as the
 * client keeps its stream open.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { requestMemoryBytes } from '../../src/server/request-memory.ts'
import { requestContext } from '../support/amplifying-requests.ts'
import { MiB } from '../support/measured-call.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { lengthDelimited } from '../support/wire-bytes.ts'

const receiveTimeoutMs = 1000
const budgetBytes = 8 * MiB

interface OpenCall {
  stream: http2.ClientHttp2Stream
  /** The call's gRPC status, from its trailers (or its headers, when the answer is trailers-only). */
  status: Promise<{ code: number; details: string }>
  /** Resolves once the stream is closed, either way. */
  closed: Promise<void>
}

/**
 * Starts `method` (of `service`, the service under test unless named) on its own connection and
 * writes `bytes` (a gRPC message, whole or not) without ending the stream.
 */
function openCall(port: number, method: string, bytes: Buffer, service = `${lseServiceName}/`): OpenCall {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  const stream = session.request(
    { ':method': 'POST', ':path': `/${service}${method}`, 'content-type': 'application/grpc', te: 'trailers' },
    { endStream: false },
  )
  stream.on('error', () => {})
  const status = new Promise<{ code: number; details: string }>((resolve) => {
    const take = (headers: http2.IncomingHttpHeaders): void => {
      const code = headers['grpc-status']
      if (code !== undefined) resolve({ code: Number(code), details: decodeURIComponent(String(headers['grpc-message'] ?? '')) })
    }
    stream.on('response', take)
    stream.on('trailers', take)
  })
  const closed = new Promise<void>((resolve) =>
    stream.once('close', () => {
      session.destroy()
      resolve()
    }),
  )
  stream.resume()
  stream.write(bytes)
  return { stream, status, closed }
}

/** A gRPC length-prefixed message: not compressed, its length, its bytes. */
function framed(message: Buffer, declaredBytes = message.length): Buffer {
  const prefix = Buffer.alloc(5)
  prefix.writeUInt32BE(declaredBytes, 1)
  return Buffer.concat([prefix, message])
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000
  // Bounded by the deadline.
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

let server: TestServer
const held = (): number => server.server.requestMemoryHeldBytes()

before(async () => {
  server = await startTestServer({ limits: { requestReceiveTimeoutMs: receiveTimeoutMs, requestsInFlightMaxBytes: budgetBytes } })
})

after(async () => {
  await server.stop()
})

describe('the receipt of a request', () => {
  it('answers a request sent whole but never ended DEADLINE_EXCEEDED after requestReceiveTimeoutMs, returns its memory and never runs it', { timeout: 30_000 }, async () => {
    const context = await requestContext(server.client, 'AddTestCase')
    const message = Buffer.concat([context.bytes, lengthDelimited(2, lengthDelimited(3, Buffer.alloc(MiB, 0x78)))])
    const call = openCall(server.server.port, 'AddTestCase', framed(message))
    // Decoded and charged, waiting for the end of the stream.
    await until('the request is charged', () => held() >= requestMemoryBytes(message.length, 1))
    const status = await call.status
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, status.details)
    assert.match(status.details, /AddTestCase: the request was not received whole \(the message and the end of the stream\) within requestReceiveTimeoutMs = 1000 ms/)
    await call.closed
    await until('every byte is returned', () => held() === 0)
    let testCases = 0
    for await (const _ of server.client.getAllTestCases(context.problemId!)) testCases++
    assert.equal(testCases, 0, 'the handler never ran')
  })

  it('charges the bytes of a request as they arrive, and answers one that never arrives whole DEADLINE_EXCEEDED', { timeout: 30_000 }, async () => {
    // 3 MiB of a message that says it has 4.
    const call = openCall(server.server.port, 'AddTestCase', framed(Buffer.alloc(3 * MiB, 0x0a), 4 * MiB))
    await until('the bytes received are charged', () => held() >= 3 * MiB)
    // Others are still served meanwhile.
    await server.client.getStats()
    const status = await call.status
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, status.details)
    await call.closed
    await until('every byte is returned', () => held() === 0)
  })

  it('takes a request larger than the whole budget as it arrives when nothing else is held', { timeout: 30_000 }, async () => {
    // CreateProblem: its statement (field 1) may be as large as a blob, 16 MiB.
    const call = openCall(server.server.port, 'CreateProblem', framed(lengthDelimited(1, Buffer.alloc(budgetBytes + MiB, 0x78))))
    call.stream.end()
    const status = await call.status
    assert.equal(status.code, grpc.status.OK, status.details)
    await until('every byte is returned', () => held() === 0)
  })

  it('answers a streaming call whose message never arrives whole DEADLINE_EXCEEDED (reflection, which needs no token)', { timeout: 30_000 }, async () => {
    // 3 KiB of a message that says it has 4 KiB, the services' limit.
    const call = openCall(server.server.port, 'grpc.reflection.v1.ServerReflection/ServerReflectionInfo', framed(Buffer.alloc(3 * 1024, 0x0a), 4 * 1024), '')
    await until('the bytes received are charged', () => held() >= 3 * 1024)
    const status = await call.status
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, status.details)
    assert.match(status.details, /a message was not received whole within requestReceiveTimeoutMs = 1000 ms/)
    await call.closed
    await until('every byte is returned', () => held() === 0)
  })

  it('refuses a request whose arriving bytes go over the budget, before it is whole, and takes it once the budget is free', { timeout: 30_000 }, async () => {
    // Each declares 5 MiB + 32 KiB, under AddTestCase's limit (a 4 MiB value, 10/8 on the wire, and an envelope).
    const declaredBytes = 5 * MiB + 32 * 1024
    const first = openCall(server.server.port, 'AddTestCase', framed(Buffer.alloc(5 * MiB, 0x0a), declaredBytes))
    await until('the first request holds 5 MiB', () => held() >= 5 * MiB)
    const second = openCall(server.server.port, 'AddTestCase', framed(Buffer.alloc(4 * MiB, 0x0a), declaredBytes))
    const refused = await second.status
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED, refused.details)
    assert.match(refused.details, /the server is busy: .*\(requestsInFlightMaxBytes = 8388608\); retry with backoff/)
    await second.closed
    first.stream.close(http2.constants.NGHTTP2_CANCEL)
    await first.closed
    await until('every byte is returned', () => held() === 0)
    // The budget is free: a request as large as the refused one is served.
    const context = await requestContext(server.client, 'AddTestCase')
    const message = Buffer.concat([context.bytes, lengthDelimited(2, lengthDelimited(3, Buffer.alloc(2 * MiB, 0x78)))])
    const served = openCall(server.server.port, 'AddTestCase', framed(message))
    served.stream.end()
    assert.equal((await served.status).code, grpc.status.OK)
    await until('every byte is returned', () => held() === 0)
  })
})

describe('the declared size of a request', () => {
  for (const [what, path] of [
    ['a method of the contract', `${lseServiceName}/GetProblemHtml`],
    ['reflection, which needs no token', 'grpc.reflection.v1.ServerReflection/ServerReflectionInfo'],
  ] as const) {
    it(`refuses ${what} whose length prefix declares more than its limit, from the prefix alone`, { timeout: 30_000 }, async () => {
      const [service, method] = path.split('/') as [string, string]
      // Only the 5-byte prefix is sent: 1 MiB declared, far over the 4 KiB limit.
      const call = openCall(server.server.port, method, framed(Buffer.alloc(0), MiB), `${service}/`)
      const refused = await call.status
      assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED, refused.details)
      assert.match(refused.details, /request is 1048576 bytes; its limit is 4096 bytes/)
      await call.closed
      assert.equal(held(), 0)
    })
  }
})
