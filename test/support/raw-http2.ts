/**
 * A raw HTTP/2 client over one TCP connection, for sending what no HTTP/2 library would send:
 * frames after END_STREAM, frames over the peer's size limit, a window never opened. Frames are
 * built by hand (RFC 9113, section 4.1); header blocks use HPACK literals without indexing and
 * without Huffman coding (RFC 7541, section 6.2.2), which every decoder must accept.
 *
 *   const raw = await RawHttp2.connect(port)
 *   raw.headers(1, { ':path': '/lse.v1.LseService/GetStats' }, { endStream: false })
 *   raw.data(1, framedRequest, { endStream: true })
 */
import net from 'node:net'

export const frameType = { data: 0x0, headers: 0x1, rstStream: 0x3, settings: 0x4, ping: 0x6, goaway: 0x7, windowUpdate: 0x8 } as const
const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const
const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

export interface Frame {
  type: number
  flags: number
  streamId: number
  payload: Buffer
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(streamId & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}

/** An HPACK integer with an N-bit prefix (RFC 7541, 5.1), the prefix's high bits set to `high`. */
function hpackInteger(value: number, prefixBits: number, high: number): Buffer {
  const max = (1 << prefixBits) - 1
  if (value < max) return Buffer.from([high | value])
  const bytes = [high | max]
  let rest = value - max
  while (rest >= 128) {
    bytes.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

/** A header block of literals without indexing, new names, no Huffman coding. */
export function headerBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = []
  for (const [name, value] of Object.entries(headers)) {
    parts.push(Buffer.from([0x00]), hpackInteger(name.length, 7, 0), Buffer.from(name, 'latin1'), hpackInteger(Buffer.byteLength(value), 7, 0), Buffer.from(value))
  }
  return Buffer.concat(parts)
}

/** The request headers of a gRPC call of `path`, plus `extra`. */
export function grpcRequestHeaders(path: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ':method': 'POST', ':scheme': 'http', ':path': path, ':authority': 'localhost', 'content-type': 'application/grpc', te: 'trailers', ...extra }
}

export class RawHttp2 {
  /** Frames received from the server, in order. */
  readonly received: Frame[] = []
  private buffered = Buffer.alloc(0)
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>

  private constructor(readonly socket: net.Socket) {
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => this.take(chunk))
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  /**
   * Connects, sends the preface and SETTINGS (with `settings`: [id, value] pairs, say
   * SETTINGS_INITIAL_WINDOW_SIZE = 0), and acknowledges the server's SETTINGS as they come.
   */
  static connect(port: number, settings: Array<[number, number]> = []): Promise<RawHttp2> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        const raw = new RawHttp2(socket)
        const payload = Buffer.alloc(6 * settings.length)
        settings.forEach(([id, value], index) => {
          payload.writeUInt16BE(id, index * 6)
          payload.writeUInt32BE(value, index * 6 + 2)
        })
        socket.write(Buffer.concat([preface, frame(frameType.settings, 0, 0, payload)]))
        resolve(raw)
      })
    })
  }

  headers(streamId: number, headers: Record<string, string>, options: { endStream?: boolean } = {}): void {
    const flags = flag.endHeaders | (options.endStream === true ? flag.endStream : 0)
    this.send(frame(frameType.headers, flags, streamId, headerBlock(headers)))
  }

  data(streamId: number, payload: Buffer, options: { endStream?: boolean } = {}): void {
    this.send(frame(frameType.data, options.endStream === true ? flag.endStream : 0, streamId, payload))
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes)
  }

  /** Whether the server sent a frame of `type` (on `streamId`, if given). */
  sent(type: number, streamId?: number): boolean {
    return this.received.some((received) => received.type === type && (streamId === undefined || received.streamId === streamId))
  }

  destroy(): void {
    this.socket.destroy()
  }

  private take(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3)
      if (this.buffered.length < 9 + length) return
      const received: Frame = {
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      }
      this.buffered = this.buffered.subarray(9 + length)
      this.received.push(received)
      if (received.type === frameType.settings && (received.flags & flag.ack) === 0) this.send(frame(frameType.settings, flag.ack, 0, Buffer.alloc(0)))
      if (received.type === frameType.ping && (received.flags & flag.ack) === 0) this.send(frame(frameType.ping, flag.ack, 0, received.payload))
    }
  }
}
