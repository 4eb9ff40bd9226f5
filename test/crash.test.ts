/**
 * Crash safety: a writer killed with SIGKILL under load, over and over, on one store.
 * See test/crash/ for the writer, the loop and the checker. `npm run crash -- --kills 1000` runs
 * the same loop for longer.
 *
 * The checker is tested on its own first: a check that cannot fail proves nothing, so every kind
 * of violation it claims to find is fabricated here and must be reported.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { openStore } from '../src/engine/store.ts'
import { checkRound, observeStore, type Snapshot, type SnapshotDoc } from './crash/checker.ts'
import { runCrashLoop } from './crash/crash-run.ts'
import {
  canonicalValue,
  columnValueForOp,
  htmlForOp,
  metaForOp,
  parseLog,
  valueForOp,
  type LogEntry,
} from './crash/ops.ts'

// ------------------------------------------------------------------ fabricated rounds

interface FakeDoc {
  html: number
  meta?: Record<string, string>
  createdBy?: number
  testCases?: Record<number, { value: number; output?: number }>
}

/** A snapshot whose every value comes from the op numbers given, as the writer would have written it. */
function snapshot(docs: Record<number, FakeDoc>): Snapshot {
  const result: Snapshot = new Map()
  for (const [id, doc] of Object.entries(docs)) {
    const entry: SnapshotDoc = {
      html: htmlForOp(doc.html),
      meta: doc.meta ?? metaForOp(doc.createdBy ?? doc.html),
      testCases: new Map(),
    }
    for (const [tcId, testCase] of Object.entries(doc.testCases ?? {})) {
      entry.testCases.set(Number(tcId), {
        value: canonicalValue(valueForOp(testCase.value)),
        valueOp: testCase.value,
        output: testCase.output === undefined ? undefined : canonicalValue(valueForOp(testCase.output)),
      })
    }
    result.set(Number(id), entry)
  }
  return result
}

function logOf(entries: LogEntry[], cutTail = ''): ReturnType<typeof parseLog> {
  return parseLog(entries.map((entry) => `${JSON.stringify(entry)}\n`).join('') + cutTail)
}

/** The state at the start of every fabricated round: document 1 with input node 2 (output from op 3). */
const start = snapshot({ 1: { html: 1, testCases: { 2: { value: 2, output: 3 } } } })

function assertViolation(violations: string[], pattern: RegExp): void {
  assert.ok(
    violations.some((violation) => pattern.test(violation)),
    `expected a violation matching ${pattern}, got: ${JSON.stringify(violations, null, 2)}`,
  )
}

describe('crash checker', () => {
  it('accepts a store holding every acknowledged write, with in-flight writes either applied or not', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'updateTestCase', doc: 1, tc: 2 },
      { t: 'A', op: 10 },
      { t: 'I', op: 11, kind: 'createProblem' },
      { t: 'A', op: 11, id: 5 },
      { t: 'I', op: 12, kind: 'addTestCase', doc: 5 },
      { t: 'A', op: 12, id: 6 },
      { t: 'I', op: 13, kind: 'updateProblemColumn', doc: 1, col: 'c0' },
      { t: 'A', op: 13 },
      { t: 'I', op: 14, kind: 'deleteExpectedOutput', doc: 1, tc: 2 },
      { t: 'I', op: 15, kind: 'addTestCase', doc: 1 },
      // op 14 and 15 are in flight at the kill.
    ])
    const meta1 = { ...metaForOp(1), c0: columnValueForOp(13) }
    const acked = snapshot({
      1: { html: 1, meta: meta1, testCases: { 2: { value: 10, output: 3 } } },
      5: { html: 11, testCases: { 6: { value: 12 } } },
    })
    const first = checkRound(start, log, acked)
    assert.deepEqual(first.violations, [])
    assert.deepEqual(first.cut, { min: 4, max: 4 })
    assert.equal(first.inFlight, 2)

    // Both in-flight writes applied; the new node (id 7, never acknowledged) is traced by its value.
    const both = snapshot({
      1: { html: 1, meta: meta1, testCases: { 2: { value: 10 }, 7: { value: 15 } } },
      5: { html: 11, testCases: { 6: { value: 12 } } },
    })
    const second = checkRound(start, log, both)
    assert.deepEqual(second.violations, [])
    assert.deepEqual(second.cut, { min: 6, max: 6 })
    assert.equal(second.inFlightApplied, 2)
  })

  it('flags an acknowledged update that reads back its older value', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'updateTestCase', doc: 1, tc: 2 },
      { t: 'A', op: 10 },
    ])
    const result = checkRound(start, log, start)
    assertViolation(result.violations, /input node 2 of document 1: it holds a stale or foreign value/)
  })

  it('flags an acknowledged deletion that came back', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'deleteProblem', doc: 1 },
      { t: 'A', op: 10 },
    ])
    const result = checkRound(start, log, start)
    assertViolation(result.violations, /^document 1: it should be gone/)
    const outputLog = logOf([
      { t: 'I', op: 10, kind: 'deleteExpectedOutput', doc: 1, tc: 2 },
      { t: 'A', op: 10 },
    ])
    assertViolation(checkRound(start, outputLog, start).violations, /the output of input node 2 of document 1: it should be gone/)
  })

  it('flags an acknowledged create that is missing, and the nodes lost with a document', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'createProblem' },
      { t: 'A', op: 10, id: 5 },
      { t: 'I', op: 11, kind: 'addTestCase', doc: 1 },
      { t: 'A', op: 11, id: 6 },
    ])
    const result = checkRound(start, log, start)
    assertViolation(result.violations, /^document 5: it is missing/)
    assertViolation(result.violations, /input node 6 of document 1: it is missing/)
    const lost = checkRound(start, logOf([]), new Map())
    assertViolation(lost.violations, /input node 2 of document 1: it is missing/)
    assertViolation(lost.violations, /the output of input node 2 of document 1: it is missing/)
  })

  it('flags data that no logged write produced', () => {
    const extra = snapshot({ 1: { html: 1, testCases: { 2: { value: 2, output: 3 }, 9: { value: 99 } } }, 8: { html: 98 } })
    const result = checkRound(start, logOf([]), extra)
    assertViolation(result.violations, /unexpected input node 9 of document 1: no logged write produced it/)
    assertViolation(result.violations, /unexpected document 8: no logged write produced it/)
  })

  it('flags a state that no crash can produce: a later write kept while an earlier one is lost', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'updateProblemHtml', doc: 1 },
      { t: 'I', op: 11, kind: 'updateTestCase', doc: 1, tc: 2 },
    ])
    const later = snapshot({ 1: { html: 1, createdBy: 1, testCases: { 2: { value: 11, output: 3 } } } })
    const result = checkRound(start, log, later)
    assertViolation(result.violations, /not the result of any prefix of the writes/)
  })

  it('flags a write acknowledged where the store should have refused it, and a refusal of a valid write', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'deleteTestCase', doc: 1, tc: 2 },
      { t: 'A', op: 10 },
      { t: 'I', op: 11, kind: 'updateTestCase', doc: 1, tc: 2 },
      { t: 'A', op: 11 },
      { t: 'I', op: 12, kind: 'updateProblemHtml', doc: 1 },
      { t: 'F', op: 12, code: 'NOT_FOUND' },
    ])
    const result = checkRound(start, log, snapshot({ 1: { html: 1 } }))
    assertViolation(result.violations, /op 11 .*acknowledged, but .* refused it with NOT_FOUND/)
    assertViolation(result.violations, /op 12 .*refused with NOT_FOUND, but .* should have succeeded/)
  })

  it('flags an acknowledged id that is not above the ids issued before it', () => {
    const log = logOf([
      { t: 'I', op: 10, kind: 'createProblem' },
      { t: 'A', op: 10, id: 2 },
    ])
    const result = checkRound(start, log, snapshot({ 1: { html: 1, testCases: { 2: { value: 2, output: 3 } } }, 2: { html: 10 } }))
    assertViolation(result.violations, /was given id 2, not above every id issued before it/)
  })

  it('ignores a last log line cut by the kill, and reports a malformed complete line', () => {
    const cut = logOf([{ t: 'I', op: 10, kind: 'updateTestCase', doc: 1, tc: 2 }], '{"t":"A","op":1')
    assert.equal(cut.entries.length, 1)
    assert.equal(cut.cutTailBytes, 15)
    assert.deepEqual(checkRound(start, cut, start).violations, [])
    const broken = parseLog('{"t":"A"}\nnot json\n')
    assert.equal(broken.malformed.length, 2)
    assertViolation(checkRound(start, broken, start).violations, /malformed line/)
  })

  it('catches a real store that was changed behind the log’s back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-checker-'))
    try {
      // A real round: writes logged the way the crash writer logs them.
      const entries: LogEntry[] = []
      let store = await openStore({ dir })
      entries.push({ t: 'I', op: 10, kind: 'createProblem' })
      const docId = await store.createProblem(htmlForOp(10), metaForOp(10))
      entries.push({ t: 'A', op: 10, id: docId })
      entries.push({ t: 'I', op: 11, kind: 'addTestCase', doc: docId })
      const tcId = await store.addTestCase(docId, valueForOp(11))
      entries.push({ t: 'A', op: 11, id: tcId })
      entries.push({ t: 'I', op: 12, kind: 'setExpectedOutput', doc: docId, tc: tcId })
      await store.setExpectedOutput(docId, tcId, valueForOp(12))
      entries.push({ t: 'A', op: 12 })
      const probes = { docIds: [docId], testCases: [[docId, tcId]] as Array<[number, number]> }
      const honest = await observeStore(store, probes)
      assert.deepEqual(honest.problems, [])
      assert.deepEqual(checkRound(new Map(), logOf(entries), honest.snapshot).violations, [])

      // Writes the log does not know of: the checker must see each.
      await store.updateTestCase(docId, tcId, valueForOp(500))
      await store.deleteExpectedOutput(docId, tcId)
      await store.close()
      store = await openStore({ dir })
      const tampered = await observeStore(store, probes)
      await store.close()
      const violations = checkRound(new Map(), logOf(entries), tampered.snapshot).violations
      assertViolation(violations, new RegExp(`input node ${tcId} of document ${docId}: it holds a stale or foreign value`))
      assertViolation(violations, new RegExp(`the output of input node ${tcId} of document ${docId}: it is missing`))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

// ------------------------------------------------------------------ the crash loop

describe('crash safety under SIGKILL', () => {
  const seed = process.env.STRATUM_CRASH_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.STRATUM_CRASH_SEED)

  it('keeps every acknowledged write across 25 kills of a loaded writer, on one store reopened each time', { timeout: 120_000 }, async (t) => {
    const result = await runCrashLoop({ kills: 25, seed })
    t.diagnostic(result.summary)
    assert.deepEqual(result.violations, [], `seed ${seed}: ${result.summary}`)
    assert.equal(result.kills, 25)
    // The loop must have exercised something: acknowledged writes, and writes caught in flight.
    assert.ok(result.acknowledged > 1000, result.summary)
    assert.ok(result.inFlight > 0, result.summary)
    assert.ok(result.segmentsCreated > 5, result.summary)
    assert.ok(result.compactingRounds > 0, result.summary)
    // Each round's changes were read back from the log and folded onto the round's start.
    assert.ok(result.watchedChanges > 1000, result.summary)
  })

  it('catches acknowledged writes lost at a kill (a deliberately lossy run)', { timeout: 60_000 }, async (t) => {
    // As if the engine acknowledged before syncing and the kill were a power cut: the last 16 KiB
    // of the newest segment go. The loop stops at the first round with a violation.
    const result = await runCrashLoop({ kills: 5, seed, loseTailBytesAfterKill: 16 * 1024, killDuringOpenShare: 0 })
    t.diagnostic(result.violations[0] ?? 'no violation')
    if (result.keptDir !== undefined) fs.rmSync(result.keptDir, { recursive: true, force: true })
    assertViolation(result.violations, /: it is missing|: it holds a stale or foreign value|: it should be gone/)
  })
})
