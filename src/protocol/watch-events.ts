/**
 * The events of a watch (the Watch RPC, `StratumClient.watch`), exactly as the embedded engine
 * defines them (src/engine/change-events.ts), declared again so that the client depends on the
 * contract only (src/server/value-types-agree.ts checks that both stay identical), and their
 * conversion to and from the `WatchResponse` message, which carries several changes, or progress.
 */
import { valueFromWire, valueToWire } from './value-wire.ts'
import type { Value } from './values.ts'
import type { WatchResponse, WireChange, WireChangeTarget, WireChangeType } from './wire-types.ts'

/**
 * The bounds of a WatchRequest's progress_interval_ms, as the contract states them (0 asks for
 * the default). The shortest: a progress response is a message, and a watch asking for one every
 * millisecond would cost the server a thousand a second.
 */
export const watchProgressIntervalMinMs = 100
export const watchProgressIntervalMaxMs = 3_600_000
export const watchProgressIntervalDefaultMs = 10_000

export type ChangeType = 'created' | 'updated' | 'deleted'

export type ChangeTarget = 'problem' | 'problemText' | 'problemColumn' | 'testCase' | 'expectedOutput'

export type ChangeValue =
  | { readonly kind: 'problem'; readonly html: string; readonly columns: ReadonlyMap<string, string> }
  | { readonly kind: 'text'; readonly html: string }
  | { readonly kind: 'column'; readonly value: string }
  | { readonly kind: 'value'; readonly value: Value }
  | { readonly kind: 'superseded' }

export interface ChangeEvent {
  readonly kind: 'change'
  readonly revision: number
  readonly type: ChangeType
  readonly target: ChangeTarget
  readonly problemId: number
  readonly testCaseId?: number
  readonly column?: string
  readonly value?: ChangeValue
}

export interface ProgressEvent {
  readonly kind: 'progress'
  readonly revision: number
}

export type WatchEvent = ChangeEvent | ProgressEvent

const typesToWire: Record<ChangeType, WireChangeType> = {
  created: 'CHANGE_TYPE_CREATED',
  updated: 'CHANGE_TYPE_UPDATED',
  deleted: 'CHANGE_TYPE_DELETED',
}

const targetsToWire: Record<ChangeTarget, WireChangeTarget> = {
  problem: 'CHANGE_TARGET_PROBLEM',
  problemText: 'CHANGE_TARGET_PROBLEM_TEXT',
  problemColumn: 'CHANGE_TARGET_PROBLEM_COLUMN',
  testCase: 'CHANGE_TARGET_TEST_CASE',
  expectedOutput: 'CHANGE_TARGET_EXPECTED_OUTPUT',
}

const typesFromWire = new Map(Object.entries(typesToWire).map(([type, wire]) => [wire, type as ChangeType]))
const targetsFromWire = new Map(Object.entries(targetsToWire).map(([target, wire]) => [wire, target as ChangeTarget]))

/** The WatchResponse message of a progress event, or of changes (in revision order). */
export function watchResponseToWire(events: readonly WatchEvent[]): WatchResponse {
  const [first] = events
  if (first?.kind === 'progress') return { changes: [], progress: { revision: String(first.revision) } }
  return { changes: events.map((event) => changeToWire(event as ChangeEvent)) }
}

function changeToWire(event: ChangeEvent): WireChange {
  const change: WireChange = {
    revision: String(event.revision),
    type: typesToWire[event.type],
    target: targetsToWire[event.target],
    problemId: String(event.problemId),
    tcId: String(event.testCaseId ?? 0),
    column: event.column ?? '',
  }
  const value = event.value
  if (value !== undefined) {
    switch (value.kind) {
      case 'problem':
        change.problem = { html: value.html, columns: [...value.columns].map(([name, item]) => ({ name, value: item })) }
        break
      case 'text':
        change.html = value.html
        break
      case 'column':
        change.columnValue = value.value
        break
      case 'value':
        change.value = valueToWire(value.value)
        break
      case 'superseded':
        change.superseded = true
        break
    }
  }
  return change
}

/** A message the server sent that is not an event this client knows. */
export class WatchResponseError extends Error {
  override readonly name = 'WatchResponseError'
}

/** The events of a decoded WatchResponse message: its changes, or its progress. */
export function watchEventsFromWire(response: WatchResponse): WatchEvent[] {
  if (response.changes.length > 0) return response.changes.map(changeFromWire)
  if (response.progress) return [{ kind: 'progress', revision: Number(response.progress.revision) }]
  throw new WatchResponseError('a WatchResponse with neither changes nor progress')
}

function changeFromWire(change: WireChange): ChangeEvent {
  const type = typesFromWire.get(change.type)
  const target = targetsFromWire.get(change.target)
  if (type === undefined || target === undefined) throw new WatchResponseError(`a change of unknown type ${change.type} or target ${change.target}`)
  const event: { -readonly [Key in keyof ChangeEvent]: ChangeEvent[Key] } = { kind: 'change', revision: Number(change.revision), type, target, problemId: Number(change.problemId) }
  if (change.tcId !== '0') event.testCaseId = Number(change.tcId)
  if (change.column !== '') event.column = change.column
  switch (change.newValue) {
    case 'problem':
      event.value = { kind: 'problem', html: change.problem?.html ?? '', columns: new Map((change.problem?.columns ?? []).map((column) => [column.name, column.value])) }
      break
    case 'html':
      event.value = { kind: 'text', html: change.html ?? '' }
      break
    case 'columnValue':
      event.value = { kind: 'column', value: change.columnValue ?? '' }
      break
    case 'value':
      event.value = { kind: 'value', value: valueFromWire(change.value, `the value of the change at revision ${change.revision}`) }
      break
    case 'superseded':
      event.value = { kind: 'superseded' }
      break
    case undefined:
      break
  }
  return event
}
