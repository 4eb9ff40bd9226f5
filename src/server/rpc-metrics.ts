/**
 * Counts every call by method and status code, and times it, in a server interceptor placed
 * first (nearest the transport): every status the server sends passes through it, those of calls
 * refused before their handler ran (a token check, a malformed request, one over its method's
 * limit, the memory budget) included.
 *
 * grpc-js answers a few calls itself, below every interceptor: a deadline that passed, a message
 * over the transport's limit (requestMaxBytes), a `grpc-timeout` or compressed message it cannot
 * read. The interceptor sees only that such a call
 * ended without a status of the server's; it counts it as DEADLINE_EXCEEDED when its deadline has
 * passed and as CANCELLED otherwise (a client that went away is the common case). A call to a
 * method the server does not have never reaches an interceptor, which keeps the `method` label to
 * the methods served.
 */
import * as grpc from '@grpc/grpc-js'
import { Counter, Histogram, type Registry } from 'prom-client'

/** From half a millisecond (a cached read) to ten seconds (a large write on a slow disk). */
const rpcDurationBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export function rpcMetricsInterceptor(registry: Registry): grpc.ServerInterceptor {
  const requests = new Counter({
    name: 'stratum_rpc_requests_total',
    help: 'Calls answered, by method (package.Service/Method) and gRPC status code',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  })
  const durations = new Histogram({
    name: 'stratum_rpc_duration_seconds',
    help: 'Time from a call\'s arrival to its status, by method',
    labelNames: ['method'] as const,
    buckets: rpcDurationBucketsSeconds,
    registers: [registry],
  })
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path.replace(/^\//, '')
    const startedMs = performance.now()
    let answered = false
    const answer = (code: grpc.status): void => {
      if (answered) return
      answered = true
      requests.inc({ method, code: codeName(code) })
      durations.observe({ method }, (performance.now() - startedMs) / 1000)
    }
    // The end of every call, after its status when one was sent (then `answered` is set already).
    const listener = new grpc.ServerListenerBuilder()
      .withOnCancel(() => answer(deadlinePassed(call.getDeadline()) ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED))
      .build()
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        answer(status.code)
        next(status)
      })
      .build()
    return new grpc.ServerInterceptingCall(call, responder)
  }
}

/** `NOT_FOUND` for 5: the name clients and grpc tools show. A code outside the enum is UNKNOWN, as clients read it. */
function codeName(code: grpc.status): string {
  return grpc.status[code] ?? 'UNKNOWN'
}

function deadlinePassed(deadline: grpc.Deadline): boolean {
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline
  return Date.now() >= deadlineMs
}
