/**
 * Bit flips on real files: bytes of sealed and newest segments changed at random (seeded), the
 * store reopened, and every read compared with what the rules of docs/format.md#recovery say it
 * must return. The rules, as this test's oracle applies them:
 *
 *   - A record whose payload is hit keeps its (checksummed) header: it is indexed as damaged and
 *     reported in `damagedRecords`; reads of it reject with CORRUPTION and no older version of it
 *     shows through.
 *   - A record whose header is hit is unknown: its bytes, and any damaged records after them, are
 *     skipped to the next whole valid record and reported in `damagedRanges`. What it held is
 *     gone: the item reads as absent, or as its previous version if it had one.
 *   - Every record not hit reads back exactly, unless an item it depends on was lost (a node of a
 *     document that is gone). No hit record is ever returned as data.
 *
 * The store must open in every case, and report the damage through stats() and onWarning.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { decodeMeta } from '../src/engine/document-meta.ts'
import { isStratumError } from '../src/engine/errors.ts'
import { recordHeaderBytes, segmentHeaderBytes } from '../src/engine/limits.ts'
import { RecordKind } from '../src/engine/record.ts'
import type { DamagedRange, DamagedRecord } from '../src/engine/recovery.ts'
import { openStore, type Store } from '../src/engine/store.ts'
import { decodeValue, type Value } from '../src/engine/values.ts'
import { canonicalValue, htmlForOp, seededRandom, valueForOp } from './crash/ops.ts'
import { copyStore, makeTempDir, Recorder, segmentNumbers, segmentPath, type ParsedRecord } from './support/fixture.ts'

const segmentSizeBytes = 4096

/** A record of the undamaged store, with what a read of it returns. */
interface PristineRecord extends ParsedRecord {
  /** html, JSON of the metadata object, or canonical value; undefined for tombstones. */
  content: string | undefined
}

interface Fixture {
  dir: string
  records: PristineRecord[]
  segmentSizes: Map<number, number>
  newestSegment: number
}

/** Twenty documents with nodes, outputs, updates and deletions, spread over several segments. */
async function buildFixture(dir: string): Promise<Fixture> {
  const store = await openStore({ dir, segmentSizeBytes })
  const recorder = new Recorder(store)
  let op = 1
  const value = (): Value => valueForOp(op++)
  const docs: Array<{ id: number; tcIds: number[] }> = []
  for (let index = 0; index < 20; index++) {
    const id = await recorder.createProblem(htmlForOp(op++).slice(0, 40 + index * 9), { title: `title ${op++}`, level: String(index % 3) })
    const tcIds: number[] = []
    for (let node = 0; node < 5; node++) tcIds.push(await recorder.addTestCase(id, value()))
    for (let node = 0; node < 3; node++) await recorder.setExpectedOutput(id, tcIds[node]!, value())
    await recorder.updateTestCase(id, tcIds[1]!, value())
    docs.push({ id, tcIds })
  }
  // A second pass, so that items have versions in several segments, and deletions.
  for (const [index, { id, tcIds }] of docs.entries()) {
    await recorder.updateTestCase(id, tcIds[0]!, value())
    await recorder.updateExpectedOutput(id, tcIds[0]!, value())
    if (index % 3 === 0) await recorder.updateProblemHtml(id, `<p>rewritten ${op++}</p>`)
    if (index % 3 === 1) await recorder.updateProblemColumn(id, 'title', `retitled ${op++}`)
    if (index % 4 === 0) await recorder.deleteTestCase(id, tcIds[4]!)
    if (index % 4 === 1) await recorder.deleteExpectedOutput(id, tcIds[2]!)
    if (index % 7 === 6) await recorder.deleteProblem(id)
  }
  for (const { id, tcIds } of docs.slice(0, 4)) await recorder.updateTestCase(id, tcIds[3]!, value())
  await store.close()
  const parsed = recorder.attachRecords(dir)
  const segmentSizes = new Map(segmentNumbers(dir).map((number) => [number, fs.statSync(segmentPath(dir, number)).size]))
  const files = new Map([...segmentSizes.keys()].map((number) => [number, fs.readFileSync(segmentPath(dir, number))]))
  const records = parsed.map((record): PristineRecord => {
    const bytes = files.get(record.segmentNumber)!
    const start = record.offset + recordHeaderBytes
    const end = record.offset + record.sizeBytes
    let content: string | undefined
    if (record.kind === RecordKind.docBlob) content = bytes.toString('utf8', start, end)
    else if (record.kind === RecordKind.docMeta) content = JSON.stringify(Object.fromEntries(decodeMeta(bytes, start, end)))
    else if (record.kind === RecordKind.inputPut || record.kind === RecordKind.outputPut) content = canonicalValue(decodeValue(bytes, start, end))
    return { ...record, content }
  })
  const newestSegment = Math.max(...segmentSizes.keys())
  assert.ok(newestSegment >= 5, `the fixture spans ${newestSegment} segments`)
  assert.ok(records.filter((record) => record.segmentNumber === newestSegment).length >= 8, 'the newest segment holds records')
  return { dir, records, segmentSizes, newestSegment }
}

// ------------------------------------------------------------------ the oracle

type Outcome = { data: string } | { corruption: true } | { absent: true }

interface Expected {
  damagedRecords: DamagedRecord[]
  damagedRanges: DamagedRange[]
  docs: number[]
  html: Map<number, Outcome>
  meta: Map<number, Outcome>
  /** By node id: its document, value and output. */
  testCases: Map<number, { docId: number; value: Outcome; output: Outcome }>
  counts: { documents: number; inputNodes: number; outputNodes: number }
  /** Records hit by a flip, with content: none of it may be returned by any read. */
  hitContents: Set<string>
}

/** What the store must report and return after the bytes at `flips` (segment, offset) changed. */
function expectAfterFlips(fixture: Fixture, flips: ReadonlyArray<readonly [number, number]>): Expected {
  // Bytes 0..3 of a record are its header checksum. Alone, a flip there harms nothing: the record
  // checksum, which covers every other byte, still vouches for the record. With another flip in the
  // same record, neither checksum holds and the header cannot be trusted.
  const flipsIn = new Map<PristineRecord, { headerCrc: boolean; header: boolean; payload: boolean }>()
  for (const [segmentNumber, position] of flips) {
    const record = fixture.records.find((r) => r.segmentNumber === segmentNumber && r.offset <= position && position < r.offset + r.sizeBytes)
    assert.ok(record !== undefined, `flip at ${segmentNumber}:${position} is inside a record`)
    const where = flipsIn.get(record) ?? { headerCrc: false, header: false, payload: false }
    if (position < record.offset + 4) where.headerCrc = true
    else if (position < record.offset + recordHeaderBytes) where.header = true
    else where.payload = true
    flipsIn.set(record, where)
  }
  const hit = new Map<PristineRecord, 'header' | 'payload'>()
  for (const [record, where] of flipsIn) {
    if (where.header || (where.headerCrc && where.payload)) hit.set(record, 'header')
    else if (where.payload) hit.set(record, 'payload')
  }
  // Scan each segment as recovery does: a header hit starts a range that ends at the next record
  // that is whole and valid; a payload hit outside a range is a damaged record.
  const status = new Map<PristineRecord, 'ok' | 'corrupt' | 'lost'>()
  const damagedRecords: DamagedRecord[] = []
  const damagedRanges: DamagedRange[] = []
  for (const [segmentNumber, sizeBytes] of fixture.segmentSizes) {
    let rangeStart: number | undefined
    let lastWhole = -1
    const inSegment = fixture.records.filter((record) => record.segmentNumber === segmentNumber)
    for (const [index, record] of inSegment.entries()) {
      const damage = hit.get(record)
      if (damage === undefined) lastWhole = index
      if (rangeStart !== undefined) {
        if (damage === undefined) {
          damagedRanges.push({ segmentNumber, offset: rangeStart, lengthBytes: record.offset - rangeStart })
          rangeStart = undefined
          status.set(record, 'ok')
        } else status.set(record, 'lost')
      } else if (damage === 'header') {
        rangeStart = record.offset
        status.set(record, 'lost')
      } else if (damage === 'payload') {
        status.set(record, 'corrupt')
        damagedRecords.push({ segmentNumber, offset: record.offset, id: record.id, kind: record.kind })
      } else status.set(record, 'ok')
    }
    if (rangeStart !== undefined) damagedRanges.push({ segmentNumber, offset: rangeStart, lengthBytes: sizeBytes - rangeStart })
    if (segmentNumber === fixture.newestSegment) {
      // Damage with no whole record after it in the newest segment would be a torn tail instead.
      const lastDamaged = inSegment.findLastIndex((record) => hit.has(record))
      assert.ok(lastDamaged < lastWhole, 'the test keeps valid records after every flip in the newest segment')
    }
  }

  // Per id and column the visible record with the highest seq wins; a visible tombstone is final.
  const winners = new Map<string, PristineRecord>()
  const dead = new Set<number>()
  const parentOf = new Map<number, number>()
  for (const record of fixture.records) {
    if (record.kind === RecordKind.inputPut) parentOf.set(record.id, record.parentId)
    if (status.get(record) === 'lost') continue
    // A column's name, for readers of the log: it indexes nothing.
    if (record.kind === RecordKind.columnName) continue
    if (record.kind === RecordKind.docDelete || record.kind === RecordKind.inputDelete) {
      dead.add(record.id)
      continue
    }
    const column = record.kind === RecordKind.docBlob || record.kind === RecordKind.inputPut ? 'a' : 'b'
    const key = `${record.id}|${column}`
    const current = winners.get(key)
    if (current === undefined || current.seq < record.seq) winners.set(key, record)
  }
  const outcomeOf = (record: PristineRecord | undefined): Outcome => {
    if (record === undefined || record.kind === RecordKind.outputDelete) return { absent: true }
    return status.get(record) === 'corrupt' ? { corruption: true } : { data: record.content! }
  }
  // A document exists while it is not deleted and anything of it survives: its blob, its
  // metadata, or a live node. A record of it that was lost in a damaged range reads as CORRUPTION.
  const docIds = [...new Set(fixture.records.filter((r) => r.kind === RecordKind.docBlob).map((r) => r.id))].sort((a, b) => a - b)
  const hasLiveNode = (docId: number): boolean =>
    [...parentOf].some(([tcId, parentId]) => parentId === docId && !dead.has(tcId) && winners.has(`${tcId}|a`))
  const liveDocs = docIds.filter((id) => !dead.has(id) && (winners.has(`${id}|a`) || winners.has(`${id}|b`) || hasLiveNode(id)))
  const html = new Map<number, Outcome>()
  const meta = new Map<number, Outcome>()
  const lostOr = (record: PristineRecord | undefined): Outcome => (record === undefined ? { corruption: true } : outcomeOf(record))
  for (const id of docIds) {
    const live = liveDocs.includes(id)
    html.set(id, live ? lostOr(winners.get(`${id}|a`)) : { absent: true })
    meta.set(id, live ? lostOr(winners.get(`${id}|b`)) : { absent: true })
  }
  const testCases = new Map<number, { docId: number; value: Outcome; output: Outcome }>()
  let inputNodes = 0
  let outputNodes = 0
  for (const [tcId, docId] of parentOf) {
    const live = liveDocs.includes(docId) && !dead.has(tcId) && winners.has(`${tcId}|a`)
    const output = live ? outcomeOf(winners.get(`${tcId}|b`)) : { absent: true as const }
    testCases.set(tcId, { docId, value: live ? outcomeOf(winners.get(`${tcId}|a`)) : { absent: true }, output })
    if (live) inputNodes++
    if (live && !('absent' in output)) outputNodes++
  }
  const hitContents = new Set([...hit.keys()].map((record) => record.content).filter((content): content is string => content !== undefined))
  return {
    damagedRecords,
    damagedRanges,
    docs: liveDocs,
    html,
    meta,
    testCases,
    counts: { documents: liveDocs.length, inputNodes, outputNodes },
    hitContents,
  }
}

// ------------------------------------------------------------------ checking a damaged store

function assertCorruption(error: unknown, id: number, context: string): void {
  assert.ok(isStratumError(error), `${context}: rejects with a StratumError, got ${String(error)}`)
  assert.equal(error.code, 'CORRUPTION', `${context}: code`)
  assert.match(error.message, /damaged/, `${context}: message`)
  assert.ok(error.message.includes(String(id)), `${context}: the message names id ${id}: ${error.message}`)
}

/** Runs `read` and checks it against `expected`; returns what it read, if anything. */
async function checkRead<T>(read: () => Promise<T | undefined>, expected: Outcome, show: (value: T) => string, id: number, context: string): Promise<string | undefined> {
  let result: T | undefined
  try {
    result = await read()
  } catch (error) {
    if ('corruption' in expected) {
      assertCorruption(error, id, context)
      return undefined
    }
    throw new Error(`${context}: expected ${JSON.stringify(expected)}, the read threw ${String(error)}`, { cause: error })
  }
  assert.ok(!('corruption' in expected), `${context}: must reject with CORRUPTION, read ${result === undefined ? 'nothing' : show(result)}`)
  if ('absent' in expected) {
    assert.equal(result, undefined, `${context}: must be absent`)
    return undefined
  }
  assert.ok(result !== undefined, `${context}: must read back, but is absent`)
  assert.equal(show(result), expected.data, `${context}: reads back exactly`)
  return show(result)
}

async function checkStore(store: Store, expected: Expected, context: string): Promise<void> {
  const returned: string[] = []
  const note = (data: string | undefined): void => {
    if (data !== undefined) returned.push(data)
  }
  assert.deepEqual((await store.listProblems({ limit: 1000 })).ids, expected.docs, `${context}: listProblems`)
  for (const [docId, outcome] of expected.html) {
    note(await checkRead(() => store.getProblemHtml(docId), outcome, (html) => html, docId, `${context}: html of document ${docId}`))
    note(await checkRead(() => store.getProblemMeta(docId), expected.meta.get(docId)!, (meta) => JSON.stringify(meta), docId, `${context}: metadata of document ${docId}`))
  }
  for (const [tcId, { docId, value, output }] of expected.testCases) {
    note(await checkRead(() => store.getTestCase(docId, tcId), value, canonicalValue, tcId, `${context}: node ${tcId} of document ${docId}`))
    note(await checkRead(() => store.getExpectedOutput(docId, tcId), output, canonicalValue, tcId, `${context}: output of node ${tcId} of document ${docId}`))
  }
  // A chain read fails as a whole when a record it needs is damaged; otherwise it is exact.
  for (const docId of expected.html.keys()) {
    const nodes = [...expected.testCases].filter(([, node]) => node.docId === docId && !('absent' in node.value)).sort(([a], [b]) => a - b)
    for (const includeOutputs of [false, true]) {
      const where = `${context}: getAllTestCases(${docId}, includeOutputs ${includeOutputs})`
      const damaged = nodes.find(([, node]) => 'corruption' in node.value || (includeOutputs && 'corruption' in node.output))
      const render = (page: { testCases: Array<{ tcId: number; value: Value; output?: Value }> }): string =>
        JSON.stringify(page.testCases.map((node) => [node.tcId, canonicalValue(node.value), node.output === undefined ? null : canonicalValue(node.output)]))
      const want: Outcome = !expected.docs.includes(docId)
        ? { absent: true }
        : damaged !== undefined
          ? { corruption: true }
          : { data: JSON.stringify(nodes.map(([tcId, node]) => [tcId, (node.value as { data: string }).data, includeOutputs && 'data' in node.output ? node.output.data : null])) }
      await checkRead(() => store.getAllTestCases(docId, { includeOutputs }), want, render, damaged?.[0] ?? docId, where)
    }
  }
  const stats = await store.stats()
  assert.deepEqual(
    { documents: stats.documents, inputNodes: stats.inputNodes, outputNodes: stats.outputNodes },
    expected.counts,
    `${context}: stats counts`,
  )
  for (const data of returned) assert.ok(!expected.hitContents.has(data), `${context}: a damaged record was returned as data: ${data.slice(0, 80)}`)
}

/** Copies the fixture, flips the bytes, opens the copy and checks everything. */
async function flipAndCheck(root: string, fixture: Fixture, flips: ReadonlyArray<readonly [number, number, number]>, context: string): Promise<Expected> {
  const dir = path.join(root, 'flipped')
  fs.rmSync(dir, { recursive: true, force: true })
  copyStore(fixture.dir, dir)
  for (const [segmentNumber, position, mask] of flips) {
    const fd = fs.openSync(segmentPath(dir, segmentNumber), 'r+')
    const byte = Buffer.alloc(1)
    fs.readSync(fd, byte, 0, 1, position)
    byte[0] = byte[0]! ^ mask
    fs.writeSync(fd, byte, 0, 1, position)
    fs.closeSync(fd)
  }
  const expected = expectAfterFlips(fixture, flips.map(([segmentNumber, position]) => [segmentNumber, position] as const))
  const warnings: Array<{ message: string; details: Record<string, unknown> }> = []
  const store = await openStore({ dir, segmentSizeBytes, onWarning: (message, details) => warnings.push({ message, details }) })
  try {
    const recovery = (await store.stats()).lastRecovery
    assert.equal(recovery.tornTail, null, `${context}: damage before valid records is not a torn tail`)
    assert.equal(recovery.damagedRecordCount, expected.damagedRecords.length, `${context}: damaged record count`)
    assert.deepEqual(recovery.damagedRecords, expected.damagedRecords, `${context}: damaged records`)
    assert.equal(recovery.damagedRangeCount, expected.damagedRanges.length, `${context}: damaged range count`)
    assert.deepEqual(recovery.damagedRanges, expected.damagedRanges, `${context}: damaged ranges`)
    // A lone flip in a header checksum (bytes 0..3) harms nothing: the record checksum vouches for
    // the record. Every other flip is damage, and is reported.
    const damaged = expected.damagedRecords.length + expected.damagedRanges.length > 0
    assert.deepEqual(
      warnings.map((warning) => warning.message),
      damaged ? ['the store holds damaged records; reads of them fail with CORRUPTION'] : [],
      `${context}: onWarning`,
    )
    if (damaged) {
      assert.equal(warnings[0]!.details.damagedRecordCount, expected.damagedRecords.length)
      assert.equal(warnings[0]!.details.damagedRangeCount, expected.damagedRanges.length)
    }
    // Nothing changed on disk: damage is reported, never truncated away outside a torn tail.
    for (const [segmentNumber, sizeBytes] of fixture.segmentSizes) assert.equal(fs.statSync(segmentPath(dir, segmentNumber)).size, sizeBytes)
    await checkStore(store, expected, context)
  } finally {
    await store.close()
  }
  return expected
}

describe('bit flips', () => {
  let root: string
  let fixture: Fixture

  before(async () => {
    root = makeTempDir('bitflip')
    fixture = await buildFixture(path.join(root, 'template'))
  })
  after(() => fs.rmSync(root, { recursive: true, force: true }))

  /** The newest version of a live node's value in a sealed segment, that has an older version. */
  function updatedNodeRecord(): PristineRecord {
    const found = fixture.records.find((record) => {
      if (record.kind !== RecordKind.inputPut || record.segmentNumber === fixture.newestSegment) return false
      const versions = fixture.records.filter((other) => other.id === record.id && other.kind === RecordKind.inputPut)
      const deleted = fixture.records.some((other) => (other.id === record.id && other.kind === RecordKind.inputDelete) || (other.id === record.parentId && other.kind === RecordKind.docDelete))
      return !deleted && versions.length > 1 && versions[versions.length - 1] === record
    })
    assert.ok(found !== undefined)
    return found
  }

  it('reports a bad checksum mid-segment as CORRUPTION, never as data (nor its older version)', async () => {
    const record = updatedNodeRecord()
    const expected = await flipAndCheck(root, fixture, [[record.segmentNumber, record.offset + recordHeaderBytes + 1, 0x10]], 'payload flip')
    assert.deepEqual(expected.damagedRecords, [{ segmentNumber: record.segmentNumber, offset: record.offset, id: record.id, kind: RecordKind.inputPut }])
    assert.deepEqual(expected.testCases.get(record.id)!.value, { corruption: true })
  })

  it('skips a record whose header is damaged and reports its bytes as a damaged range', async () => {
    // An output never updated: with its only record gone, the output reads as absent.
    const record = fixture.records.find((r) => {
      if (r.kind !== RecordKind.outputPut || r.segmentNumber === fixture.newestSegment) return false
      return fixture.records.filter((other) => other.id === r.id && (other.kind === RecordKind.outputPut || other.kind === RecordKind.outputDelete)).length === 1
    })!
    const expected = await flipAndCheck(root, fixture, [[record.segmentNumber, record.offset + 20, 0x01]], 'header flip')
    assert.deepEqual(expected.damagedRanges, [{ segmentNumber: record.segmentNumber, offset: record.offset, lengthBytes: record.sizeBytes }])
    assert.deepEqual(expected.testCases.get(record.id)!.output, { absent: true })
  })

  /** What the random flips exercised, so that a run that tests little shows it. */
  function tally(all: Expected[]): { damagedRecords: number; damagedRanges: number; corruptReads: number; absentAfterDamage: number } {
    let corruptReads = 0
    for (const expected of all) {
      for (const outcome of [...expected.html.values(), ...expected.meta.values()]) if ('corruption' in outcome) corruptReads++
      for (const node of expected.testCases.values()) for (const outcome of [node.value, node.output]) if ('corruption' in outcome) corruptReads++
    }
    return {
      damagedRecords: all.reduce((sum, expected) => sum + expected.damagedRecords.length, 0),
      damagedRanges: all.reduce((sum, expected) => sum + expected.damagedRanges.length, 0),
      corruptReads,
      absentAfterDamage: all.filter((expected) => expected.counts.inputNodes < undamaged.counts.inputNodes || expected.counts.outputNodes < undamaged.counts.outputNodes).length,
    }
  }
  let undamaged: Expected

  it('survives random bit flips in the middle of sealed segments, reporting each', async (t) => {
    undamaged = expectAfterFlips(fixture, [])
    const all: Expected[] = []
    const sealed = [...fixture.segmentSizes.keys()].filter((number) => number !== fixture.newestSegment)
    for (let seed = 1; seed <= 30; seed++) {
      const random = seededRandom(seed)
      const segmentNumber = sealed[Math.floor(random() * sealed.length)]!
      const sizeBytes = fixture.segmentSizes.get(segmentNumber)!
      const span = sizeBytes - segmentHeaderBytes
      const flips: Array<[number, number, number]> = []
      for (let count = 1 + Math.floor(random() * 3); count > 0; count--) {
        const position = segmentHeaderBytes + Math.floor(span / 4 + random() * (span / 2))
        flips.push([segmentNumber, position, 1 + Math.floor(random() * 255)])
      }
      all.push(await flipAndCheck(root, fixture, flips, `seed ${seed}, segment ${segmentNumber}, flips at ${flips.map(([, position]) => position).join(', ')}`))
    }
    const exercised = tally(all)
    t.diagnostic(JSON.stringify(exercised))
    assert.ok(exercised.damagedRecords > 0 && exercised.damagedRanges > 0 && exercised.corruptReads > 0 && exercised.absentAfterDamage > 0)
  })

  it('survives random bit flips in the newest segment with valid records after them, reporting them as corruption', async (t) => {
    undamaged = expectAfterFlips(fixture, [])
    const all: Expected[] = []
    const inNewest = fixture.records.filter((record) => record.segmentNumber === fixture.newestSegment)
    const limit = inNewest[inNewest.length - 3]!.offset // the last three records stay whole
    for (let seed = 101; seed <= 130; seed++) {
      const random = seededRandom(seed)
      const flips: Array<[number, number, number]> = []
      for (let count = 1 + Math.floor(random() * 3); count > 0; count--) {
        flips.push([fixture.newestSegment, segmentHeaderBytes + Math.floor(random() * (limit - segmentHeaderBytes)), 1 + Math.floor(random() * 255)])
      }
      all.push(await flipAndCheck(root, fixture, flips, `seed ${seed}, newest segment, flips at ${flips.map(([, position]) => position).join(', ')}`))
    }
    const exercised = tally(all)
    t.diagnostic(JSON.stringify(exercised))
    assert.ok(exercised.damagedRecords > 0 && exercised.damagedRanges > 0 && exercised.corruptReads > 0)
  })

  it('fails a read with CORRUPTION when a record is damaged on disk while the store is open', async () => {
    const dir = path.join(root, 'open-flip')
    fs.rmSync(dir, { recursive: true, force: true })
    copyStore(fixture.dir, dir)
    const store = await openStore({ dir, segmentSizeBytes })
    try {
      const flipOnDisk = (record: PristineRecord, offsetInRecord: number): void => {
        const fd = fs.openSync(segmentPath(dir, record.segmentNumber), 'r+')
        const byte = Buffer.alloc(1)
        fs.readSync(fd, byte, 0, 1, record.offset + offsetInRecord)
        byte[0] = byte[0]! ^ 0x40
        fs.writeSync(fd, byte, 0, 1, record.offset + offsetInRecord)
        fs.closeSync(fd)
      }
      // Each record is flipped before anything near it is read, so no read of it can come from memory.
      const value = updatedNodeRecord()
      flipOnDisk(value, value.sizeBytes - 1)
      await assert.rejects(store.getTestCase(value.parentId, value.id), (error) => {
        assertCorruption(error, value.id, 'a node value flipped while open')
        assert.match((error as Error).message, /checksum/)
        return true
      })
      await assert.rejects(store.getAllTestCases(value.parentId), (error) => {
        assertCorruption(error, value.id, 'a chain holding it')
        return true
      })
      const blob = fixture.records.filter((r) => r.kind === RecordKind.docBlob && r.segmentNumber === fixture.newestSegment).at(-1)
      assert.ok(blob !== undefined, 'a document blob in the newest segment')
      flipOnDisk(blob, recordHeaderBytes + 2)
      await assert.rejects(store.getProblemHtml(blob.id), (error) => {
        assertCorruption(error, blob.id, 'html flipped while open')
        return true
      })
      const recovery = (await store.stats()).lastRecovery
      assert.equal(recovery.damagedRecordCount + recovery.damagedRangeCount, 0, 'the damage came after the open')
    } finally {
      await store.close()
    }
  })

  it(
    'keeps a document whose only blob record lost its header: its metadata and nodes read back, its html fails with CORRUPTION',
    async () => {
      const blob = fixture.records.find(
        (r) =>
          r.kind === RecordKind.docBlob &&
          r.segmentNumber !== fixture.newestSegment &&
          fixture.records.filter((other) => other.id === r.id && (other.kind === RecordKind.docBlob || other.kind === RecordKind.docDelete)).length === 1,
      )!
      const dir = path.join(root, 'blob-header')
      fs.rmSync(dir, { recursive: true, force: true })
      copyStore(fixture.dir, dir)
      const fd = fs.openSync(segmentPath(dir, blob.segmentNumber), 'r+')
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, blob.offset + 30)
      fs.closeSync(fd)
      const store = await openStore({ dir, segmentSizeBytes, onWarning: () => undefined })
      try {
        const nodes = fixture.records.filter((r) => r.kind === RecordKind.inputPut && r.parentId === blob.id)
        assert.ok(nodes.length > 0)
        assert.deepEqual((await store.listProblems({ limit: 1000 })).ids.includes(blob.id), true, 'the document is still listed')
        await assert.rejects(store.getProblemHtml(blob.id), (error) => {
          assertCorruption(error, blob.id, 'its html')
          return true
        })
        assert.ok((await store.getProblemMeta(blob.id)) !== undefined, 'its metadata reads back')
        assert.ok((await store.getAllTestCases(blob.id)) !== undefined, 'its nodes read back')
      } finally {
        await store.close()
      }
    },
  )
})
