/**
 * Errors of a call, as the gRPC status the client receives.
 *
 * `CallError` is for what the server layer itself decides (a malformed id, a read of an unknown
 * id). `toStatus` turns anything a handler threw into a status: StratumErrors through
 * the mapping of status-codes.ts, everything else (a bug) into INTERNAL, logged loudly with its
 * stack. Logs carry the method, codes and engine messages (which name ids and limits), never the
 * request or the stored data.
 */
import { status, type ServerErrorResponse } from '@grpc/grpc-js'
import type { Logger } from 'pino'
import { CorruptionError, isStratumError } from '../engine/index.ts'
import { WireValueError } from '../protocol/value-wire.ts'
import { grpcStatusOf } from './status-codes.ts'

export class CallError extends Error {
  override readonly name = 'CallError'
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message)
  }
}

export function invalidArgument(message: string): CallError {
  return new CallError(status.INVALID_ARGUMENT, message)
}

export function notFound(message: string): CallError {
  return new CallError(status.NOT_FOUND, message)
}

/** The statuses that say the server or its disk is in trouble, logged as errors. */
const troubleStatuses: ReadonlySet<status> = new Set([status.DATA_LOSS, status.UNAVAILABLE, status.FAILED_PRECONDITION, status.INTERNAL])

export function toStatus(error: unknown, method: string, logger: Logger): ServerErrorResponse {
  if (error instanceof CallError) return { name: error.name, message: error.message, code: error.code, details: error.message }
  if (error instanceof WireValueError) {
    return { name: error.name, message: error.message, code: status.INVALID_ARGUMENT, details: error.message }
  }
  if (isStratumError(error)) {
    const code = grpcStatusOf(error.code)
    if (troubleStatuses.has(code)) {
      const where = error instanceof CorruptionError ? { segmentNumber: error.segmentNumber, offset: error.offset } : {}
      // A bug (engine code INTERNAL) is logged with its stack and that of its cause.
      const err = error.code === 'INTERNAL' ? error : error.message
      logger.error({ method, engineCode: error.code, grpcCode: status[code], ...where, err }, 'call failed')
    } else {
      logger.debug({ method, engineCode: error.code, grpcCode: status[code] }, 'call rejected')
    }
    return { name: error.name, message: error.message, code, details: error.message }
  }
  logger.error({ method, err: error }, 'BUG: unexpected error in a call; answered INTERNAL')
  return { name: 'Error', message: 'internal error', code: status.INTERNAL, details: `internal error in ${method}; see the server log` }
}
