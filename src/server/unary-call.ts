/**
 * Turns a handler (request → promise of response) into a grpc-js unary handler, with what every
 * call needs: malformed requests answered with their status, no new work once shutdown began,
 * no work at all for a call whose deadline passed or that was cancelled before it started, errors
 * mapped to statuses, the call counted in flight until its response is handed to grpc-js, and
 * the memory its request was charged (strict-requests.ts) released once it is answered.
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

/** Where the memory a decoded request was charged goes back (see request-memory.ts). */
export interface RequestRelease {
  release(request: object): void
}

const noRelease: RequestRelease = { release() {} }

export function unaryCall<Request, Response>(
  method: string,
  handler: (request: Request) => Promise<Response>,
  gate: CallGate,
  logger: Logger,
  memory: RequestRelease = noRelease,
): (call: ServerUnaryCall<Request | MalformedRequest, Response>, callback: sendUnaryData<Response>) => void {
  return (call, callback) => {
    const request = call.request
    if (request instanceof MalformedRequest) {
      logger.debug({ method, grpcCode: status[request.code] }, 'malformed request')
      callback({ code: request.code, details: request.details })
      return
    }
    if (!gate.accepting) {
      memory.release(request as object)
      callback({ code: status.UNAVAILABLE, details: 'the server is shutting down' })
      return
    }
    if (call.cancelled) {
      memory.release(request as object)
      callback({ code: status.CANCELLED, details: `${method} was cancelled before it started; it was not executed` })
      return
    }
    if (deadlinePassed(call.getDeadline())) {
      memory.release(request as object)
      callback({ code: status.DEADLINE_EXCEEDED, details: `the deadline passed before ${method} started; it was not executed` })
      return
    }
    gate.track(
      handler(request)
        .finally(() => memory.release(request as object))
        .then(
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
