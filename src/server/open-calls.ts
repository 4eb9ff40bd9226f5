/**
 * A bound on the calls open at once on the whole server, all connections together (`callsMax`).
 *
 * Every open call holds memory from its headers to its end (its headers, and grpc-js's and
 * HTTP/2's state for it: about 18 KiB, more with large headers), and `streamsPerConnectionMax`
 * bounds them per connection only. Unary calls end by themselves (their receive and send
 * timeouts), but a streaming call need not: 4,096 connections each holding 100 health Watch
 * streams, which need no token, would hold gigabytes. At `callsMax`, a new call ends the
 * streaming call open longest (RST_STREAM CANCEL, which grpc-js turns into the handler's
 * `cancelled` event, so that it lets go of the call; the client sees CANCELLED and reconnects,
 * as a health watcher does when a server restarts), and when no streaming call is open, the new
 * call is refused RESOURCE_EXHAUSTED before anything of it is read.
 */
import * as grpc from '@grpc/grpc-js'
import http2 from 'node:http2'
import type { Logger } from 'pino'
import { http2StreamOf } from './request-receipt.ts'

export class OpenCalls {
  private openCount = 0
  /** The streaming calls open, in the order they started. */
  private readonly streaming = new Map<http2.ServerHttp2Stream, string>()

  constructor(
    readonly callsMax: number,
    private readonly logger: Logger,
  ) {}

  /** Calls open now. */
  get count(): number {
    return this.openCount
  }

  interceptor(): grpc.ServerInterceptor {
    return (methodDescriptor, call) => {
      const method = methodDescriptor.path.replace(/^\//, '')
      const stream = http2StreamOf(call)
      if (this.openCount >= this.callsMax && !this.endOldestStreaming(method)) {
        this.logger.info({ method, callsMax: this.callsMax }, 'call refused: callsMax calls are open')
        const listener = new grpc.ServerListenerBuilder()
          .withOnReceiveMetadata(() => {
            call.sendStatus({
              code: grpc.status.RESOURCE_EXHAUSTED,
              details: `the server has ${this.callsMax} calls open (callsMax); retry with backoff`,
              metadata: new grpc.Metadata(),
            })
          })
          .build()
        return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build())
      }
      this.openCount++
      if (methodDescriptor.requestStream || methodDescriptor.responseStream) this.streaming.set(stream, method)
      stream.once('close', () => {
        this.openCount--
        this.streaming.delete(stream)
      })
      return new grpc.ServerInterceptingCall(call)
    }
  }

  /** Ends the streaming call open longest, for a call of `method`; false when none is open. */
  private endOldestStreaming(method: string): boolean {
    const oldest = this.streaming.entries().next()
    if (oldest.done === true) return false
    const [stream, endedMethod] = oldest.value
    this.streaming.delete(stream)
    this.logger.info({ method, endedMethod, callsMax: this.callsMax }, 'ended the streaming call open longest for a new call: callsMax calls are open')
    // It counts as open until its stream has closed: the new call may go one over for that moment.
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL)
    return true
  }
}
