/**
 * Connections that never speak, speak too slowly, speak something other than HTTP/2, or go quiet
 * once connected: each is closed by the server's limits (handshakeTimeoutMs, connectionsMax,
 * connectionIdleMs) while a normal client goes on working or gets in. The limits are set small here so the
 * test is quick; the bounds on when a connection closes are loose (slow machines), the behaviour
 * they check is not: without the limits these connections stay open for ever.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { gatedFileSystem } from '../../src/engine/testing/gated-file-system.ts'
import { frameType, grpcRequestHeaders, RawHttp2 } from '../support/raw-http2.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
/** An empty HTTP/2 SETTINGS frame: length 0, type 4, flags 0, stream 0. */
const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])

interface HeldConnection {
  socket: net.Socket
  openedAtMs: number
  /** Resolves to how long the connection stayed open, once the server closed it. */
  closed: Promise<number>
}

function connect(port: number): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    socket.once('connect', () => {
      const openedAtMs = performance.now()
      const closed = new Promise<number>((done) => socket.once('close', () => done(performance.now() - openedAtMs)))
      // Read and drop what the server sends (its SETTINGS, a GOAWAY), as a client would.
      socket.resume()
      resolve({ socket, openedAtMs, closed })
    })
    socket.once('error', reject)
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves once `condition` holds, checking every 10 ms; fails after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000
  // Bounded by the deadline.
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out waiting for the server')
    await sleep(10)
  }
}

/**
 * An HTTP/2 connection with a call of `path`: by default a GetStats whose request is never sent,
 * a call open until the stream is closed; with `request`, that request sent whole.
 */
function openCall(port: number, path = `/${lseServiceName}/GetStats`, request?: Buffer): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false })
  stream.on('error', () => {})
  stream.resume()
  if (request !== undefined) stream.end(request)
  return { session, stream }
}

/** `message` with gRPC's length prefix, uncompressed. */
function framedMessage(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5)
  prefix.writeUInt32BE(message.length, 1)
  return Buffer.concat([prefix, message])
}

/** A health Watch request for the whole server (service ""): an empty message, length-prefixed. */
function healthRequest(): Buffer {
  return Buffer.alloc(5)
}

/** Calls the server in a loop until `stop` resolves; returns how many calls succeeded (any failure throws). */
async function keepWorking(server: TestServer, stop: Promise<void>): Promise<number> {
  let stopped = false
  void stop.then(() => (stopped = true))
  let calls = 0
  const docId = await server.client.createProblem('working', { round: '0' })
  while (!stopped) {
    await server.client.updateProblemColumn(docId, 'round', String(calls))
    assert.equal((await server.client.getProblemMeta(docId)).round, String(calls))
    calls++
    await sleep(20)
  }
  return calls
}

const servers: TestServer[] = []
after(async () => {
  for (const server of servers) await server.stop()
})

describe('connections', () => {
  it('closes hundreds of silent and slow connections after the handshake timeout, while a client keeps working', { timeout: 60_000 }, async (t) => {
    const handshakeTimeoutMs = 1000
    const server = await startTestServer({ limits: { handshakeTimeoutMs } })
    servers.push(server)
    const port = server.server.port
    const silent = await Promise.all(Array.from({ length: 300 }, () => connect(port)))
    // Slow: a byte of the preface every 200 ms would take 4.8 s to finish it.
    const slow = await Promise.all(Array.from({ length: 100 }, () => connect(port)))
    const dripping = setInterval(() => {
      for (const { socket } of slow) {
        const sent = socket.bytesWritten
        if (!socket.destroyed && sent < preface.length) socket.write(preface.subarray(sent, sent + 1))
      }
    }, 200)
    let working: Promise<number> | undefined
    try {
      working = keepWorking(server, Promise.all([...silent, ...slow].map((held) => held.closed)).then(() => undefined))
      const openMs = await Promise.all([...silent, ...slow].map((held) => held.closed))
      const calls = await working
      const longestMs = Math.max(...openMs)
      t.diagnostic(`400 connections closed after ${Math.min(...openMs).toFixed(0)}–${longestMs.toFixed(0)} ms; ${calls} calls of the client succeeded meanwhile`)
      for (const ms of openMs) assert.ok(ms >= handshakeTimeoutMs - 50, `closed after ${ms} ms, before the handshake timeout`)
      assert.ok(longestMs < handshakeTimeoutMs + 10_000, `a connection stayed open ${longestMs} ms`)
      assert.ok(calls > 0)
      const counts = server.server.connectionCounts()
      assert.equal(counts.handshakeTimeouts, 400)
      assert.equal(counts.notHttp2, 0)
    } finally {
      clearInterval(dripping)
      await working?.catch(() => {})
    }
  })

  it('closes a connection that speaks something other than HTTP/2 at once', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ limits: { handshakeTimeoutMs: 60_000 } })
    servers.push(server)
    const held = await connect(server.server.port)
    held.socket.write('GET / HTTP/1.1\r\nHost: stratum\r\n\r\n')
    const openMs = await held.closed
    assert.ok(openMs < 30_000, `stayed open ${openMs} ms`)
    assert.equal(server.server.connectionCounts().notHttp2, 1)
  })

  it('at connectionsMax, evicts the oldest connection still in its handshake, so that a client gets in', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ limits: { connectionsMax: 50, handshakeTimeoutMs: 60_000 } })
    servers.push(server)
    // The test server's client has not connected yet: 50 silent connections take every place.
    const silent = await Promise.all(Array.from({ length: 50 }, () => connect(server.server.port)))
    const docId = await server.client.createProblem('got in')
    assert.equal(await server.client.getProblemHtml(docId), 'got in')
    assert.ok(server.server.connectionCounts().evicted >= 1)
    // The oldest silent connection went first.
    assert.ok(await Promise.race([silent[0]!.closed.then(() => true), sleep(10_000).then(() => false)]), 'the oldest silent connection was closed')
    for (const { socket } of silent) socket.destroy()
  })

  it('at connectionsMax with every connection served, evicts the one idle longest, so that a client gets in', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ limits: { connectionsMax: 20, handshakeTimeoutMs: 60_000 } })
    servers.push(server)
    // 20 HTTP/2 connections that speak, then go quiet, take every place.
    const quiet = await Promise.all(Array.from({ length: 20 }, () => connect(server.server.port)))
    for (const { socket } of quiet) socket.write(Buffer.concat([preface, emptySettings]))
    await until(() => server.server.connectionCounts().open === 20 && server.server.connectionCounts().callsRunning === 0)
    const docId = await server.client.createProblem('got in')
    assert.equal(await server.client.getProblemHtml(docId), 'got in')
    const counts = server.server.connectionCounts()
    assert.equal(counts.evictedIdle, 1)
    assert.equal(counts.refused, 0)
    // The first to go quiet went first.
    assert.ok(await Promise.race([quiet[0]!.closed.then(() => true), sleep(10_000).then(() => false)]), 'the connection idle longest was closed')
    for (const { socket } of quiet) socket.destroy()
  })

  it('at connectionsMax, evicts connections that hold only streaming calls, which anyone may keep open', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ limits: { connectionsMax: 3, handshakeTimeoutMs: 60_000 } })
    servers.push(server)
    // Three connections, each watching the health service: a call that never ends.
    const watchers = Array.from({ length: 3 }, () => openCall(server.server.port, '/grpc.health.v1.Health/Watch', healthRequest()))
    await until(() => server.server.connectionCounts().open === 3)
    const docId = await server.client.createProblem('got in past the watchers')
    assert.equal(await server.client.getProblemHtml(docId), 'got in past the watchers')
    assert.equal(server.server.connectionCounts().evictedIdle, 1)
    for (const { session } of watchers) session.destroy()
  })

  it('at connectionsMax with a call running on every connection, closes a new one at once', { timeout: 60_000 }, async () => {
    // Writes wait for a sync the test holds: their handlers run until it is released.
    const gate = gatedFileSystem()
    const server = await startTestServer({ limits: { connectionsMax: 2, handshakeTimeoutMs: 60_000 }, store: { syncMode: 'always', fileSystem: gate.fileSystem } })
    servers.push(server)
    gate.hold()
    const running = [0, 1].map(() => openCall(server.server.port, `/${lseServiceName}/CreateProblem`, framedMessage(Buffer.from([0x0a, 0x01, 0x61]))))
    await until(() => server.server.connectionCounts().callsRunning === 2)
    const third = await connect(server.server.port)
    assert.ok((await third.closed) < 30_000)
    assert.equal(server.server.connectionCounts().refused, 1)
    assert.equal(server.server.connectionCounts().evictedIdle, 0)
    // The writes are answered: nothing runs on their connections, which make room for the next client.
    gate.releaseAll()
    await until(() => server.server.connectionCounts().callsRunning === 0)
    const docId = await server.client.createProblem('got in once the calls ended')
    assert.equal(await server.client.getProblemHtml(docId), 'got in once the calls ended')
    assert.equal(server.server.connectionCounts().evictedIdle, 1)
    for (const { session } of running) session.destroy()
  })

  it('at connectionsMax, evicts connections whose calls never finish their requests, so that a client gets in', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ limits: { connectionsMax: 4, handshakeTimeoutMs: 60_000, requestReceiveTimeoutMs: 60_000 } })
    servers.push(server)
    // Calls opened with their headers alone, and one with half its request: nothing runs.
    const started = [openCall(server.server.port), openCall(server.server.port), openCall(server.server.port)]
    const half = openCall(server.server.port, `/${lseServiceName}/CreateProblem`)
    half.stream.write(framedMessage(Buffer.from([0x0a, 0x01, 0x61])).subarray(0, 6))
    await until(() => server.server.connectionCounts().open === 4)
    const docId = await server.client.createProblem('got in past the unfinished calls')
    assert.equal(await server.client.getProblemHtml(docId), 'got in past the unfinished calls')
    const counts = server.server.connectionCounts()
    assert.equal(counts.evictedIdle, 1)
    assert.equal(counts.refused, 0)
    for (const { session } of [...started, half]) session.destroy()
  })

  for (const [fault, send] of [
    ['DATA after the end of its stream', (raw: RawHttp2) => {
      raw.data(1, framedMessage(Buffer.alloc(0)), { endStream: true })
      raw.data(1, framedMessage(Buffer.alloc(0)), { endStream: true })
    }],
    ['a DATA frame over the 16 KiB frame size', (raw: RawHttp2) => raw.data(1, Buffer.alloc(20_000))],
  ] as const) {
    it(`at connectionsMax, evicts connections whose HTTP/2 session failed on ${fault}`, { timeout: 60_000 }, async () => {
      const server = await startTestServer({ limits: { connectionsMax: 3, handshakeTimeoutMs: 60_000, requestReceiveTimeoutMs: 60_000 } })
      servers.push(server)
      const failed = await Promise.all([0, 1, 2].map(() => RawHttp2.connect(server.server.port)))
      for (const raw of failed) {
        raw.headers(1, grpcRequestHeaders(`/${lseServiceName}/GetStats`))
        send(raw)
      }
      await until(() => failed.every((raw) => raw.sent(frameType.goaway)))
      // The failed sessions stay open (keepalive would close them): they must not keep a client out.
      const docId = await server.client.createProblem('got in past the failed sessions')
      assert.equal(await server.client.getProblemHtml(docId), 'got in past the failed sessions')
      assert.equal(server.server.connectionCounts().refused, 0)
      assert.equal(server.server.connectionCounts().evictedIdle, 1)
      for (const raw of failed) raw.destroy()
    })
  }

  it('closes a connection without calls after connectionIdleMs, and advertises streamsPerConnectionMax', { timeout: 60_000 }, async () => {
    const connectionIdleMs = 1500
    const server = await startTestServer({ limits: { connectionIdleMs, streamsPerConnectionMax: 7 } })
    servers.push(server)
    const session = http2.connect(`http://127.0.0.1:${server.server.port}`)
    session.on('error', () => {})
    const closedAfterMs = new Promise<number>((resolve) => {
      const startedMs = performance.now()
      session.once('close', () => resolve(performance.now() - startedMs))
    })
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve))
    assert.equal(settings.maxConcurrentStreams, 7)
    const idleMs = await closedAfterMs
    assert.ok(idleMs >= connectionIdleMs - 50 && idleMs < connectionIdleMs + 10_000, `closed after ${idleMs} ms`)
  })
})
