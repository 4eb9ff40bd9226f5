/**
 * The server's TCP listener: it accepts connections itself and hands grpc-js only those that
 * have spoken HTTP/2, so that connections cannot hold the server's sockets for nothing.
 *
 * grpc-js keeps a TCP connection that never sends the HTTP/2 preface open forever, and takes as
 * many connections as the process has file descriptors. Here:
 *
 * - A new connection has `handshakeTimeoutMs` to send the 24-byte HTTP/2 client preface; then it
 *   is closed. Bytes that cannot begin the preface close it at once (grpc-js would close it too,
 *   after setting up an HTTP/2 session for it).
 * - At most `connectionsMax` connections are held. At the limit, a new connection evicts the
 *   oldest one still in its handshake (a flood of silent connections then cannot keep clients
 *   out); when every connection has spoken, the one on which no call runs that has been so
 *   longest (a flood of connections that spoke once and went quiet, or that keep calls open
 *   without finishing their requests or reading their answers, cannot either: their clients
 *   reconnect by themselves when they call again). Only when a call runs on every connection is
 *   the new one closed at once. The server reports calls as their handlers start and end
 *   (`callStarted`, `callEnded`, from connection-calls.ts).
 * - Connections accepted before `start()` (while the store is still being opened) wait, and their
 *   handshake time starts when the server is ready: a client that connects during a long
 *   recovery is served once it ends.
 *
 * - With TLS, the listener runs the TLS handshake itself (within the same handshakeTimeoutMs), asks
 *   for ALPN "h2", verifies client certificates when a client CA is given, and hands grpc-js the
 *   decrypted stream. New certificates apply to new connections (`setTls`), without a restart.
 *
 * A connection that has spoken belongs to grpc-js, which closes it after `connectionIdleMs`
 * without calls and limits its concurrent streams (see stratum-server.ts).
 *
 *   const listener = await ConnectionListener.listen('127.0.0.1', 0, limits, logger)
 *   listener.start((socket) => injector.injectConnection(socket))
 */
import net from 'node:net'
import tls from 'node:tls'
import type { Logger } from 'pino'

/** What every HTTP/2 client sends first (RFC 9113, section 3.4). */
const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

export interface ConnectionLimits {
  /** Time a new connection has to send the HTTP/2 preface before it is closed. */
  handshakeTimeoutMs: number
  /** Most connections held at once, in their handshake or not. */
  connectionsMax: number
}

export const defaultConnectionLimits: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  connectionsMax: 4096,
}

/** Counters of what the listener closed, for stats and tests. */
export interface ConnectionCounts {
  /** Connections held now: in their handshake, waiting for the server to be ready, or served. */
  open: number
  /** Calls whose handlers run now on the served connections (connection-calls.ts). */
  callsRunning: number
  /** Closed for not sending the preface within handshakeTimeoutMs. */
  handshakeTimeouts: number
  /** Closed for sending bytes that are not the HTTP/2 preface. */
  notHttp2: number
  /** Closed in their TLS handshake: not TLS, an unknown or missing client certificate, no ALPN "h2", or gone. */
  tlsFailures: number
  /** Closed in their handshake to make room for a new connection at connectionsMax. */
  evicted: number
  /** Served but with no call running, closed to make room for a new connection at connectionsMax. */
  evictedIdle: number
  /** New connections closed at once: connectionsMax were held and a call ran on each. */
  refused: number
}

/** A connection handed to grpc-js, and its calls. */
interface ServedConnection {
  readonly socket: net.Socket
  /** Calls whose handlers run on it now. */
  running: number
  /** When its last running call ended (or it was served, before any), for choosing whom to evict. */
  idleSinceMs: number
}

type Inject = (socket: net.Socket) => void

export class ConnectionListener {
  /** Connections that have not yet sent the preface (or wait for start), oldest first. */
  private readonly handshaking = new Map<net.Socket, NodeJS.Timeout | undefined>()
  /** Served connections, by remote address and port (how a call names its connection). */
  private readonly served = new Map<string, ServedConnection>()
  private inject: Inject | undefined
  private readonly counts = { handshakeTimeouts: 0, notHttp2: 0, tlsFailures: 0, evicted: 0, evictedIdle: 0, refused: 0 }
  /** Terminates TLS when the server has certificates (it never listens; connections are handed to it). */
  private tlsServer: tls.Server | undefined
  /** Connections in their TLS handshake, by remote address and port, to find them once secure. */
  private readonly inTls = new Map<string, net.Socket>()

  private constructor(
    private readonly server: net.Server,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
  ) {
    server.on('connection', (socket) => this.accept(socket))
  }

  /** Binds `host:port` (0 picks a free port); rejects with Node's error (EADDRINUSE, EACCES...). */
  static listen(host: string, port: number, limits: ConnectionLimits, logger: Logger): Promise<ConnectionListener> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false })
    const listener = new ConnectionListener(server, limits, logger)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject)
        server.on('error', (error) => logger.error({ err: error }, 'the listener failed'))
        resolve(listener)
      })
    })
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port
  }

  get connectionCounts(): ConnectionCounts {
    let callsRunning = 0
    for (const connection of this.served.values()) callsRunning += connection.running
    return { open: this.handshaking.size + this.served.size, callsRunning, ...this.counts }
  }

  /**
   * Terminates TLS on connections accepted from now on with these options (certificate, key, and
   * `ca` with `requestCert` for client certificates); undefined keeps connections plaintext.
   * Called again with new options, it replaces the certificates for new connections.
   */
  setTls(options: tls.SecureContextOptions & { requestCert: boolean } | undefined): void {
    if (options === undefined) {
      this.tlsServer = undefined
      return
    }
    if (this.tlsServer !== undefined) {
      this.tlsServer.setSecureContext(options)
      return
    }
    const server = tls.createServer({ ...options, rejectUnauthorized: options.requestCert, ALPNProtocols: ['h2'] })
    server.on('secureConnection', (secure) => this.secured(secure))
    server.on('tlsClientError', (error, secure) => {
      this.logger.debug({ err: error }, 'TLS handshake failed')
      // Counted when the connection closes (below); a refused client certificate may close it
      // without this event (TLS 1.3 verifies it after the server's side of the handshake).
      const raw = this.inTls.get(remoteKey(secure))
      if (raw !== undefined) this.drop(raw)
    })
    this.tlsServer = server
  }

  /** Starts handing connections that speak HTTP/2 to `inject`; those already waiting start their handshake time now. */
  start(inject: Inject): void {
    this.inject = inject
    for (const socket of [...this.handshaking.keys()]) this.startHandshake(socket)
  }

  /** A call's handler started on the connection from `remote` ("address|port"). */
  callStarted(remote: string): void {
    const connection = this.served.get(remote)
    if (connection !== undefined) connection.running++
  }

  /** A call's handler on the connection from `remote` ended: answered, or cancelled. */
  callEnded(remote: string): void {
    const connection = this.served.get(remote)
    if (connection === undefined || connection.running === 0) return
    connection.running--
    if (connection.running === 0) connection.idleSinceMs = performance.now()
  }

  /**
   * Stops accepting and closes the connections still in their handshake. Served connections are
   * left to grpc-js, which lets their calls finish (so this does not wait for them).
   */
  close(): void {
    this.server.close()
    for (const socket of [...this.handshaking.keys()]) this.drop(socket)
  }

  private accept(socket: net.Socket): void {
    // A reset or a broken pipe is the peer's business; without a listener it would throw.
    socket.on('error', (error) => this.logger.debug({ err: error }, 'connection error'))
    if (this.handshaking.size + this.served.size >= this.limits.connectionsMax && !this.makeRoom()) {
      this.counts.refused++
      this.logger.warn({ connectionsMax: this.limits.connectionsMax }, 'connection refused: connectionsMax connections are open, a call running on each')
      socket.destroy()
      return
    }
    this.handshaking.set(socket, undefined)
    const key = remoteKey(socket)
    socket.once('close', () => {
      this.forget(socket)
      if (this.served.get(key)?.socket === socket) this.served.delete(key)
    })
    if (this.inject !== undefined) this.startHandshake(socket)
  }

  /** Closes the oldest connection in its handshake, or else the served one idle longest; false if a call runs on every connection. */
  private makeRoom(): boolean {
    const oldest = this.handshaking.keys().next()
    if (oldest.done !== true) {
      this.counts.evicted++
      this.drop(oldest.value)
      return true
    }
    let idlest: ServedConnection | undefined
    for (const connection of this.served.values()) {
      if (connection.running === 0 && (idlest === undefined || connection.idleSinceMs < idlest.idleSinceMs)) idlest = connection
    }
    if (idlest === undefined) return false
    this.counts.evictedIdle++
    this.served.delete(remoteKey(idlest.socket))
    idlest.socket.destroy()
    return true
  }

  private startHandshake(socket: net.Socket): void {
    const key = remoteKey(socket)
    const timer = setTimeout(() => {
      this.counts.handshakeTimeouts++
      this.inTls.delete(key)
      this.drop(socket)
    }, this.limits.handshakeTimeoutMs)
    timer.unref()
    this.handshaking.set(socket, timer)
    if (this.tlsServer === undefined) {
      this.readPreface(socket, socket)
      return
    }
    this.inTls.set(key, socket)
    socket.once('close', () => {
      // Closed in its TLS handshake: refused by TLS, or gone.
      if (this.inTls.delete(key)) this.counts.tlsFailures++
    })
    this.tlsServer.emit('connection', socket)
  }

  /** A TLS handshake succeeded: the client must have agreed on HTTP/2, then send its preface. */
  private secured(secure: tls.TLSSocket): void {
    const key = remoteKey(secure)
    const raw = this.inTls.get(key)
    this.inTls.delete(key)
    if (raw === undefined || !this.handshaking.has(raw)) {
      secure.destroy()
      return
    }
    secure.on('error', (error) => this.logger.debug({ err: error }, 'connection error'))
    if (secure.alpnProtocol !== 'h2') {
      this.counts.tlsFailures++
      this.drop(raw)
      return
    }
    this.readPreface(secure, raw)
  }

  /** Reads the HTTP/2 preface from `stream` (the socket, or the TLS stream over `raw`), then injects it. */
  private readPreface(stream: net.Socket, raw: net.Socket): void {
    const received: Buffer[] = []
    let receivedBytes = 0
    const onReadable = (): void => {
      for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null; ) {
        received.push(chunk)
        receivedBytes += chunk.length
      }
      const head = Buffer.concat(received)
      const compared = Math.min(head.length, http2Preface.length)
      if (!head.subarray(0, compared).equals(http2Preface.subarray(0, compared))) {
        this.counts.notHttp2++
        this.drop(raw)
        return
      }
      if (receivedBytes < http2Preface.length) return
      stream.off('readable', onReadable)
      this.forget(raw)
      this.served.set(remoteKey(raw), { socket: raw, running: 0, idleSinceMs: performance.now() })
      // Node's HTTP/2 session reads what is buffered in the socket before anything else.
      stream.unshift(head)
      this.inject!(stream)
    }
    stream.on('readable', onReadable)
  }

  /** No longer in the handshake: served, closed or dropped. */
  private forget(socket: net.Socket): void {
    const timer = this.handshaking.get(socket)
    if (timer !== undefined) clearTimeout(timer)
    this.handshaking.delete(socket)
  }

  private drop(socket: net.Socket): void {
    this.forget(socket)
    socket.destroy()
  }
}

function remoteKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`
}
