/**
 * Request deserializers that never throw.
 *
 * grpc-js answers INTERNAL when a deserializer throws, which would blame the server for a bad
 * request. A request over its method's size limit never gets here: request-receipt.ts refuses it
 * from its length prefix, before its body arrives. These check a request's bytes against its
 * type (wire-check.ts) first, re-encode it canonically by protobuf's parsing rules
 * (canonical-request.ts) so that protobufjs decodes what the reference implementations would, and hand the handler a `MalformedRequest` instead of throwing; the
 * handler answers it with its status (see unary-call.ts).
 *
 * Before decoding, a request's list items are counted from its bytes (at most requestItemsMax) and
 * what it will hold in memory is charged to the budget of all requests in flight; the handler's
 * caller releases it (unary-call.ts).
 */
import { status } from '@grpc/grpc-js'
import type { Deserialize } from '@grpc/proto-loader'
import { lseServiceName, loadLseRoot, type LseMethodDefinition, type LseRpcName } from '../protocol/proto-definition.ts'
import { limits } from '../engine/index.ts'
import { canonicalRequest, countRequestItems, countTopLevelField, requestItemsMax } from './canonical-request.ts'
import { requestMemoryBytes, type RequestMemoryBudget } from './request-memory.ts'
import { findWireProblem } from './wire-check.ts'

export class MalformedRequest {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {}
}

export function strictDeserializer(name: LseRpcName, method: LseMethodDefinition, budget: RequestMemoryBudget): Deserialize<object> {
  const requestType = loadLseRoot().lookupService(lseServiceName).methods[name]?.resolvedRequestType
  if (requestType === undefined || requestType === null) throw new Error(`no request type for ${name}`)
  const decode = method.requestDeserialize
  return (bytes: Buffer): object => {
    const problem = findWireProblem(requestType, bytes)
    if (problem !== undefined) return new MalformedRequest(status.INVALID_ARGUMENT, `malformed ${requestType.name}: ${problem}`)
    const items = countRequestItems(requestType, bytes)
    if (items > requestItemsMax) {
      return new MalformedRequest(
        status.RESOURCE_EXHAUSTED,
        `${requestType.name}: the request holds more than ${requestItemsMax} items (list items, map entries, columns and messages; requestItemsMax); send fewer`,
      )
    }
    // A Commit over batchMaxOperations would be refused once decoded: refused here, it costs no decoding.
    if (name === 'Commit' && countTopLevelField(requestType, bytes, 'operations', limits.batchMaxOperations) > limits.batchMaxOperations) {
      return new MalformedRequest(
        status.RESOURCE_EXHAUSTED,
        `a Commit holds at most ${limits.batchMaxOperations} operations (batchMaxOperations), got more: split it`,
      )
    }
    const heldBytes = requestMemoryBytes(bytes.length, items)
    if (!budget.tryReserve(heldBytes)) {
      return new MalformedRequest(
        status.RESOURCE_EXHAUSTED,
        `the server is busy: requests in flight hold ${budget.held} bytes and this one needs ${heldBytes} more ` +
          `(requestsInFlightMaxBytes = ${budget.maxBytes}); retry with backoff`,
      )
    }
    let request: object
    try {
      // protobufjs misreads some legal encodings (padded varints, repeated oneof members, split
      // message fields): it decodes the canonical form, which means the same (canonical-request.ts).
      request = decode(canonicalRequest(requestType, bytes))
    } catch (error) {
      budget.cancel(heldBytes)
      return new MalformedRequest(status.INVALID_ARGUMENT, `malformed ${requestType.name}: ${(error as Error).message}`)
    }
    budget.attach(request, heldBytes)
    return request
  }
}
