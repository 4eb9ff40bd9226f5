/**
 * Turns a handler (request → promise of response) into a grpc-js unary handler, with what every
 * call needs: malformed requests answered with their status, no new work once shutdown began,
 * no work at all for a call whose deadline passed or that was cancelled before it started, errors
 * mapped to statuses, and the call counted in flight until its response is handed to grpc-js.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js'
import type { Logger } from 'pino'
import { toStatus } from './call-error.ts'
import { MalformedRequest } from './strict-requests.ts'

export interface CallGate {
  /** False once shutdown began: new calls are answered UNAVAILABLE. */
  readonly accepting: boolean
  /** Counts a call in flight until `done` settles. */
  track(done: Promise<void>): void
}

export function unaryCall<Request, Response>(
  method: string,
  handler: (request: Request) => Promise<Response>,
  gate: CallGate,
  logger: Logger,
): (call: ServerUnaryCall<Request | MalformedRequest, Response>, callback: sendUnaryData<Response>) => void {
  return (call, callback) => {
    const request = call.request
    if (request instanceof MalformedRequest) {
      logger.debug({ method, grpcCode: status[request.code] }, 'malformed request')
      callback({ code: request.code, details: request.details })
      return
    }
    if (!gate.accepting) {
      callback({ code: status.UNAVAILABLE, details: 'the server is shutting down' })
      return
    }
    if (call.cancelled) {
      callback({ code: status.CANCELLED, details: `${method} was cancelled before it started; it was not executed` })
      return
    }
    if (deadlinePassed(call.getDeadline())) {
      callback({ code: status.DEADLINE_EXCEEDED, details: `the deadline passed before ${method} started; it was not executed` })
      return
    }
    gate.track(
      handler(request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error, method, logger)),
      ),
    )
  }
}

/** grpc-js gives a deadline as a Date, or a number of ms since the epoch (Infinity for none). */
export function deadlinePassed(deadline: Date | number): boolean {
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline
  return deadlineMs <= Date.now()
}
