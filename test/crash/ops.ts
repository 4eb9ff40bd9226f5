/**
 * What the crash writer writes and logs, shared by the writer (crash-writer.ts) and the checker
 * (checker.ts), so that the expected content of every write can be derived from its op number.
 *
 * Every write gets an op number unique over the whole crash run (rounds use disjoint ranges), and
 * every value it writes is derived from that number alone: an html text, a metadata column value
 * or a node value. The checker can therefore tell which write produced any byte it reads back, and
 * an entity created by a write whose acknowledgement was lost (its id never logged) can still be
 * traced to that write through its content.
 *
 * The acknowledgement log holds one JSON object a line:
 *   {"t":"I", op, kind, doc?, tc?, col?}  intent: logged synchronously just before the API call
 *   {"t":"A", op, id?}                     acknowledged: the call's promise resolved (id of a create)
 *   {"t":"F", op, code}                    the call rejected (a validation error such as NOT_FOUND)
 * A last line without its newline was cut by the kill and is ignored (it is an intent whose call
 * was never made, or an acknowledgement that cannot be relied on).
 */
import { double, int64, int64List, string, stringList, stringMap, type Value } from '../../src/engine/values.ts'

export const opKinds = [
  'createProblem',
  'addTestCase',
  'setExpectedOutput',
  'updateExpectedOutput',
  'updateTestCase',
  'updateProblemColumn',
  'updateProblemHtml',
  'deleteTestCase',
  'deleteExpectedOutput',
  'deleteProblem',
] as const
export type OpKind = (typeof opKinds)[number]

export interface IntentEntry {
  t: 'I'
  op: number
  kind: OpKind
  doc?: number
  tc?: number
  col?: string
}
export interface AckEntry {
  t: 'A'
  op: number
  id?: number
}
export interface FailEntry {
  t: 'F'
  op: number
  code: string
}
export type LogEntry = IntentEntry | AckEntry | FailEntry

export { seededRandom } from '../../src/engine/testing/seeded-random.ts'

/** Op numbers of round `round` start here; a round makes far fewer writes than this. */
export function opBaseOfRound(round: number): number {
  return round * 10_000_000
}

/** A small deterministic hash of an op number, for sizes and type choices. */
function mix(op: number): number {
  let x = (op ^ 0x9e3779b9) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0
  return (x ^ (x >>> 16)) >>> 0
}

/** The html of a document created or rewritten by write `op`: 20 to ~1,500 bytes. */
export function htmlForOp(op: number): string {
  return `<p>doc op ${op}</p>${'x'.repeat(mix(op) % 1500)}`
}

/** The metadata of a document created by `op`. `createdBy` is never updated: it names the create. */
export function metaForOp(op: number): Record<string, string> {
  return { createdBy: String(op), title: `title ${op}` }
}

/** Columns that `updateProblemColumn` writes (never `createdBy`). */
export const updatableColumns = ['c0', 'c1', 'c2', 'title'] as const

export function columnValueForOp(op: number): string {
  return `v${op}`
}

/** The node value (input or output) written by `op`; every type is exercised. */
export function valueForOp(op: number): Value {
  const h = mix(op)
  const extra = h % 24
  switch (h % 6) {
    case 0:
      return int64(BigInt(op))
    case 1:
      return double(op + 0.5)
    case 2:
      return string(`s${op}:${'y'.repeat(extra * 8)}`)
    case 3:
      return int64List([BigInt(op), ...Array.from({ length: extra }, (_, index) => BigInt(index) * 1_000_003n)])
    case 4:
      return stringList([String(op), ...Array.from({ length: extra }, (_, index) => `item${index}`)])
    default:
      return stringMap({ op: String(op), size: String(extra) })
  }
}

/** The op number a value written by `valueForOp` came from, or undefined for a foreign value. */
export function opOfValue(value: Value): number | undefined {
  switch (value.type) {
    case 'int64':
      return Number(value.value)
    case 'double':
      return Number.isFinite(value.value) ? Math.floor(value.value) : undefined
    case 'string': {
      const match = /^s(\d+):/.exec(value.value)
      return match === null ? undefined : Number(match[1])
    }
    case 'int64List':
      return value.value.length === 0 ? undefined : Number(value.value[0])
    case 'stringList':
      return value.value.length === 0 ? undefined : Number(value.value[0])
    case 'stringMap': {
      const op = value.value.get('op')
      return op === undefined ? undefined : Number(op)
    }
  }
}

export { canonicalValue } from '../support/canonical-value.ts'

export interface ParsedLog {
  entries: LogEntry[]
  /** Complete lines that are not a valid entry: the log itself is broken. */
  malformed: string[]
  /** Bytes of a last line cut by the kill (ignored). */
  cutTailBytes: number
}

/** Parses an acknowledgement log, dropping a last line cut short by the kill. */
export function parseLog(text: string): ParsedLog {
  const entries: LogEntry[] = []
  const malformed: string[] = []
  const lastNewline = text.lastIndexOf('\n')
  const complete = text.slice(0, lastNewline + 1)
  for (const line of complete.split('\n')) {
    if (line === '') continue
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch {
      malformed.push(line)
      continue
    }
    if (isLogEntry(entry)) entries.push(entry)
    else malformed.push(line)
  }
  return { entries, malformed, cutTailBytes: text.length - complete.length }
}

function isLogEntry(entry: unknown): entry is LogEntry {
  if (typeof entry !== 'object' || entry === null) return false
  const e = entry as Record<string, unknown>
  if (!Number.isSafeInteger(e.op)) return false
  if (e.t === 'I') return typeof e.kind === 'string' && (opKinds as readonly string[]).includes(e.kind)
  if (e.t === 'A') return e.id === undefined || Number.isSafeInteger(e.id)
  if (e.t === 'F') return typeof e.code === 'string'
  return false
}
