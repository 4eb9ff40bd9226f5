/**
 * Checks the bearer token of every LseService call, before its message is read: a missing or
 * unknown token is UNAUTHENTICATED, a token whose role does not allow the method is
 * PERMISSION_DENIED. The check runs on the call's metadata, so a refused call costs no decoding
 * and no memory budget. Health checking and reflection stay open (a load balancer, a container's
 * HEALTHCHECK and `buf curl --list-methods` carry no token). Tokens are never logged; the name of
 * the token's line is.
 */
import * as grpc from '@grpc/grpc-js'
import type { Logger } from 'pino'
import { lseServiceName, type LseRpcName } from '../protocol/proto-definition.ts'
import { findToken, type TokenEntry } from './access-tokens.ts'
import { methodRoles, roleAllows } from './method-roles.ts'

const servicePrefix = `/${lseServiceName}/`
const bearer = /^Bearer ([^\s]+)$/

/** Why a call may not run, or undefined when it may. */
export function tokenProblem(entries: readonly TokenEntry[], method: LseRpcName, authorization: string | undefined): grpc.StatusObject | undefined {
  const problem = (code: grpc.status, details: string): grpc.StatusObject => ({ code, details, metadata: new grpc.Metadata() })
  if (authorization === undefined) {
    return problem(grpc.status.UNAUTHENTICATED, `${method} needs a token: send the metadata "authorization: Bearer <token>" (clients: --token or LSE_TOKEN)`)
  }
  const token = bearer.exec(authorization)?.[1]
  if (token === undefined) return problem(grpc.status.UNAUTHENTICATED, 'the authorization metadata must be "Bearer <token>"')
  const entry = findToken(entries, token)
  if (entry === undefined) return problem(grpc.status.UNAUTHENTICATED, 'unknown token: it is not in the server\'s token file')
  const needed = methodRoles[method]
  if (!roleAllows(entry.role, needed)) {
    return problem(grpc.status.PERMISSION_DENIED, `${method} needs a token of role ${needed} or above; this token (${entry.name || 'unnamed'}) has role ${entry.role}`)
  }
  return undefined
}

/** A server interceptor checking tokens against `entries()` (read at each call, so that a reload applies at once). */
export function tokenCheckInterceptor(entries: () => readonly TokenEntry[] | undefined, logger: Logger): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const path = methodDescriptor.path
    const current = entries()
    if (current === undefined || !path.startsWith(servicePrefix)) return new grpc.ServerInterceptingCall(call)
    const method = path.slice(servicePrefix.length) as LseRpcName
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const authorization = metadata.get('authorization')[0]
        const problem = tokenProblem(current, method, typeof authorization === 'string' ? authorization : undefined)
        if (problem === undefined) {
          next(metadata)
          return
        }
        logger.info({ method, grpcCode: grpc.status[problem.code] }, 'call refused by the token check')
        // The message is never read: the handler does not start, so nothing asks for it.
        call.sendStatus(problem)
      })
      .build()
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build())
  }
}
