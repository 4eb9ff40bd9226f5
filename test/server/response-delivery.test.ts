/**
 * Clients that never read their answers: a unary response left in the server's buffers is
 * charged to the memory budget and dropped after responseSendTimeoutMs, or sooner, longest
 * waiting first, when a new request needs the room; a reflection stream whose client does not
 * read is answered one request at a time, then dropped the same way.
 *
 * The clients are raw HTTP/2 (test/support/raw-http2.ts) that set their stream window to 0
 * (SETTINGS_INITIAL_WINDOW_SIZE): the server may send headers, but no byte of a message.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, before, describe, it } from 'node:test'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { MiB } from '../support/measured-call.ts'
import { frame, frameType, grpcRequestHeaders, RawHttp2 } from '../support/raw-http2.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'
import { lengthDelimited, tag, varintWireType } from '../support/wire-bytes.ts'

const sendTimeoutMs = 1500
const settingsInitialWindowSize = 0x4

/** A gRPC length-prefixed message, uncompressed. */
function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5)
  prefix.writeUInt32BE(message.length, 1)
  return Buffer.concat([prefix, message])
}

function varint(value: number): Buffer {
  const bytes: number[] = []
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80)
    value = Math.floor(value / 0x80)
  }
  bytes.push(value)
  return Buffer.from(bytes)
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 20_000
  // Bounded by the deadline.
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The RST_STREAM error code the server sent on `streamId`, if it sent one. */
function resetCode(raw: RawHttp2, streamId: number): number | undefined {
  const reset = raw.received.find((received) => received.type === frameType.rstStream && received.streamId === streamId)
  return reset?.payload.readUInt32BE(0)
}

/** What the server's WINDOW_UPDATE frames on `streamId` credited back: bytes it has read. */
function windowCredited(raw: RawHttp2, streamId: number): number {
  return raw.received
    .filter((received) => received.type === frameType.windowUpdate && received.streamId === streamId)
    .reduce((sum, received) => sum + (received.payload.readUInt32BE(0) & 0x7fffffff), 0)
}

let server: TestServer
const held = (): number => server.server.requestMemoryHeldBytes()

before(async () => {
  server = await startTestServer({ limits: { responseSendTimeoutMs: sendTimeoutMs, requestsInFlightMaxBytes: 2 * MiB } })
})

after(async () => {
  await server.stop()
})

describe('the delivery of responses', () => {
  it('charges an answer its client does not read to the budget, and drops it after responseSendTimeoutMs', { timeout: 60_000 }, async () => {
    const statementBytes = 4 * MiB
    const docId = await server.client.createProblem('s'.repeat(statementBytes))
    const raw = await RawHttp2.connect(server.server.port, [[settingsInitialWindowSize, 0]])
    raw.headers(1, grpcRequestHeaders(`/${lseServiceName}/GetProblemHtml`))
    raw.data(1, framed(Buffer.concat([tag(1, varintWireType), varint(Number(docId))])), { endStream: true })
    await until('the answer waits in the server', () => held() >= statementBytes)
    // Nothing else asks for memory: the answer waits until the timeout drops it.
    await until('the server drops the answer', () => resetCode(raw, 1) !== undefined)
    assert.equal(resetCode(raw, 1), http2.constants.NGHTTP2_CANCEL)
    await until('its memory is returned', () => held() === 0)
    raw.destroy()
  })

  it('drops the answers that waited longest, as many as a new request needs, and serves it', { timeout: 60_000 }, async () => {
    // Three unread answers of 768 KiB hold 2.25 MiB, over the 2 MiB budget. A 64 KiB request
    // needs 192 KiB: dropping the oldest answer makes room; the others stay.
    const statementBytes = 768 * 1024
    const docId = await server.client.createProblem('s'.repeat(statementBytes))
    const raw = await RawHttp2.connect(server.server.port, [[settingsInitialWindowSize, 0]])
    for (const [index, streamId] of [1, 3, 5].entries()) {
      raw.headers(streamId, grpcRequestHeaders(`/${lseServiceName}/GetProblemHtml`))
      raw.data(streamId, framed(Buffer.concat([tag(1, varintWireType), varint(Number(docId))])), { endStream: true })
      await until(`answer ${index + 1} waits in the server`, () => held() >= (index + 1) * statementBytes)
    }
    const served = await server.client.createProblem('x'.repeat(64 * 1024))
    assert.equal((await server.client.getProblemHtml(served)).length, 64 * 1024)
    await until('the oldest answer is dropped', () => resetCode(raw, 1) !== undefined)
    assert.equal(resetCode(raw, 1), http2.constants.NGHTTP2_CANCEL)
    assert.deepStrictEqual([resetCode(raw, 3), resetCode(raw, 5)], [undefined, undefined])
    raw.destroy()
    await until('every charge is returned', () => held() === 0)
  })

  it('keeps an answer its client reads slowly but steadily within responseSendTimeoutMs, and returns its charge', { timeout: 60_000 }, async () => {
    const statementBytes = 256 * 1024
    const docId = await server.client.createProblem('r'.repeat(statementBytes))
    const raw = await RawHttp2.connect(server.server.port, [[settingsInitialWindowSize, 0]])
    raw.headers(1, grpcRequestHeaders(`/${lseServiceName}/GetProblemHtml`))
    raw.data(1, framed(Buffer.concat([tag(1, varintWireType), varint(Number(docId))])), { endStream: true })
    await until('the answer waits in the server', () => held() >= statementBytes)
    // Opens the window a quarter of the answer at a time, over less than the timeout.
    for (let quarter = 0; quarter < 4; quarter++) {
      const increment = Buffer.alloc(4)
      increment.writeUInt32BE(statementBytes / 4 + 16)
      // The stream's window, and the connection's (65,535 bytes to start with).
      raw.send(Buffer.concat([frame(frameType.windowUpdate, 0, 1, increment), frame(frameType.windowUpdate, 0, 0, increment)]))
      await new Promise((resolve) => setTimeout(resolve, sendTimeoutMs / 8))
    }
    await until('the answer is delivered', () => raw.received.some((received) => received.type === frameType.headers && received.streamId === 1 && (received.flags & 0x1) !== 0))
    assert.equal(resetCode(raw, 1), undefined)
    const delivered = raw.received.filter((received) => received.type === frameType.data && received.streamId === 1).reduce((sum, received) => sum + received.payload.length, 0)
    assert.ok(delivered > statementBytes, `${delivered} bytes delivered`)
    await until('its charge is returned', () => held() === 0)
    raw.destroy()
  })

  it('answers a reflection stream whose client does not read one request at a time, stops reading it, and drops it after responseSendTimeoutMs', { timeout: 60_000 }, async () => {
    const raw = await RawHttp2.connect(server.server.port, [[settingsInitialWindowSize, 0]])
    raw.headers(1, grpcRequestHeaders('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'))
    // file_containing_symbol: each answer carries the contract's file descriptor, about 6.5 KiB.
    const request = framed(lengthDelimited(4, Buffer.from(lseServiceName)))
    // 2,000 requests of 24 bytes, 48 KiB: within the stream's first window, 64 KiB.
    const requests = 2000
    for (let sent = 0; sent < requests; sent++) raw.data(1, request)
    await until('the first answer waits in the server', () => held() > 0)
    await new Promise((resolve) => setTimeout(resolve, sendTimeoutMs / 3))
    // The server read a few of them and stopped: what it took, it credits back (WINDOW_UPDATE).
    const creditedBytes = windowCredited(raw, 1)
    assert.ok(creditedBytes < (requests * request.length) / 2, `the server read ${creditedBytes} of ${requests * request.length} bytes`)
    // However many requests it sent, the client's unread answers hold one answer's bytes.
    let mostHeld = 0
    while (resetCode(raw, 1) === undefined) {
      mostHeld = Math.max(mostHeld, held())
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.ok(mostHeld > 0 && mostHeld < 16 * 1024, `unread answers held ${mostHeld} bytes`)
    assert.equal(resetCode(raw, 1), http2.constants.NGHTTP2_CANCEL)
    await until('its memory is returned', () => held() === 0)
    // Reflection still serves a client that reads.
    const reader = await RawHttp2.connect(server.server.port)
    reader.headers(1, grpcRequestHeaders('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'))
    reader.data(1, request, { endStream: true })
    await until('a reading client is answered', () => reader.sent(frameType.data, 1) && reader.sent(frameType.headers, 1))
    reader.destroy()
    raw.destroy()
  })
})
