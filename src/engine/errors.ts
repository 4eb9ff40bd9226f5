/**
 * Typed errors of the storage engine.
 *
 * Codes are stable strings and part of the public contract; messages may change between versions.
 * The server maps each code to a gRPC status in one exhaustive switch, so adding a code here is a
 * compile error there until it is mapped.
 *
 * Programmer mistakes inside the engine are failed assertions (`AssertionError`) or other
 * exceptions: where the engine catches one (the compaction worker, a step that cannot be undone),
 * it fails the store closed with INTERNAL, never with IO_ERROR, and keeps its stack.
 */

export const errorCodes = [
  /** A write named a document or node that does not exist, or a node of another document. */
  'NOT_FOUND',
  /** An argument is malformed regardless of the store's state (bad value, bad id, bad option). */
  'INVALID_ARGUMENT',
  /** The thing to create exists already (an expected output set twice). */
  'ALREADY_EXISTS',
  /** A named limit was exceeded; the message names the limit and its value. */
  'LIMIT_EXCEEDED',
  /**
   * A conditional write found its target at another version than the expected one; the message
   * names the current version. Nothing was written.
   */
  'VERSION_MISMATCH',
  /**
   * A watch asked for changes from a revision the store no longer holds; the message names the
   * oldest revision it holds. Read the current state, then watch from its revision.
   */
  'REVISION_UNAVAILABLE',
  /** Stored bytes failed their checksum: the record is lost and is never served as data. */
  'CORRUPTION',
  /** The store is closed, closing, or failed after an I/O error and must be reopened. */
  'UNAVAILABLE',
  /** Another process holds the store's lock file. */
  'LOCKED',
  /** The operating system refused a read, write or sync. */
  'IO_ERROR',
  /** The folder holds files of a format this version cannot read. */
  'UNSUPPORTED_FORMAT',
  /** A bug: an assertion or unexpected exception inside the engine. The store fails closed. */
  'INTERNAL',
  /**
   * The disk has no room for this write. Nothing of it was written; reads go on, and writes are
   * accepted again as soon as there is room (no reopen needed).
   */
  'DISK_FULL',
] as const

export type ErrorCode = (typeof errorCodes)[number]

export class StratumError extends Error {
  override readonly name = 'StratumError'
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * A record whose checksum failed, or that was lost in a damaged stretch of the log. Carries where
 * the damage is, when that is known, for reports and logs.
 */
export class CorruptionError extends StratumError {
  readonly segmentNumber: number | undefined
  readonly offset: number | undefined

  constructor(message: string, where?: { segmentNumber: number; offset: number }) {
    super('CORRUPTION', message)
    this.segmentNumber = where?.segmentNumber
    this.offset = where?.offset
  }
}

/** The process that holds a store's lock, as its lock file names it. */
export interface LockHolder {
  pid: number
  /** The host it runs on. */
  host: string
  /** When it started, where this host can tell (the holder runs here, and /proc is mounted). */
  startedAt: Date | undefined
}

/** LOCKED: another process holds the store. Names it when the lock file does (`holder`). */
export class LockedError extends StratumError {
  constructor(
    message: string,
    readonly holder: LockHolder | undefined,
  ) {
    super('LOCKED', message)
  }
}

/** A write refused because the disk is full: it names the file and the bytes it needed. */
export class DiskFullError extends StratumError {
  constructor(
    readonly path: string,
    readonly bytesNeeded: number,
    cause: unknown,
  ) {
    super(
      'DISK_FULL',
      `disk full: ${path} needs ${bytesNeeded} more bytes; free space on its volume (writes resume by themselves) ` +
        'or move the data folder',
      { cause },
    )
  }
}

/** True for an error saying the disk (or the user's quota on it) has no room. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export function isStratumError(error: unknown): error is StratumError {
  return error instanceof StratumError
}

export function notFound(message: string): StratumError {
  return new StratumError('NOT_FOUND', message)
}

export function invalidArgument(message: string): StratumError {
  return new StratumError('INVALID_ARGUMENT', message)
}

export function limitExceeded(message: string): StratumError {
  return new StratumError('LIMIT_EXCEEDED', message)
}

/** What an error thrown inside the engine means, as far as it can be carried across a thread. */
export interface Failure {
  code: ErrorCode
  message: string
  /** The stack of a bug, to be logged. */
  stack: string | undefined
  /** Where the damage is, for a CORRUPTION. */
  segmentNumber: number | undefined
}

/**
 * Classifies an error caught inside the engine: a StratumError keeps its code; an error of the
 * operating system (it has an errno code such as ENOSPC or EIO) is IO_ERROR, DISK_FULL for no
 * room; anything else (a failed assertion, a TypeError) is a bug: INTERNAL, with its stack.
 */
export function failureOf(error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof StratumError) {
    return { code: error.code, message, stack: undefined, segmentNumber: error instanceof CorruptionError ? error.segmentNumber : undefined }
  }
  if (isSystemError(error)) return { code: isDiskFull(error) ? 'DISK_FULL' : 'IO_ERROR', message, stack: undefined, segmentNumber: undefined }
  return { code: 'INTERNAL', message, stack: error instanceof Error ? error.stack : undefined, segmentNumber: undefined }
}

/** True for an error the operating system raised: it carries an errno code (`ENOSPC`, `EIO`, …). */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  if (!(error instanceof Error)) return false
  const code = (error as NodeJS.ErrnoException).code
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)
}

/**
 * An error caught at the edge of the engine's API as a StratumError: a StratumError as it is; an
 * error of the operating system as IO_ERROR (DISK_FULL for no room), and anything else (a bug)
 * as INTERNAL; `doing` says what was being done. The original is kept as the cause.
 */
export function asStratumError(error: unknown, doing: string): StratumError {
  if (error instanceof StratumError) return error
  const message = error instanceof Error ? error.message : String(error)
  if (isDiskFull(error)) return new StratumError('DISK_FULL', `disk full while ${doing}: ${message}`, { cause: error })
  if (isSystemError(error)) return new StratumError('IO_ERROR', `${doing}: ${message}`, { cause: error })
  return new StratumError('INTERNAL', `internal error while ${doing}: ${message}`, { cause: error })
}
