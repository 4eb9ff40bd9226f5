/**
 * The delivery of a call's responses, bounded in memory and in time.
 *
 * A response is written to the call's HTTP/2 stream, where it waits until the client's flow
 * control window lets it out. A client that never reads (a window of 0) would keep it there for
 * ever: 40 calls reading a 16 MiB statement held 1.2 GiB, uncharged. Here, in a server
 * interceptor:
 *
 * - What a call has written and the client has not yet taken is charged to the budget of the
 *   requests in flight (request-memory.ts), so that new requests are refused RESOURCE_EXHAUSTED
 *   while undelivered answers hold the memory, and returned as the client takes it.
 * - A response must be delivered within `responseSendTimeoutMs`: bytes left undelivered that long
 *   (the stream never empties) close the stream (RST_STREAM CANCEL), which frees them.
 * - Sooner when the memory is needed: a request the budget would refuse first has the answers
 *   that have waited longest dropped the same way, as many as it takes (`reclaim`). Otherwise a
 *   client that opens calls and never reads (100 answers of 16 MiB held 1.6 GiB) would keep
 *   every other client's requests out until its answers timed out, and could start again.
 * - A call with streams both ways (reflection) gets its next request only once the answers to
 *   the previous ones have left. grpc-js writes one answer to the HTTP/2 stream at a time and
 *   keeps the others in the call's own buffer, unseen and uncharged; reflection answers every
 *   request whether or not its client reads, so a client that sends requests without reading
 *   made that buffer grow without bound. Held here, the next request is not read, grpc-js stops
 *   reading the stream, and HTTP/2 flow control stops the client.
 *
 * Streams with bytes waiting are looked at every `checkIntervalMs` (a fraction of the timeout);
 * on loopback and fast links a response leaves at once, and nothing is tracked.
 */
import * as grpc from '@grpc/grpc-js'
import http2 from 'node:http2'
import type { Logger } from 'pino'
import type { RequestMemoryBudget } from './request-memory.ts'
import { http2StreamOf } from './request-receipt.ts'

export interface DeliveryLimits {
  /** Time bytes written to a call may stay undelivered before the call is closed. */
  responseSendTimeoutMs: number
}

/** How often a request held for its call's earlier answers looks again, at first and at most. */
const heldRequestFirstCheckMs = 1
const heldRequestCheckMaxMs = 1000

/** A stream with bytes its client has not taken yet. */
interface Waiting {
  readonly method: string
  /** When its bytes started waiting (it has not been empty since). */
  readonly sinceMs: number
  /** Bytes charged to the budget for it. */
  chargedBytes: number
}

export class ResponseDelivery {
  private readonly waiting = new Map<http2.ServerHttp2Stream, Waiting>()
  /** Streams whose close already forgets them. */
  private readonly watchedForClose = new WeakSet<http2.ServerHttp2Stream>()
  private timer: NodeJS.Timeout | undefined
  private readonly checkIntervalMs: number

  constructor(
    private readonly budget: RequestMemoryBudget,
    private readonly limits: DeliveryLimits,
    private readonly logger: Logger,
  ) {
    this.checkIntervalMs = Math.max(10, Math.min(1000, Math.floor(limits.responseSendTimeoutMs / 4)))
    budget.setReclaimer((bytes) => this.reclaim(bytes))
  }

  /** Bytes waiting on streams now, as last looked at. */
  get unsentBytes(): number {
    let total = 0
    for (const waiting of this.waiting.values()) total += waiting.chargedBytes
    return total
  }

  interceptor(): grpc.ServerInterceptor {
    return (methodDescriptor, call) => {
      const method = methodDescriptor.path.replace(/^\//, '')
      const stream = http2StreamOf(call)
      const listener = new grpc.ServerListenerBuilder()
        .withOnReceiveMessage((message, next) => {
          if (methodDescriptor.requestStream && methodDescriptor.responseStream) this.afterAnswersLeft(stream, () => next(message))
          else next(message)
        })
        .build()
      const responder = new grpc.ResponderBuilder()
        .withStart((next) => next(listener))
        .withSendMessage((message, next) => {
          next(message)
          // grpc-js writes the serialized response to the stream before returning.
          this.written(stream, method)
        })
        .build()
      return new grpc.ServerInterceptingCall(call, responder)
    }
  }

  /** Closes the streams still waiting, returning their charge (the server is stopping). */
  close(): void {
    for (const stream of [...this.waiting.keys()]) this.forget(stream)
    clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Runs `deliver` once nothing written to `stream` waits any more (at once, usually), looking
   * again after 1, 2, 4... ms up to a second. A stream closed meanwhile drops it: the call is over.
   */
  private afterAnswersLeft(stream: http2.ServerHttp2Stream, deliver: () => void): void {
    let delayMs = heldRequestFirstCheckMs
    const attempt = (): void => {
      if (stream.destroyed) return
      if (stream.writableLength === 0) {
        deliver()
        return
      }
      setTimeout(attempt, delayMs).unref()
      delayMs = Math.min(delayMs * 2, heldRequestCheckMaxMs)
    }
    attempt()
  }

  private written(stream: http2.ServerHttp2Stream, method: string): void {
    if (stream.closed || stream.destroyed) return
    const unsentBytes = stream.writableLength
    if (unsentBytes === 0) return
    let waiting = this.waiting.get(stream)
    if (waiting === undefined) {
      waiting = { method, sinceMs: performance.now(), chargedBytes: 0 }
      this.waiting.set(stream, waiting)
      // Once per stream: a long stream of answers (Watch) starts and stops waiting again and again.
      if (!this.watchedForClose.has(stream)) {
        this.watchedForClose.add(stream)
        stream.once('close', () => this.forget(stream))
      }
      this.timer ??= setInterval(() => this.check(), this.checkIntervalMs).unref()
    }
    this.charge(waiting, unsentBytes)
  }

  private check(): void {
    const nowMs = performance.now()
    for (const [stream, waiting] of this.waiting) {
      const unsentBytes = stream.destroyed ? 0 : stream.writableLength
      if (unsentBytes === 0) {
        this.forget(stream)
      } else if (nowMs - waiting.sinceMs > this.limits.responseSendTimeoutMs) {
        this.logger.info(
          { method: waiting.method, unsentBytes },
          `closed a call whose client did not take its response within responseSendTimeoutMs = ${this.limits.responseSendTimeoutMs} ms`,
        )
        this.reset(stream)
      } else {
        this.charge(waiting, unsentBytes)
      }
    }
    if (this.waiting.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  /** Drops answers waiting for their clients, longest first, until `bytes` are freed or none is left. */
  private reclaim(bytes: number): void {
    let freedBytes = 0
    // The map keeps the order in which streams started waiting.
    for (const [stream, waiting] of this.waiting) {
      if (freedBytes >= bytes) break
      freedBytes += waiting.chargedBytes
      this.logger.info(
        { method: waiting.method, unsentBytes: waiting.chargedBytes },
        'closed a call whose client had not taken its response, to make room for a new request (requestsInFlightMaxBytes)',
      )
      this.reset(stream)
    }
  }

  private charge(waiting: Waiting, unsentBytes: number): void {
    this.budget.charge(unsentBytes - waiting.chargedBytes)
    waiting.chargedBytes = unsentBytes
  }

  private reset(stream: http2.ServerHttp2Stream): void {
    this.forget(stream)
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL)
  }

  private forget(stream: http2.ServerHttp2Stream): void {
    const waiting = this.waiting.get(stream)
    if (waiting === undefined) return
    this.waiting.delete(stream)
    this.budget.cancel(waiting.chargedBytes)
  }
}
