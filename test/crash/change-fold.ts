/**
 * The changes a watcher reads back from the log after a kill, folded onto the state the round
 * started from: they must give exactly the state recovery rebuilt. A write the log gives that
 * recovery dropped, or one it kept that the log misses or misreads (created for updated, the
 * wrong column), makes the two differ.
 */
import type { ChangeEvent, Store, WatchEvent } from '../../src/engine/index.ts'
import type { Snapshot, SnapshotDoc } from './checker.ts'
import { canonicalValue, opOfValue } from './ops.ts'

export type WatchedRound =
  | { kind: 'events'; events: ChangeEvent[] }
  /** The log no longer holds the round's changes, or their values: a compaction reclaimed them. */
  | { kind: 'reclaimed'; why: string }

/**
 * Every change of the store from `fromRevision` on, with values, read until the watcher has
 * nothing more to give (its first progress event).
 */
export async function watchRound(store: Store, fromRevision: number): Promise<WatchedRound> {
  let watch
  try {
    watch = store.watch({ fromRevision, withValues: true, progressIntervalMs: 100 })
  } catch (error) {
    if ((error as { code?: string }).code === 'REVISION_UNAVAILABLE') return { kind: 'reclaimed', why: String(error) }
    throw error
  }
  const events: ChangeEvent[] = []
  try {
    for (;;) {
      let next: IteratorResult<WatchEvent>
      try {
        next = await watch.next()
      } catch (error) {
        if ((error as { code?: string }).code === 'LIMIT_EXCEEDED') return { kind: 'reclaimed', why: String(error) }
        throw error
      }
      if (next.done === true || next.value.kind === 'progress') break
      if (next.value.value?.kind === 'superseded') return { kind: 'reclaimed', why: `the value of revision ${next.value.revision} was reclaimed` }
      events.push(next.value)
    }
  } finally {
    watch.close()
  }
  return { kind: 'events', events }
}

/** `base` with `events` applied in order, as new maps (base is left alone). */
export function foldChanges(base: Snapshot, events: readonly ChangeEvent[]): Snapshot {
  const state: Snapshot = new Map()
  for (const [id, doc] of base) state.set(id, { html: doc.html, meta: { ...doc.meta }, testCases: new Map([...doc.testCases].map(([tcId, tc]) => [tcId, { ...tc }])) })
  const docOf = (event: ChangeEvent): SnapshotDoc => {
    const doc = state.get(event.problemId)
    if (doc === undefined) throw new Error(`revision ${event.revision}: a change to problem ${event.problemId}, which does not exist then`)
    return doc
  }
  for (const event of events) {
    const value = event.value
    switch (event.target) {
      case 'problem':
        if (event.type === 'deleted') state.delete(event.problemId)
        else if (value?.kind === 'problem') state.set(event.problemId, { html: value.html, meta: Object.fromEntries(value.columns), testCases: new Map() })
        break
      case 'problemText':
        if (value?.kind === 'text') docOf(event).html = value.html
        break
      case 'problemColumn':
        if (value?.kind === 'column') docOf(event).meta[event.column!] = value.value
        break
      case 'testCase': {
        const testCases = docOf(event).testCases
        if (event.type === 'deleted') testCases.delete(event.testCaseId!)
        else if (value?.kind === 'value') {
          const before = testCases.get(event.testCaseId!)
          if ((event.type === 'created') !== (before === undefined)) throw new Error(`revision ${event.revision}: test case ${event.testCaseId} ${event.type}, but it ${before === undefined ? 'did not exist' : 'existed'}`)
          testCases.set(event.testCaseId!, { value: canonicalValue(value.value), valueOp: opOfValue(value.value), output: before?.output })
        }
        break
      }
      case 'expectedOutput': {
        const testCase = docOf(event).testCases.get(event.testCaseId!)
        if (testCase === undefined) throw new Error(`revision ${event.revision}: an output of test case ${event.testCaseId}, which does not exist then`)
        if (event.type !== 'deleted' && (event.type === 'created') !== (testCase.output === undefined)) {
          throw new Error(`revision ${event.revision}: output of ${event.testCaseId} ${event.type}, but it ${testCase.output === undefined ? 'had none' : 'had one'}`)
        }
        testCase.output = event.type === 'deleted' || value?.kind !== 'value' ? undefined : canonicalValue(value.value)
        break
      }
    }
  }
  return state
}

/** A snapshot as sorted plain data, for comparison whatever the order it was built in. */
export function sortedPlain(snapshot: Snapshot): unknown {
  return [...snapshot]
    .sort(([left], [right]) => left - right)
    .map(([id, doc]) => ({
      id,
      html: doc.html,
      meta: Object.fromEntries(Object.entries(doc.meta).sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))),
      testCases: [...doc.testCases].sort(([left], [right]) => left - right),
    }))
}
