/**
 * Message size limits of the server, derived from the engine's limits so that every request the
 * engine accepts fits, and anything much larger is refused before it is decoded.
 *
 * A request over the transport limit is answered RESOURCE_EXHAUSTED by grpc-js itself; a request
 * under it but over its method's own limit is answered RESOURCE_EXHAUSTED before decoding (see
 * strict-requests.ts), so that, say, 16 MiB of packed varints sent to AddTestCase never become
 * millions of objects in memory.
 */
import { limits } from '../engine/index.ts'
import type { LseRpcName } from '../protocol/proto-definition.ts'

const KiB = 1024

/** Room for everything around the payload: ids, flags, tags and length prefixes. */
export const envelopeBytes = 64 * KiB

/**
 * The transport's limit (grpc.max_receive_message_length): a CreateProblem with the largest blob
 * and the largest metadata. A column costs at most 3 bytes more on the wire than in the engine's
 * encoding, 3 KiB for the most columns, well inside the envelope.
 */
export const requestMaxBytes = limits.blobMaxBytes + limits.metaMaxBytes + envelopeBytes

/** Largest response (grpc.max_send_message_length): a blob; test-case pages are cut to fit. */
export const responseMaxBytes = requestMaxBytes

/**
 * A request carrying one value. The wire encoding of a value is at most 10/8 of the engine's:
 * a negative int64 is a 10-byte varint where the engine stores 8 bytes.
 */
export const valueRequestMaxBytes = Math.ceil((limits.valueMaxBytes * 10) / 8) + envelopeBytes

/** A request of ids, flags and a page token only. */
export const smallRequestMaxBytes = 4 * KiB

export const requestMaxBytesByMethod: Record<LseRpcName, number> = {
  CreateProblem: requestMaxBytes,
  GetProblemHtml: smallRequestMaxBytes,
  GetProblemMeta: smallRequestMaxBytes,
  UpdateProblemHtml: limits.blobMaxBytes + envelopeBytes,
  UpdateProblemColumn: limits.metaMaxBytes + envelopeBytes,
  DeleteProblem: smallRequestMaxBytes,
  ListProblems: smallRequestMaxBytes,
  AddTestCase: valueRequestMaxBytes,
  GetTestCase: smallRequestMaxBytes,
  GetAllTestCases: smallRequestMaxBytes,
  UpdateTestCase: valueRequestMaxBytes,
  DeleteTestCase: smallRequestMaxBytes,
  SetExpectedOutput: valueRequestMaxBytes,
  GetExpectedOutput: smallRequestMaxBytes,
  UpdateExpectedOutput: valueRequestMaxBytes,
  DeleteExpectedOutput: smallRequestMaxBytes,
  GetStats: smallRequestMaxBytes,
  Flush: smallRequestMaxBytes,
  CompactNow: smallRequestMaxBytes,
  // A batch as large as the transport allows; a larger one must be split.
  Commit: requestMaxBytes,
  Watch: smallRequestMaxBytes,
}
