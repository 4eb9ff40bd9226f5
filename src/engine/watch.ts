/**
 * A watcher of the store's changes (`Store.watch`): an async iterator over the change history
 * (change-history.ts), from a revision on, optionally of one problem.
 *
 * A watcher holds no copy of the changes, only a cursor (the next revision it may deliver) into
 * the history all watchers share, so a slow one costs no memory: it falls behind instead. Changes
 * the history no longer holds (dropped for room, or written before the store was opened) it reads
 * back from the log (change-log.ts), a window at a time; once a compaction has reclaimed those
 * too, it ends with LIMIT_EXCEEDED. It reads a change's value only when it delivers it, and only
 * when asked to.
 */
import type { ChangeEvent, ChangeValue, ProgressEvent, WatchEvent, WatchOptions } from './change-events.ts'
import type { ChangeHistory, HistoryEntry } from './change-history.ts'
import type { ChangeLog, ChangeLogReader } from './change-log.ts'
import { invalidArgument, limitExceeded, StratumError } from './errors.ts'

/** Default of `progressIntervalMs`. */
export const watchProgressIntervalDefaultMs = 10_000
/** Upper bound of `progressIntervalMs`: one hour. */
export const watchProgressIntervalMaxMs = 60 * 60 * 1000

/** What a watcher needs of the store. */
export interface WatchSource {
  readonly history: ChangeHistory
  /** The changes held in the log, for a watcher the history no longer reaches back to. */
  readonly log: ChangeLog
  openLog(): ChangeLogReader
  /** The store's revision now. */
  revision(): number
  /** What the change wrote, read from its records. */
  valueOf(entry: HistoryEntry): ChangeValue
  /** Throws UNAVAILABLE once the store is closing or failed. */
  checkOpen(): void
}

export interface ResolvedWatchOptions {
  fromRevision: number
  problemId: number | undefined
  withValues: boolean
  progressIntervalMs: number
}

export class Watch implements AsyncIterableIterator<WatchEvent> {
  /** The next revision this watcher may deliver: every change before it was delivered or skipped. */
  private cursor: number
  private closed = false
  private wakeClosed: (() => void) | undefined
  private readonly closedSignal: Promise<void>
  /** When the next progress event is due, if no change is delivered before. */
  private progressDueMs: number
  /** The record bytes of the change `next()` gave last, and of those `takeReady` added to it. */
  private lastRecordBytes = 0
  /** Serializes `next()` calls, as an async iterator must. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Reads the log while the cursor is older than the history's horizon. */
  private logReader: ChangeLogReader | undefined
  /** Where in the history the next entry was last found (ChangeHistory.positionFrom's hint). */
  private position = -1

  constructor(
    private readonly source: WatchSource,
    private readonly options: ResolvedWatchOptions,
  ) {
    this.cursor = options.fromRevision
    this.progressDueMs = Date.now() + options.progressIntervalMs
    this.closedSignal = new Promise((resolve) => (this.wakeClosed = resolve))
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const result = this.queue.then(() => this.pull())
    this.queue = result.catch(() => undefined)
    return result
  }

  /** Ends the watch: a `next()` waiting resolves as done, and so does every later one. */
  close(): void {
    this.closed = true
    this.wakeClosed?.()
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close()
    return Promise.resolve({ done: true, value: undefined })
  }

  /**
   * The changes ready now, after those `next()` gave, without waiting: at most `maxEvents`, and
   * (with values) none that would take the records of these and of the change `next()` gave last
   * past `maxBytes`, unless it is the only one. Empty when none is
   * ready, or the watch is closed or behind (its next `next()` says why). Call it between
   * `next()` calls, not while one is pending.
   */
  takeReady(maxEvents: number, maxBytes: number): ChangeEvent[] {
    const events: ChangeEvent[] = []
    // The change next() gave goes in the same response: its records count.
    let bytes = this.lastRecordBytes
    const history = this.source.history
    // One turn of the event loop: the log is read a slice at most, over all the events taken.
    this.logReader?.startTurn()
    while (events.length < maxEvents && !this.closed && !history.closed) {
      const entry = this.peekEntry()
      if (typeof entry !== 'object') break
      const entryBytes = recordBytesOf(entry)
      if (this.options.withValues && (events.length > 0 || bytes > 0) && bytes + entryBytes > maxBytes) break
      const event = this.eventOf(entry)
      this.cursor = entry.revision + 1
      bytes += entryBytes
      events.push(event)
    }
    // The next call starts another response.
    this.lastRecordBytes = 0
    if (events.length > 0) this.progressDueMs = Date.now() + this.options.progressIntervalMs
    return events
  }

  private async pull(): Promise<IteratorResult<WatchEvent>> {
    const history = this.source.history
    for (;;) {
      if (this.closed) return { done: true, value: undefined }
      if (history.closed) {
        throw new StratumError('UNAVAILABLE', `the store is closing; once it is open again, watch from revision ${this.cursor}`)
      }
      this.source.checkOpen()
      this.logReader?.startTurn()
      const entry = this.peekEntry()
      if (entry === 'behind') {
        throw limitExceeded(
          `the watcher fell behind: the changes from revision ${this.cursor} on are no longer held ` +
            `(the store keeps the last ${history.maxChanges} changes in memory, watchHistoryMaxChanges, ` +
            `and the log those since the last compaction of the segments holding them, from revision ${this.source.log.floor}); ` +
            `read the current state, then watch from its revision + 1`,
        )
      }
      if (entry === 'paused') {
        // A long stretch of the log was read: others get their turn before the next.
        await new Promise((resolve) => setImmediate(resolve))
        continue
      }
      if (entry !== undefined) {
        // Built before the cursor moves: a value that cannot be read (CORRUPTION) is not skipped.
        const event = this.eventOf(entry)
        this.cursor = entry.revision + 1
        this.lastRecordBytes = recordBytesOf(entry)
        this.progressDueMs = Date.now() + this.options.progressIntervalMs
        return { done: false, value: event }
      }
      this.lastRecordBytes = 0
      const progressIntervalMs = this.options.progressIntervalMs
      const nowMs = Date.now()
      if (progressIntervalMs > 0 && nowMs >= this.progressDueMs) {
        this.progressDueMs = nowMs + progressIntervalMs
        const progress: ProgressEvent = { kind: 'progress', revision: Math.min(this.cursor - 1, this.source.revision()) }
        return { done: false, value: progress }
      }
      await this.waitForChange(progressIntervalMs > 0 ? this.progressDueMs - nowMs : undefined)
    }
  }

  /**
   * The next entry to deliver; moves the cursor past the entries of other problems it skips, not
   * past it. Undefined when there is none yet; `'paused'` when the log was read for a while
   * without finding it (ask again); `'behind'` when neither the history nor the log holds the
   * changes from the cursor on.
   */
  private peekEntry(): HistoryEntry | undefined | 'paused' | 'behind' {
    const history = this.source.history
    if (this.cursor <= history.horizon) {
      // Older than what the history holds: from the log, as long as it holds them.
      if (history.maxChanges === 0 || this.cursor < this.source.log.floor) return 'behind'
      this.logReader ??= this.source.openLog()
      const found = this.logReader.next(this.cursor, history.horizon, this.options.problemId)
      // Past the other problems' changes it read over, as from the history below.
      this.cursor = Math.max(this.cursor, this.logReader.skippedThrough + 1)
      if (found !== 'none') return found
      // Every change up to the horizon is delivered: the history holds the rest.
      this.cursor = history.horizon + 1
      this.logReader = undefined
    }
    let position = history.positionFrom(this.cursor, this.position)
    let entry = history.entryAt(position)
    const problemId = this.options.problemId
    while (entry !== undefined && problemId !== undefined && entry.problemId !== problemId) {
      this.cursor = entry.revision + 1
      entry = history.entryAt(++position)
    }
    this.position = position
    if (entry === undefined) this.cursor = Math.max(this.cursor, history.newestRevision + 1)
    return entry
  }

  private async waitForChange(timeoutMs: number | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const waits: Array<Promise<void>> = [this.source.history.changed(), this.closedSignal]
    if (timeoutMs !== undefined) waits.push(new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs)))))
    try {
      await Promise.race(waits)
    } finally {
      clearTimeout(timer)
    }
  }

  private eventOf(entry: HistoryEntry): ChangeEvent {
    const event = eventWithout(entry)
    if (this.options.withValues && entry.records.length > 0) event.value = this.source.valueOf(entry)
    return event
  }
}

/** A change's event without its value, to which the caller may add it. */
function eventWithout(entry: HistoryEntry): { -readonly [Key in keyof ChangeEvent]: ChangeEvent[Key] } {
  // Built field by field, not with spreads: one is built for every watcher of every change.
  const event: { -readonly [Key in keyof ChangeEvent]: ChangeEvent[Key] } = {
    kind: 'change',
    revision: entry.revision,
    type: entry.type,
    target: entry.target,
    problemId: entry.problemId,
  }
  if (entry.testCaseId !== 0) event.testCaseId = entry.testCaseId
  if (entry.column !== undefined) event.column = entry.column
  return event
}

function recordBytesOf(entry: HistoryEntry): number {
  let bytes = 0
  for (const record of entry.records) bytes += record.sizeBytes
  return bytes
}

/** Checks `options` against the history and the log; REVISION_UNAVAILABLE for a revision neither holds. */
export function resolveWatchOptions(
  options: WatchOptions | undefined,
  history: ChangeHistory,
  log: ChangeLog,
  revision: number,
  isProblemId: (id: number) => boolean,
): ResolvedWatchOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalidArgument('watch options must be an object')
  const { fromRevision, problemId, withValues = false, progressIntervalMs = watchProgressIntervalDefaultMs } = options ?? {}
  if (fromRevision !== undefined && (!Number.isSafeInteger(fromRevision) || fromRevision < 1)) {
    throw invalidArgument(`fromRevision must be a positive integer below 2^53, got ${String(fromRevision)}`)
  }
  if (problemId !== undefined && !isProblemId(problemId)) {
    throw invalidArgument(`problemId must be a positive integer below 2^53 of this store's shard, got ${String(problemId)}`)
  }
  if (typeof withValues !== 'boolean') throw invalidArgument(`withValues must be a boolean, got ${String(withValues)}`)
  if (!Number.isInteger(progressIntervalMs) || progressIntervalMs < 0 || progressIntervalMs > watchProgressIntervalMaxMs) {
    throw invalidArgument(`progressIntervalMs must be an integer from 0 to ${watchProgressIntervalMaxMs}, got ${String(progressIntervalMs)}`)
  }
  if (fromRevision !== undefined && fromRevision <= history.horizon) {
    // The history reaches back to its horizon, the log to its floor (none of it when watching is off).
    const oldest = history.maxChanges === 0 ? history.horizon + 1 : Math.min(log.floor, history.horizon + 1)
    if (fromRevision < oldest) {
      throw new StratumError(
        'REVISION_UNAVAILABLE',
        `revision ${fromRevision} is no longer held; the oldest revision a watch can start from is ${oldest} ` +
          `(the store keeps the last ${history.maxChanges} changes in memory, watchHistoryMaxChanges, and the log ` +
          `those since the last compaction of the segments holding them): read the current state, then watch from its revision + 1`,
      )
    }
  }
  return { fromRevision: fromRevision ?? revision + 1, problemId, withValues, progressIntervalMs }
}
