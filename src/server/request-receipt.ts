/**
 * The receipt of a call's request, bounded in memory and in time.
 *
 * grpc-js reads a request as it arrives and keeps the part received until its last byte (up to
 * the transport's limit, requestMaxBytes, on each of streamsPerConnectionMax streams of every
 * connection), then decodes it and keeps it until the client half-closes the stream; only then
 * does the handler run. A client could hold that memory for ever: send all but the last byte, or
 * the whole message without the half-close. Here, in a server interceptor:
 *
 * - The bytes of a request message still arriving are charged to the budget of the requests in
 *   flight (request-memory.ts) as they arrive. Past the budget, the call is refused
 *   RESOURCE_EXHAUSTED and its stream reset, so the client stops sending. When the message is
 *   whole its charge is returned, in the same event: the decoded request is charged instead by
 *   the deserializer (strict-requests.ts), which grpc-js runs in a microtask after that event.
 * - A unary call must be received whole, its message and its half-close, within
 *   `requestReceiveTimeoutMs` of its start; a call with a stream of requests (reflection), each
 *   message within that time of its first byte. Otherwise it is answered DEADLINE_EXCEEDED, its
 *   stream is reset, and the memory its request was charged is returned.
 * - A message whose length prefix declares more than its method's limit (message-limits.ts; 4 KiB
 *   for the health and reflection services, which need no token) is refused RESOURCE_EXHAUSTED
 *   from its first 5 bytes: its body is never received or charged.
 * - A message flagged compressed is refused UNIMPLEMENTED before it is inflated: a few KiB of gzip
 *   can inflate to the transport's limit, which nothing could charge before it is decoded.
 * - A call with one request (unary, Watch) that sends none, a second one, or ends inside one is
 *   INVALID_ARGUMENT, saying so; grpc-js would answer UNIMPLEMENTED ("Received no request
 *   message for server streaming method"), which says the method does not exist.
 *
 * The interceptor reads the call's HTTP/2 stream, which grpc-js keeps in a field of its innermost
 * call object: there is no other way to see bytes before the message is whole. The grpc-js version
 * is locked, and the tests of this module fail if the field moves.
 */
import * as grpc from '@grpc/grpc-js'
import http2 from 'node:http2'
import { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { lseServiceName, type LseRpcName } from '../protocol/proto-definition.ts'
import { requestMaxBytesByMethod, smallRequestMaxBytes } from './message-limits.ts'
import type { RequestMemoryBudget } from './request-memory.ts'

/** gRPC's message prefix: a compressed flag and a 4-byte big-endian length (gRPC over HTTP/2, "Length-Prefixed-Message"). */
const messagePrefixBytes = 5

export interface ReceiptLimits {
  /** Time a call has, from its start, to send its request whole and half-close. */
  requestReceiveTimeoutMs: number
}

/**
 * Follows the length-prefixed messages of one stream: how many bytes of the message now arriving
 * have been received, and whether a chunk completed it.
 */
export class MessageFraming {
  private readonly prefix = Buffer.alloc(messagePrefixBytes)
  private prefixReceived = 0
  private bodyRemaining = 0
  /** Bytes of the message now arriving, its prefix included, received so far. */
  partialBytes = 0
  /** Whether a message of the stream was flagged compressed. */
  compressed = false
  /** The largest length a message of the stream declared in its prefix. */
  declaredMaxBytes = 0
  /** Messages received whole. */
  messagesReceived = 0

  /** Takes a chunk of the stream; returns how many messages it completed. */
  take(chunk: Buffer): number {
    let completed = 0
    let offset = 0
    while (offset < chunk.length) {
      if (this.prefixReceived < messagePrefixBytes) {
        const taken = Math.min(messagePrefixBytes - this.prefixReceived, chunk.length - offset)
        chunk.copy(this.prefix, this.prefixReceived, offset, offset + taken)
        this.prefixReceived += taken
        this.partialBytes += taken
        offset += taken
        if (this.prefixReceived < messagePrefixBytes) break
        if (this.prefix[0] !== 0) this.compressed = true
        this.bodyRemaining = this.prefix.readUInt32BE(1)
        this.declaredMaxBytes = Math.max(this.declaredMaxBytes, this.bodyRemaining)
      } else {
        const taken = Math.min(this.bodyRemaining, chunk.length - offset)
        this.bodyRemaining -= taken
        this.partialBytes += taken
        offset += taken
      }
      if (this.prefixReceived === messagePrefixBytes && this.bodyRemaining === 0) {
        completed++
        this.messagesReceived++
        this.prefixReceived = 0
        this.partialBytes = 0
      }
    }
    return completed
  }
}

/** The HTTP/2 stream under a grpc-js server call, found through the chain of intercepting calls. */
export function http2StreamOf(call: grpc.ServerInterceptingCallInterface): http2.ServerHttp2Stream {
  let current: unknown = call
  // A handful of interceptors at most; the bound only guards against a cycle.
  for (let depth = 0; depth < 16 && typeof current === 'object' && current !== null; depth++) {
    const fields = current as { stream?: unknown; nextCall?: unknown }
    if (fields.stream instanceof Duplex && typeof (fields.stream as Partial<http2.ServerHttp2Stream>).respond === 'function') {
      return fields.stream as http2.ServerHttp2Stream
    }
    current = fields.nextCall
  }
  throw new Error('the HTTP/2 stream of a grpc-js call was not found: request-receipt.ts needs updating for this grpc-js version')
}

function malformedFraming(details: string): grpc.StatusObject {
  return { code: grpc.status.INVALID_ARGUMENT, details, metadata: new grpc.Metadata() }
}

/** A request's name in errors and its size limit: its LSE method's, or 4 KiB for the health and reflection services. */
function requestLimitOf(method: string): { name: string; maxBytes: number } {
  const [service, name] = method.split('/')
  if (service === lseServiceName && name !== undefined && name in requestMaxBytesByMethod) {
    return { name, maxBytes: requestMaxBytesByMethod[name as LseRpcName] }
  }
  return { name: method, maxBytes: smallRequestMaxBytes }
}

export function requestReceiptInterceptor(budget: RequestMemoryBudget, limits: ReceiptLimits, logger: Logger): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path.replace(/^\//, '')
    const limit = requestLimitOf(method)
    const stream = http2StreamOf(call)
    const framing = new MessageFraming()
    /** Bytes charged for the message now arriving. */
    let chargedBytes = 0
    /** The decoded request, charged by the deserializer, until the handler takes it (at the half-close). */
    let request: object | undefined
    let over = false

    const returnCharge = (): void => {
      budget.cancel(chargedBytes)
      chargedBytes = 0
    }
    const dropRequest = (): void => {
      if (request !== undefined) budget.release(request)
      request = undefined
    }
    /** The call is over for the receipt: nothing more is charged, the timers stop. */
    const stopMetering = (): void => {
      over = true
      returnCharge()
      stream.off('data', onData)
      clearTimeout(callTimer)
      clearTimeout(messageTimer)
    }
    const refuse = (status: grpc.StatusObject): void => {
      stopMetering()
      dropRequest()
      logger.info({ method, grpcCode: grpc.status[status.code] }, status.details)
      call.sendStatus(status)
      // RST_STREAM NO_ERROR: the response is complete, the client should stop sending (RFC 9113, 8.1).
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR)
    }
    const timedOut = (what: string): void =>
      refuse({
        code: grpc.status.DEADLINE_EXCEEDED,
        details: `${method}: ${what} within requestReceiveTimeoutMs = ${limits.requestReceiveTimeoutMs} ms; send each request at once`,
        metadata: new grpc.Metadata(),
      })
    // A unary call must arrive whole, its message and its half-close, in time. A call with a stream
    // of requests (reflection) may stay open, but each of its messages must arrive in time.
    const callTimer = methodDescriptor.requestStream
      ? undefined
      : setTimeout(() => timedOut('the request was not received whole (the message and the end of the stream)'), limits.requestReceiveTimeoutMs)
    callTimer?.unref()
    let messageTimer: NodeJS.Timeout | undefined

    const onData = (chunk: Buffer): void => {
      if (over) return
      const completed = framing.take(chunk)
      if (framing.compressed) {
        // Decompressed, a message of a few KiB can hold the transport's 16 MiB, uncharged until
        // it is decoded: refused before grpc-js inflates it (this listener runs first).
        refuse({
          code: grpc.status.UNIMPLEMENTED,
          details: `${method}: compressed requests are not accepted; send the request uncompressed (grpc-encoding identity)`,
          metadata: new grpc.Metadata(),
        })
        return
      }
      if (framing.declaredMaxBytes > limit.maxBytes) {
        // The one check of a request's size against its method's limit: what is refused here
        // never reaches the deserializer (strict-requests.ts).
        refuse({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `the ${limit.name} request is ${framing.declaredMaxBytes} bytes; its limit is ${limit.maxBytes} bytes`,
          metadata: new grpc.Metadata(),
        })
        return
      }
      if (!methodDescriptor.requestStream && framing.messagesReceived > 1) {
        refuse(malformedFraming(`the call sent a second request message; ${method} takes exactly one`))
        return
      }
      if (completed > 0) {
        // What arrived is now a whole message: the deserializer charges the decoded request.
        returnCharge()
      }
      if (methodDescriptor.requestStream) {
        if (framing.partialBytes === 0) {
          clearTimeout(messageTimer)
          messageTimer = undefined
        } else if (messageTimer === undefined) {
          messageTimer = setTimeout(() => timedOut('a message was not received whole'), limits.requestReceiveTimeoutMs)
          messageTimer.unref()
        }
      }
      const arriving = framing.partialBytes - chargedBytes
      if (arriving <= 0) return
      if (!budget.tryReserve(arriving, chargedBytes)) {
        refuse({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details:
            `the server is busy: requests in flight hold ${budget.held} bytes and this one needs ${arriving} more ` +
            `(requestsInFlightMaxBytes = ${budget.maxBytes}); retry with backoff`,
          metadata: new grpc.Metadata(),
        })
        return
      }
      chargedBytes += arriving
    }

    // Before grpc-js's own listener: a refused message is never decoded or inflated, and the
    // charge of a whole one is returned before the deserializer (a microtask later) charges it.
    stream.prependListener('data', onData)
    // The end of a call with one request: before grpc-js's listener, which would answer a missing
    // message UNIMPLEMENTED.
    if (!methodDescriptor.requestStream) {
      stream.prependOnceListener('end', () => {
        if (over) return
        if (framing.partialBytes > 0) {
          refuse(malformedFraming(`the call ended inside its request message (${framing.partialBytes} bytes of it received); send the whole message`))
        } else if (framing.messagesReceived === 0) {
          refuse(malformedFraming(`the call ended without a request message; ${method} takes exactly one`))
        }
      })
    }
    // Half-closed: the handler starts, and takes over the request and its charge.
    stream.once('end', () => {
      clearTimeout(callTimer)
      request = undefined
    })
    stream.once('close', () => {
      stopMetering()
      // A request the handler never took (the call ended before its half-close).
      dropRequest()
    })
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMessage((message: unknown, next) => {
        // A second message of a unary call is an error grpc-js answers: the first is not run either.
        dropRequest()
        if (typeof message === 'object' && message !== null) request = message
        next(message)
      })
      .build()
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        // Answered (a refused token, say): what the client still sends is read and dropped by
        // grpc-js, and is charged no more.
        if (!over) stopMetering()
        next(status)
      })
      .build()
    return new grpc.ServerInterceptingCall(call, responder)
  }
}
