/**
 * The one error type of the client: a gRPC status code, its name, and the server's details.
 * Arguments the wire cannot carry (a non-integer id, a lone surrogate) are refused before any
 * call, with INVALID_ARGUMENT, as the server would refuse them.
 */
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js'

export { status as StatusCode }

export class StratumClientError extends Error {
  override readonly name = 'StratumClientError'
  /** The gRPC status code, e.g. `StatusCode.NOT_FOUND` (5). */
  readonly code: status
  /** The status code's name, e.g. 'NOT_FOUND'. */
  readonly codeName: string
  /** The server's (or the client's) explanation. */
  readonly details: string
  /** Trailing metadata of the failed call, when it reached a server. */
  readonly metadata: Metadata | undefined
  /** The RPC that failed, e.g. 'GetProblemHtml'. */
  readonly method: string

  constructor(method: string, code: status, details: string, metadata?: Metadata) {
    const codeName = status[code] ?? `status ${code}`
    super(`${method}: ${codeName}: ${details}`)
    this.method = method
    this.code = code
    this.codeName = codeName
    this.details = details
    this.metadata = metadata
  }

  static fromServiceError(method: string, error: ServiceError): StratumClientError {
    return new StratumClientError(method, error.code, error.details, error.metadata)
  }
}

export function isStratumClientError(error: unknown): error is StratumClientError {
  return error instanceof StratumClientError
}
