/**
 * What a watcher receives (`Store.watch`): one change event per acknowledged write, in revision
 * order, and progress events while nothing changes. See docs/format.md, *Watching changes*.
 */
import type { Value } from './values.ts'

/** What a change did. */
export type ChangeType = 'created' | 'updated' | 'deleted'

/**
 * What a change touched: a problem (document) as a whole (created with its text and columns, or
 * deleted with its test cases and outputs), its text, one of its columns, a test case (input
 * node), or a test case's expected output.
 */
export type ChangeTarget = 'problem' | 'problemText' | 'problemColumn' | 'testCase' | 'expectedOutput'

/** The value a change wrote, when the watcher asked for values. */
export type ChangeValue =
  | { readonly kind: 'problem'; readonly html: string; readonly columns: ReadonlyMap<string, string> }
  | { readonly kind: 'text'; readonly html: string }
  | { readonly kind: 'column'; readonly value: string }
  | { readonly kind: 'value'; readonly value: Value }
  /**
   * The write was replaced by a later one, whose event follows, and a compaction reclaimed its
   * record: the value it wrote is no longer stored.
   */
  | { readonly kind: 'superseded' }

export interface ChangeEvent {
  readonly kind: 'change'
  /** The write's revision: its version, the store's revision once it was acknowledged. */
  readonly revision: number
  readonly type: ChangeType
  readonly target: ChangeTarget
  readonly problemId: number
  /** The test case, for the targets `testCase` and `expectedOutput`. */
  readonly testCaseId?: number
  /** The column, for the target `problemColumn`. */
  readonly column?: string
  /** What the write stored, when asked for (`withValues`); deletes have none. */
  readonly value?: ChangeValue
}

/** Sent when no change was delivered for `progressIntervalMs`: every change up to `revision` was seen. */
export interface ProgressEvent {
  readonly kind: 'progress'
  readonly revision: number
}

export type WatchEvent = ChangeEvent | ProgressEvent

export interface WatchOptions {
  /**
   * The first revision to deliver (inclusive): resume with the last revision seen + 1. Omitted,
   * the watch starts after the store's current revision. A revision the store no longer holds is
   * REVISION_UNAVAILABLE, naming the oldest it holds.
   */
  fromRevision?: number
  /** Only the changes of this problem (its text, columns, test cases and outputs). */
  problemId?: number
  /** Include what each write stored. Costs a read per event. @defaultValue false */
  withValues?: boolean
  /** A progress event after this long without a change delivered, in ms; 0 for none. @defaultValue 10,000 */
  progressIntervalMs?: number
}
