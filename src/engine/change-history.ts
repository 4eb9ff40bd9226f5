/**
 * The changes a watcher can still be given: the newest `watchHistoryMaxChanges` acknowledged
 * writes, in revision order, each with where its records went (so that its value can be read
 * when it is delivered, not held here). Appended as writes are published (write path step 4),
 * never from anywhere else, so a watcher never sees an unacknowledged write.
 *
 * The history is kept in memory since the store was opened: after a reopen it starts empty, and
 * its horizon (every revision at or below it is no longer held here) is the revision the store
 * opened at. Dropping the oldest entry when it is full moves the horizon to that entry's revision.
 * Watchers read the changes at or below the horizon back from the log (change-log.ts).
 */
import type { ChangeTarget, ChangeType } from './change-events.ts'
import type { Column } from './keydir.ts'
import type { RecordKind } from './record.ts'

/** A record holding (part of) a change's value, where the write put it. */
export interface RecordRef {
  readonly segmentNumber: number
  readonly offset: number
  readonly sizeBytes: number
  readonly seq: number
  readonly id: number
  readonly kind: RecordKind
  /** The local id whose keydir column points at the record while it is current. */
  readonly local: number
  readonly column: Column
}

export interface HistoryEntry {
  readonly revision: number
  readonly type: ChangeType
  readonly target: ChangeTarget
  readonly problemId: number
  /** 0 when the change is not of a test case or output. */
  readonly testCaseId: number
  readonly column: string | undefined
  /** The records of its value (none for deletes). */
  readonly records: readonly RecordRef[]
}

/** Entries dropped from the front are cut off the array once they are this many and half of it. */
const compactFrontMinEntries = 1024

export class ChangeHistory {
  private entries: HistoryEntry[] = []
  /** Index in `entries` of the oldest entry still held. */
  private head = 0
  /**
   * Entries cut off the front of `entries` so far: `entries[i]` is the entry at position
   * `cut + i`, counting every entry appended since the open, which watchers keep as a hint.
   */
  private cut = 0
  /**
   * What the watchers waiting now wait for: one promise shared by all, settled at the next wake,
   * so that a watcher that stops waiting (a progress timeout, a close) leaves nothing behind.
   */
  private waiting: { promise: Promise<void>; resolve: () => void } | undefined
  private closedValue = false
  /** Every revision at or below this is no longer held. */
  horizon: number

  constructor(
    readonly maxChanges: number,
    openedAtRevision: number,
  ) {
    this.horizon = openedAtRevision
  }

  get size(): number {
    return this.entries.length - this.head
  }

  get closed(): boolean {
    return this.closedValue
  }

  /** Adds a published write (revisions only grow); drops the oldest entry past `maxChanges`. */
  append(entry: HistoryEntry): void {
    if (this.maxChanges === 0) {
      this.horizon = entry.revision
      return
    }
    this.entries.push(entry)
    if (this.size > this.maxChanges) {
      this.horizon = this.entries[this.head]!.revision
      this.head++
      if (this.head >= compactFrontMinEntries && this.head * 2 >= this.entries.length) {
        this.entries = this.entries.slice(this.head)
        this.cut += this.head
        this.head = 0
      }
    }
  }

  /** Wakes every watcher waiting for a change; called once per published group, not per entry. */
  wake(): void {
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.resolve()
  }

  /** Resolves at the next `wake()` or `close()`. */
  changed(): Promise<void> {
    if (this.closedValue) return Promise.resolve()
    if (this.waiting === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((settle) => (resolve = settle))
      this.waiting = { promise, resolve }
    }
    return this.waiting.promise
  }

  /** The store is closing: wakes every watcher, for good. */
  close(): void {
    this.closedValue = true
    this.wake()
  }

  /** The oldest entry held with a revision at or above `revision`, or undefined. */
  firstFrom(revision: number): HistoryEntry | undefined {
    let low = this.head
    let high = this.entries.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.entries[middle]!.revision < revision) low = middle + 1
      else high = middle
    }
    return this.entries[low]
  }

  /**
   * The position of the oldest entry held with a revision at or above `revision` (the position
   * after the newest when there is none): `hint` itself when it is that position, which costs two
   * comparisons, as it is for a watcher reading on from where it was; else a binary search.
   */
  positionFrom(revision: number, hint: number): number {
    const index = hint - this.cut
    if (index >= this.head && index <= this.entries.length) {
      const at = this.entries[index]
      const before = index > this.head ? this.entries[index - 1] : undefined
      if ((at === undefined || at.revision >= revision) && (before === undefined || before.revision < revision)) return hint
    }
    let low = this.head
    let high = this.entries.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.entries[middle]!.revision < revision) low = middle + 1
      else high = middle
    }
    return low + this.cut
  }

  /** The entry at `position` (see `positionFrom`), or undefined when it is not held. */
  entryAt(position: number): HistoryEntry | undefined {
    const index = position - this.cut
    return index >= this.head ? this.entries[index] : undefined
  }

  /** The revision of the newest entry, or the horizon when none is held. */
  get newestRevision(): number {
    return this.size === 0 ? this.horizon : this.entries[this.entries.length - 1]!.revision
  }
}
