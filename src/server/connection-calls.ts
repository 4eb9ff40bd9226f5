/**
 * Tells the connection listener when each call starts and ends on its connection, so that at
 * connectionsMax it can close a connection that has no call rather than refuse a new client
 * (connection-listener.ts). A call ends when its HTTP/2 stream closes: answered, cancelled or
 * reset, whichever comes first; the stream's close comes once for every call.
 *
 * Only unary calls count: they end by themselves (requestReceiveTimeoutMs bounds the slow ones).
 * A streaming call (a health Watch, reflection) may stay open for ever, and anyone may open one
 * without a token: counted, it would keep its connection from ever being evicted.
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
    if (!stream.closed) {
      connections.callStarted(remote)
      stream.once('close', () => connections.callEnded(remote))
    }
    return new grpc.ServerInterceptingCall(call)
  }
}
