/**
 * Tells the connection listener when a call's handler starts and ends on its connection, so that
 * at connectionsMax it can close a connection on which nothing runs rather than refuse a new
 * client (connection-listener.ts).
 *
 * A call runs from its half-close (its request is whole: the handler starts) until its handler
 * answers (its response or its status is handed to grpc-js), or its stream closes first
 * (cancelled, reset). Only that counts: it is bounded by the
 * engine's time. A call still receiving its request, or still delivering its answer, is paced by
 * its client, who could hold it open as long as the server allows (requestReceiveTimeoutMs,
 * responseSendTimeoutMs): counted, a flood of such calls, a few bytes each, would keep every
 * connection from being evicted and every new client out. The same holds for a call on an HTTP/2
 * session that has failed (a protocol error makes the session send GOAWAY and go silent until
 * keepalive closes it): its stream never closes, but it runs nothing.
 *
 * Only unary calls count: a streaming call (a health Watch, reflection) may stay open for ever,
 * and anyone may open one without a token.
 */
import * as grpc from '@grpc/grpc-js'
import { http2StreamOf } from './request-receipt.ts'

export interface ConnectionCalls {
  callStarted(remote: string): void
  callEnded(remote: string): void
}

export function connectionCallsInterceptor(connections: ConnectionCalls): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    if (methodDescriptor.requestStream || methodDescriptor.responseStream) return new grpc.ServerInterceptingCall(call)
    const { remoteAddress, remotePort } = call.getConnectionInfo()
    // The listener names connections the same way, from their socket.
    const remote = `${remoteAddress}|${remotePort}`
    const stream = http2StreamOf(call)
    let state: 'receiving' | 'running' | 'ended' = 'receiving'
    const end = (): void => {
      if (state === 'running') connections.callEnded(remote)
      state = 'ended'
    }
    stream.once('close', end)
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveHalfClose((next) => {
        if (state === 'receiving' && !stream.closed) {
          state = 'running'
          connections.callStarted(remote)
        }
        next()
      })
      .build()
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      // The response, not its delivery: grpc-js sends the status once the response is written,
      // which a client that never reads (or a failed session) can put off for ever.
      .withSendMessage((message, next) => {
        end()
        next(message)
      })
      .withSendStatus((status, next) => {
        end()
        next(status)
      })
      .build()
    return new grpc.ServerInterceptingCall(call, responder)
  }
}
