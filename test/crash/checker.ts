/**
 * The crash checker: does the state of a store reopened after a kill match what its writer was told?
 *
 * Model. The writer logs an intent synchronously just before each API call, so the intents are in
 * call order, which is the order of the records in the log (sequence numbers are taken in the
 * call, and group commit writes the log in that order). A SIGKILL keeps what reached the page
 * cache, and the engine writes the log front to back, so the store after recovery must be exactly
 * the result of the first P intents for some cut P (a prefix of the write order), with P at or
 * after every acknowledged intent. The checker replays the intents over the state it found at the
 * start of the round, keeping for every cell (a document, its html, one metadata column, an input
 * node, an output) the history of its values by intent index, then asks, cell by cell, at which
 * cuts P the cell would read what the store returned, and whether one cut fits every cell.
 *
 * This finds: an acknowledged write that is missing or rolled back to an older value, a deletion
 * that was undone, data that no logged write produced, and a state that no crash could produce
 * (a later write present while an earlier one is missing). The writer's own view is checked too:
 * the model predicts, for every intent, whether the call succeeds or fails and with which code,
 * and a disagreement with what the writer saw is a violation.
 */
import type { Store } from '../../src/engine/store.ts'
import { isStratumError } from '../../src/engine/errors.ts'
import type { Value } from '../../src/engine/values.ts'
import {
  canonicalValue,
  columnValueForOp,
  htmlForOp,
  metaForOp,
  opOfValue,
  valueForOp,
  type AckEntry,
  type FailEntry,
  type IntentEntry,
  type ParsedLog,
} from './ops.ts'

export interface SnapshotTestCase {
  /** `canonicalValue` of the node's value. */
  value: string
  /** The op number its value came from (see `opOfValue`), if it is a writer's value. */
  valueOp: number | undefined
  output: string | undefined
}

export interface SnapshotDoc {
  html: string
  meta: Record<string, string>
  /** In the order the store lists them. */
  testCases: Map<number, SnapshotTestCase>
}

/** The content of a store: documents by id, in listing order. */
export type Snapshot = Map<number, SnapshotDoc>

export interface Observation {
  snapshot: Snapshot
  /** Inconsistencies found while reading: errors, bad order, point reads that disagree with lists. */
  problems: string[]
}

export interface Probes {
  /** Document ids to read by id even when not listed (they must then read as absent). */
  docIds: Iterable<number>
  /** [docId, tcId] pairs to read by id even when not listed. */
  testCases: Iterable<readonly [number, number]>
}

const listPageSize = 37

/** Reads the whole content of `store`, cross-checking lists against point reads. */
export async function observeStore(store: Store, probes: Probes = { docIds: [], testCases: [] }): Promise<Observation> {
  const problems: string[] = []
  const snapshot: Snapshot = new Map()
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> => {
    try {
      return { ok: true, value: await read() }
    } catch (error) {
      const code = isStratumError(error) ? error.code : 'non-Stratum error'
      problems.push(`${what} failed (${code}): ${error instanceof Error ? error.message : String(error)}`)
      return { ok: false }
    }
  }

  const docIds: number[] = []
  let afterId: number | undefined
  // Bounded: each page moves past at least one id, and a repeated id is reported and stops it.
  for (;;) {
    const page = await attempt('listProblems', () => store.listProblems(afterId === undefined ? { limit: listPageSize } : { afterId, limit: listPageSize }))
    if (!page.ok) break
    for (const id of page.value.ids) {
      if (docIds.length > 0 && id <= docIds[docIds.length - 1]!) problems.push(`listProblems returned ${id} after ${docIds[docIds.length - 1]}: not in increasing id order`)
      docIds.push(id)
    }
    if (page.value.nextAfterId === undefined) break
    if (afterId !== undefined && page.value.nextAfterId <= afterId) {
      problems.push(`listProblems paging did not advance past ${afterId}`)
      break
    }
    afterId = page.value.nextAfterId
  }

  const tcOwner = new Map<number, number>()
  let testCaseCount = 0
  let outputCount = 0
  for (const docId of docIds) {
    const html = await attempt(`getProblemHtml(${docId})`, () => store.getProblemHtml(docId))
    const meta = await attempt(`getProblemMeta(${docId})`, () => store.getProblemMeta(docId))
    const page = await attempt(`getAllTestCases(${docId})`, () => store.getAllTestCases(docId, { includeOutputs: true }))
    if (!html.ok || !meta.ok || !page.ok) continue
    if (html.value === undefined || meta.value === undefined || page.value === undefined) {
      problems.push(`document ${docId} is listed but reads as absent (html ${typeof html.value}, meta ${typeof meta.value}, test cases ${typeof page.value})`)
      continue
    }
    if (page.value.nextAfterId !== undefined) problems.push(`getAllTestCases(${docId}) without a limit returned a partial page`)
    const testCases = new Map<number, SnapshotTestCase>()
    let previous = 0
    for (const testCase of page.value.testCases) {
      if (testCase.tcId <= previous) problems.push(`document ${docId} lists input node ${testCase.tcId} after ${previous}: not in increasing id order`)
      previous = testCase.tcId
      const owner = tcOwner.get(testCase.tcId)
      if (owner !== undefined) problems.push(`input node ${testCase.tcId} is listed under documents ${owner} and ${docId}`)
      tcOwner.set(testCase.tcId, docId)
      const entry: SnapshotTestCase = {
        value: canonicalValue(testCase.value),
        valueOp: opOfValue(testCase.value),
        output: testCase.output === undefined ? undefined : canonicalValue(testCase.output),
      }
      testCases.set(testCase.tcId, entry)
      testCaseCount++
      if (entry.output !== undefined) outputCount++
      // Point reads must agree with the chain read.
      const single = await attempt(`getTestCase(${docId}, ${testCase.tcId})`, () => store.getTestCase(docId, testCase.tcId))
      if (single.ok && (single.value === undefined || canonicalValue(single.value) !== entry.value)) {
        problems.push(`getTestCase(${docId}, ${testCase.tcId}) reads ${show(single.value)} but the chain holds ${show(entry.value)}`)
      }
      const output = await attempt(`getExpectedOutput(${docId}, ${testCase.tcId})`, () => store.getExpectedOutput(docId, testCase.tcId))
      if (output.ok && optionalCanonical(output.value) !== entry.output) {
        problems.push(`getExpectedOutput(${docId}, ${testCase.tcId}) reads ${show(output.value)} but the chain holds ${show(entry.output)}`)
      }
    }
    snapshot.set(docId, { html: html.value, meta: meta.value, testCases })
  }

  const stats = await store.stats()
  if (stats.documents !== snapshot.size) problems.push(`stats().documents is ${stats.documents}, but ${snapshot.size} documents are listed`)
  if (stats.inputNodes !== testCaseCount) problems.push(`stats().inputNodes is ${stats.inputNodes}, but ${testCaseCount} input nodes are listed`)
  if (stats.outputNodes !== outputCount) problems.push(`stats().outputNodes is ${stats.outputNodes}, but ${outputCount} outputs are listed`)

  // Ids that are not listed must read as absent by id too.
  for (const docId of new Set(probes.docIds)) {
    if (snapshot.has(docId)) continue
    const html = await attempt(`getProblemHtml(${docId})`, () => store.getProblemHtml(docId))
    const meta = await attempt(`getProblemMeta(${docId})`, () => store.getProblemMeta(docId))
    const page = await attempt(`getAllTestCases(${docId})`, () => store.getAllTestCases(docId))
    if ((html.ok && html.value !== undefined) || (meta.ok && meta.value !== undefined) || (page.ok && page.value !== undefined)) {
      problems.push(`document ${docId} is not listed but reads by id as present`)
    }
  }
  for (const [docId, tcId] of probes.testCases) {
    if (snapshot.get(docId)?.testCases.has(tcId) === true) continue
    const value = await attempt(`getTestCase(${docId}, ${tcId})`, () => store.getTestCase(docId, tcId))
    const output = await attempt(`getExpectedOutput(${docId}, ${tcId})`, () => store.getExpectedOutput(docId, tcId))
    if ((value.ok && value.value !== undefined) || (output.ok && output.value !== undefined)) {
      problems.push(`input node ${tcId} of document ${docId} is not listed but reads by id as present (${show(value.ok ? value.value : undefined)})`)
    }
  }
  return { snapshot, problems }
}

function optionalCanonical(value: Value | undefined): string | undefined {
  return value === undefined ? undefined : canonicalValue(value)
}

function show(value: Value | string | undefined): string {
  if (value === undefined) return 'nothing'
  const text = typeof value === 'string' ? value : canonicalValue(value)
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 45)}...` : text)
}

// ------------------------------------------------------------------ the check

export interface RoundCheck {
  violations: string[]
  intents: number
  acknowledged: number
  failed: number
  /** Intents with no outcome logged: in flight at the kill. */
  inFlight: number
  /** In-flight writes found applied (cut past them). */
  inFlightApplied: number
  /** The range of cuts P (intents applied) that explain the store, when one exists. */
  cut: { min: number; max: number } | undefined
}

type CellValue = string | undefined

interface HistoryEntry {
  /** The value holds for cuts P >= at (until the next entry). 0 is the state at the round's start. */
  at: number
  value: CellValue
  /** The op that wrote it; undefined for the starting state. */
  op: number | undefined
}

interface ModelDoc {
  metaColumns: Set<string>
  testCases: Map<string, { hasOutput: boolean }>
}

const present = 'present'

/**
 * Checks the store content `observed`, found after a kill, against `base` (the content at the
 * start of the round) and the round's acknowledgement log.
 */
export function checkRound(base: Snapshot, log: ParsedLog, observed: Snapshot): RoundCheck {
  const violations: string[] = []
  for (const line of log.malformed) violations.push(`the acknowledgement log has a malformed line: ${line.slice(0, 200)}`)

  // ---- pair intents with their outcomes
  const intents: IntentEntry[] = []
  const outcomes = new Map<number, AckEntry | FailEntry>()
  const intentOps = new Set<number>()
  for (const entry of log.entries) {
    if (entry.t === 'I') {
      if (intentOps.has(entry.op)) violations.push(`op ${entry.op} has two intents in the log`)
      intentOps.add(entry.op)
      intents.push(entry)
    } else {
      if (!intentOps.has(entry.op)) violations.push(`op ${entry.op} has an outcome (${entry.t}) before or without its intent`)
      if (outcomes.has(entry.op)) violations.push(`op ${entry.op} has two outcomes in the log`)
      outcomes.set(entry.op, entry)
    }
  }
  const n = intents.length

  // ---- replay the intents, keeping cell histories
  const histories = new Map<string, HistoryEntry[]>()
  const set = (cell: string, value: CellValue, at: number, op: number | undefined): void => {
    let history = histories.get(cell)
    if (history === undefined) {
      history = [{ at: 0, value: undefined, op: undefined }]
      histories.set(cell, history)
    }
    const last = history[history.length - 1]!
    if (last.value === value) return
    if (last.at === at) {
      last.value = value
      last.op = op
    } else history.push({ at, value, op })
  }
  const docs = new Map<string, ModelDoc>()
  const knownDocIds = new Set<number>()
  const knownTcIds = new Set<number>()
  let maxBaseId = 0
  for (const [docId, doc] of base) {
    const key = String(docId)
    knownDocIds.add(docId)
    maxBaseId = Math.max(maxBaseId, docId)
    const model: ModelDoc = { metaColumns: new Set(Object.keys(doc.meta)), testCases: new Map() }
    docs.set(key, model)
    set(`doc|${key}`, present, 0, undefined)
    set(`html|${key}`, doc.html, 0, undefined)
    for (const [column, value] of Object.entries(doc.meta)) set(`meta|${key}|${column}`, value, 0, undefined)
    for (const [tcId, testCase] of doc.testCases) {
      knownTcIds.add(tcId)
      maxBaseId = Math.max(maxBaseId, tcId)
      model.testCases.set(String(tcId), { hasOutput: testCase.output !== undefined })
      set(`tc|${key}|${tcId}`, testCase.value, 0, undefined)
      if (testCase.output !== undefined) set(`out|${key}|${tcId}`, testCase.output, 0, undefined)
    }
  }

  /** Creates not acknowledged: their entity is keyed by op until found in the store. */
  const unackedDocCreates = new Set<number>()
  const unackedTcCreates = new Map<number, string>() // op -> document key
  let lastIssuedId = maxBaseId
  let acknowledged = 0
  let failed = 0
  let inFlight = 0
  let lastAckedIndex = 0
  const inFlightIndexes: number[] = []

  for (const [position, intent] of intents.entries()) {
    const at = position + 1
    const { op } = intent
    const outcome = outcomes.get(op)
    if (outcome === undefined) {
      inFlight++
      inFlightIndexes.push(at)
    } else if (outcome.t === 'A') {
      acknowledged++
      lastAckedIndex = at
    } else failed++
    const label = `op ${op} (${intent.kind}${intent.doc === undefined ? '' : ` doc ${intent.doc}`}${intent.tc === undefined ? '' : ` tc ${intent.tc}`})`

    // What the store would do with this call given every earlier call: undefined is success.
    let expectedError: string | undefined
    let apply: (() => void) | undefined
    const docKey = intent.doc === undefined ? undefined : String(intent.doc)
    const doc = docKey === undefined ? undefined : docs.get(docKey)
    const tcKey = intent.tc === undefined ? undefined : String(intent.tc)
    const testCase = tcKey === undefined ? undefined : doc?.testCases.get(tcKey)
    const needsDoc = intent.kind !== 'createProblem'
    const needsTc = !['createProblem', 'addTestCase', 'updateProblemColumn', 'updateProblemHtml', 'deleteProblem'].includes(intent.kind)
    if ((needsDoc && intent.doc === undefined) || (needsTc && intent.tc === undefined) || (intent.kind === 'updateProblemColumn' && intent.col === undefined)) {
      violations.push(`${label}: the intent lacks a target`)
      continue
    }
    if (needsDoc && doc === undefined) expectedError = 'NOT_FOUND'
    else if (needsTc && testCase === undefined) expectedError = 'NOT_FOUND'
    else {
      switch (intent.kind) {
        case 'createProblem': {
          const id = outcome?.t === 'A' ? outcome.id : undefined
          if (outcome?.t === 'A' && id === undefined) violations.push(`${label}: acknowledged without an id`)
          if (id !== undefined) {
            if (id <= lastIssuedId) violations.push(`${label}: was given id ${id}, not above every id issued before it (${lastIssuedId})`)
            lastIssuedId = Math.max(lastIssuedId, id)
            knownDocIds.add(id)
          } else unackedDocCreates.add(op)
          const key = id === undefined ? `op${op}` : String(id)
          apply = () => {
            docs.set(key, { metaColumns: new Set(Object.keys(metaForOp(op))), testCases: new Map() })
            set(`doc|${key}`, present, at, op)
            set(`html|${key}`, htmlForOp(op), at, op)
            for (const [column, value] of Object.entries(metaForOp(op))) set(`meta|${key}|${column}`, value, at, op)
          }
          break
        }
        case 'addTestCase': {
          const id = outcome?.t === 'A' ? outcome.id : undefined
          if (outcome?.t === 'A' && id === undefined) violations.push(`${label}: acknowledged without an id`)
          if (id !== undefined) {
            if (id <= lastIssuedId) violations.push(`${label}: was given id ${id}, not above every id issued before it (${lastIssuedId})`)
            lastIssuedId = Math.max(lastIssuedId, id)
            knownTcIds.add(id)
          } else unackedTcCreates.set(op, docKey!)
          const key = id === undefined ? `op${op}` : String(id)
          apply = () => {
            doc!.testCases.set(key, { hasOutput: false })
            set(`tc|${docKey}|${key}`, canonicalValue(valueForOp(op)), at, op)
          }
          break
        }
        case 'updateTestCase':
          apply = () => set(`tc|${docKey}|${tcKey}`, canonicalValue(valueForOp(op)), at, op)
          break
        case 'setExpectedOutput':
          if (testCase!.hasOutput) expectedError = 'ALREADY_EXISTS'
          apply = () => {
            testCase!.hasOutput = true
            set(`out|${docKey}|${tcKey}`, canonicalValue(valueForOp(op)), at, op)
          }
          break
        case 'updateExpectedOutput':
          if (!testCase!.hasOutput) expectedError = 'NOT_FOUND'
          apply = () => set(`out|${docKey}|${tcKey}`, canonicalValue(valueForOp(op)), at, op)
          break
        case 'deleteExpectedOutput':
          if (!testCase!.hasOutput) expectedError = 'NOT_FOUND'
          apply = () => {
            testCase!.hasOutput = false
            set(`out|${docKey}|${tcKey}`, undefined, at, op)
          }
          break
        case 'deleteTestCase':
          apply = () => {
            doc!.testCases.delete(tcKey!)
            set(`tc|${docKey}|${tcKey}`, undefined, at, op)
            set(`out|${docKey}|${tcKey}`, undefined, at, op)
          }
          break
        case 'updateProblemColumn':
          apply = () => {
            doc!.metaColumns.add(intent.col!)
            set(`meta|${docKey}|${intent.col}`, columnValueForOp(op), at, op)
          }
          break
        case 'updateProblemHtml':
          apply = () => set(`html|${docKey}`, htmlForOp(op), at, op)
          break
        case 'deleteProblem':
          apply = () => {
            docs.delete(docKey!)
            set(`doc|${docKey}`, undefined, at, op)
            set(`html|${docKey}`, undefined, at, op)
            for (const column of doc!.metaColumns) set(`meta|${docKey}|${column}`, undefined, at, op)
            for (const key of doc!.testCases.keys()) {
              set(`tc|${docKey}|${key}`, undefined, at, op)
              set(`out|${docKey}|${key}`, undefined, at, op)
            }
          }
          break
      }
    }
    if (outcome?.t === 'A' && expectedError !== undefined) {
      violations.push(`${label}: acknowledged, but given the writes before it the store should have refused it with ${expectedError}`)
    } else if (outcome?.t === 'F' && expectedError === undefined) {
      violations.push(`${label}: refused with ${outcome.code}, but given the writes before it it should have succeeded`)
    } else if (outcome?.t === 'F' && outcome.code !== expectedError) {
      violations.push(`${label}: refused with ${outcome.code}, expected ${expectedError}`)
    }
    // A refused call writes nothing; so does a call that would be refused and whose outcome is lost.
    if (expectedError === undefined && outcome?.t !== 'F') apply?.()
  }

  // ---- name what the store holds with the model's keys
  const observedCells = new Map<string, string>()
  const observedDocKeys = new Set<string>()
  for (const [docId, doc] of observed) {
    let key = String(docId)
    if (!knownDocIds.has(docId)) {
      const op = Number(doc.meta.createdBy)
      key = unackedDocCreates.has(op) ? `op${op}` : `?doc${docId}`
      if (key.startsWith('op') && docId <= maxBaseId) {
        violations.push(`document ${docId}, created by unacknowledged op ${op}, has an id not above the ids of the round's start (${maxBaseId})`)
      }
    }
    if (observedDocKeys.has(key)) violations.push(`two documents in the store trace back to the same create (${key}); one of them is ${docId}`)
    observedDocKeys.add(key)
    observedCells.set(`doc|${key}`, present)
    observedCells.set(`html|${key}`, doc.html)
    for (const [column, value] of Object.entries(doc.meta)) observedCells.set(`meta|${key}|${column}`, value)
    const tcKeys = new Set<string>()
    for (const [tcId, testCase] of doc.testCases) {
      let tcKey = String(tcId)
      if (!knownTcIds.has(tcId)) {
        const op = testCase.valueOp
        tcKey = op !== undefined && unackedTcCreates.get(op) === key ? `op${op}` : `?tc${tcId}`
      }
      if (tcKeys.has(tcKey)) violations.push(`two input nodes of document ${docId} trace back to the same create (${tcKey})`)
      tcKeys.add(tcKey)
      observedCells.set(`tc|${key}|${tcKey}`, testCase.value)
      if (testCase.output !== undefined) observedCells.set(`out|${key}|${tcKey}`, testCase.output)
    }
  }

  // ---- which cuts explain each cell, and all of them
  const lo = lastAckedIndex
  const cover = new Int32Array(n + 2)
  let cellCount = 0
  const cellRanges: Array<{ cell: string; min: number; max: number }> = []
  const cells = new Set([...histories.keys(), ...observedCells.keys()])
  for (const cell of cells) {
    const history = histories.get(cell) ?? [{ at: 0, value: undefined, op: undefined }]
    const seen = observedCells.get(cell)
    let min = Number.POSITIVE_INFINITY
    let max = -1
    const intervals: Array<[number, number]> = []
    for (const [index, entry] of history.entries()) {
      if (entry.value !== seen) continue
      const from = Math.max(entry.at, lo)
      const to = (history[index + 1]?.at ?? n + 1) - 1
      if (from > to) continue
      intervals.push([from, to])
      min = Math.min(min, from)
      max = Math.max(max, to)
    }
    if (intervals.length === 0) {
      violations.push(describeCellViolation(cell, seen, history, lo, n))
      continue
    }
    cellCount++
    cellRanges.push({ cell, min, max })
    for (const [from, to] of intervals) {
      cover[from]!++
      cover[to + 1]!--
    }
  }
  let cut: RoundCheck['cut']
  let running = 0
  for (let p = 0; p <= n; p++) {
    running += cover[p]!
    if (p >= lo && running === cellCount) cut = cut === undefined ? { min: p, max: p } : { min: cut.min, max: p }
  }
  if (cut === undefined && violations.length === 0) {
    // Every cell alone is explained by some cut, but no cut explains all of them.
    const latestStart = cellRanges.reduce((a, b) => (b.min > a.min ? b : a))
    const earliestEnd = cellRanges.reduce((a, b) => (b.max < a.max ? b : a))
    violations.push(
      `the store is not the result of any prefix of the writes: ${describeCell(latestStart.cell)} needs write #${latestStart.min} applied, ` +
        `but ${describeCell(earliestEnd.cell)} needs write #${earliestEnd.max + 1} not applied`,
    )
  }
  const inFlightApplied = cut === undefined ? 0 : inFlightIndexes.filter((index) => index <= cut.min).length
  return { violations, intents: n, acknowledged, failed, inFlight, inFlightApplied, cut }
}

function describeCell(cell: string): string {
  const [kind, docKey, rest] = cell.split('|') as [string, string, string | undefined]
  const doc = docKey.startsWith('op') ? `the document of unacknowledged op ${docKey.slice(2)}` : docKey.startsWith('?') ? `unexpected document ${docKey.slice(4)}` : `document ${docKey}`
  const node = rest === undefined ? '' : rest.startsWith('op') ? `the input node of unacknowledged op ${rest.slice(2)}` : rest.startsWith('?') ? `unexpected input node ${rest.slice(3)}` : `input node ${rest}`
  switch (kind) {
    case 'doc':
      return doc
    case 'html':
      return `the html of ${doc}`
    case 'meta':
      return `metadata column ${rest} of ${doc}`
    case 'tc':
      return `${node} of ${doc}`
    default:
      return `the output of ${node} of ${doc}`
  }
}

function describeCellViolation(cell: string, seen: CellValue, history: HistoryEntry[], lo: number, n: number): string {
  const showCell = (value: CellValue): string => (value === undefined ? 'nothing' : show(value))
  const allowed = new Set<string>()
  for (const [index, entry] of history.entries()) {
    const to = (history[index + 1]?.at ?? n + 1) - 1
    if (to >= lo) allowed.add(showCell(entry.value))
  }
  const known = history.length > 1 || history[0]!.value !== undefined
  const what = !known
    ? 'no logged write produced it'
    : seen === undefined
      ? 'it is missing'
      : [...allowed].includes('nothing')
        ? 'it should be gone or hold another value'
        : 'it holds a stale or foreign value'
  const writes = history
    .slice(-6)
    .map((entry) => (entry.op === undefined ? `start=${showCell(entry.value)}` : `#${entry.at} op ${entry.op}=${showCell(entry.value)}`))
    .join(', ')
  return (
    `${describeCell(cell)}: ${what}. It reads ${showCell(seen)}, but with every acknowledged write kept (writes up to #${lo}) ` +
    `it can only read ${[...allowed].join(' or ')} [history: ${writes}]`
  )
}
