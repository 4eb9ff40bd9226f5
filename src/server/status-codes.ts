/**
 * The one place where engine error codes become gRPC status codes.
 *
 * The switch is exhaustive: adding a code to src/engine/errors.ts is a compile error here until
 * it is mapped. INTERNAL is kept for bugs (errors that are not StratumErrors), so that an
 * INTERNAL in a log or a client always means a defect of the server, never a bad request or a
 * failing disk.
 */
import { status } from '@grpc/grpc-js'
import type { ErrorCode } from '../engine/index.ts'

export function grpcStatusOf(code: ErrorCode): status {
  switch (code) {
    case 'NOT_FOUND':
      // An unknown id, or a test case named with a problem it does not belong to.
      return status.NOT_FOUND
    case 'INVALID_ARGUMENT':
      // Malformed whatever the store holds: a bad value, id, column name or option.
      return status.INVALID_ARGUMENT
    case 'ALREADY_EXISTS':
      // An expected output set twice.
      return status.ALREADY_EXISTS
    case 'LIMIT_EXCEEDED':
      // Over a named limit. RESOURCE_EXHAUSTED rather than INVALID_ARGUMENT: it is the code the
      // transport itself gives a message over its size limit, so one code covers every "too big".
      return status.RESOURCE_EXHAUSTED
    case 'VERSION_MISMATCH':
      // A conditional write lost a race: the client must read again before it retries, which is
      // what FAILED_PRECONDITION asks (etcd and Firestore answer the same).
      return status.FAILED_PRECONDITION
    case 'REVISION_UNAVAILABLE':
      // A watch from a revision older than the history held: the range asked for is past what
      // exists, as etcd answers a watch from a compacted revision.
      return status.OUT_OF_RANGE
    case 'CORRUPTION':
      // A record failed its checksum: unrecoverable loss of that record, never served as data.
      return status.DATA_LOSS
    case 'UNAVAILABLE':
      // The store is closing or closed (the server is shutting down): retry later or elsewhere.
      return status.UNAVAILABLE
    case 'LOCKED':
      // Another process holds the store. Retrying the call cannot help until an operator acts,
      // which is what FAILED_PRECONDITION says (UNAVAILABLE would invite retries).
      return status.FAILED_PRECONDITION
    case 'IO_ERROR':
      // The operating system refused a read, write or sync (disk full, EIO). UNAVAILABLE, not
      // INTERNAL: the server is sound but cannot serve until the disk is fixed and the store
      // reopened; clients may back off and retry, possibly on another replica.
      return status.UNAVAILABLE
    case 'UNSUPPORTED_FORMAT':
      // The folder holds files this version cannot read: an upgrade or migration is needed first.
      return status.FAILED_PRECONDITION
    case 'DISK_FULL':
      // No room on the disk for this write: like a limit, the request cannot be served now; reads
      // still are, and writes are accepted again once the disk has room (no restart).
      return status.RESOURCE_EXHAUSTED
    case 'INTERNAL':
      // A bug inside the engine (a failed assertion in the compaction worker, say): the store
      // failed closed and must be reopened. Never an answer to bad input.
      return status.INTERNAL
    default:
      return unmapped(code)
  }
}

function unmapped(code: never): never {
  throw new Error(`engine error code ${String(code)} has no gRPC status`)
}
