/**
 * Torn tails on real files: the newest segment cut at every byte of its last writes, or extended
 * with garbage, as a crash or power cut mid-append leaves it. Every cut must open; every write
 * wholly before the cut must read back exactly; the write the cut went through must be gone (all
 * of it: a document create is two records); the truncation must be reported and done on disk; and
 * the store must take new writes and reopen cleanly afterwards.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { recordHeaderBytes, segmentHeaderBytes } from '../src/engine/limits.ts'
import { RecordKind } from '../src/engine/record.ts'
import { openStore } from '../src/engine/store.ts'
import { double, int64, int64List, string, stringList, stringMap } from '../src/engine/values.ts'
import { observeStore, type Snapshot } from './crash/checker.ts'
import { canonicalValue, opOfValue } from './crash/ops.ts'
import { contentAfter, copyStore, makeTempDir, plain, Recorder, segmentNumbers, segmentPath, type RecordedWrite } from './support/fixture.ts'

const segmentSizeBytes = 4096

interface Fixture {
  dir: string
  writes: RecordedWrite[]
  /** The last writes, all in the newest segment: the ones the cuts go through. */
  tail: RecordedWrite[]
  newestSegment: number
  newestSizeBytes: number
  /** A document to add nodes to after a cut. */
  docId: number
}

/**
 * A store of three segments whose newest one ends with: an input node, a document create (two
 * records), an output and a metadata update.
 */
async function buildFixture(dir: string): Promise<Fixture> {
  const store = await openStore({ dir, segmentSizeBytes })
  const recorder = new Recorder(store)
  const docId = await recorder.createProblem('<p>Add two numbers</p>', { title: 'A+B', author: 'someone' })
  const tcIds: number[] = []
  for (let index = 0; index < 6; index++) tcIds.push(await recorder.addTestCase(docId, int64List([index, index + 1])))
  await recorder.setExpectedOutput(docId, tcIds[0]!, int64(1))
  await recorder.setExpectedOutput(docId, tcIds[1]!, int64(3))
  await recorder.setExpectedOutput(docId, tcIds[2]!, int64(5))
  await recorder.updateTestCase(docId, tcIds[1]!, string('updated'))
  await recorder.deleteTestCase(docId, tcIds[3]!)
  await recorder.deleteExpectedOutput(docId, tcIds[2]!)
  await recorder.updateProblemHtml(docId, '<p>Add two integers</p>')
  const doomed = await recorder.createProblem('<p>to delete</p>', {})
  await recorder.addTestCase(doomed, int64(42))
  await recorder.deleteProblem(doomed)
  // Fill two segments, so that the newest segment follows sealed ones.
  for (let fill = 0; (await store.stats()).activeSegmentNumber < 3; fill++) {
    await recorder.updateTestCase(docId, tcIds[4]!, string(`fill ${fill} ${'z'.repeat(200)}`))
  }
  await recorder.addTestCase(docId, double(2.5))
  const tailStart = recorder.writes.length
  const lastTc = await recorder.addTestCase(docId, stringList(['a', 'b']))
  await recorder.createProblem('<p>Third</p>', { title: 'C' })
  await recorder.setExpectedOutput(docId, lastTc, stringMap({ k: 'v' }))
  await recorder.updateProblemColumn(docId, 'title', 'A plus B')
  await store.close()
  recorder.attachRecords(dir)
  const tail = recorder.writes.slice(tailStart)
  const newestSegment = Math.max(...segmentNumbers(dir))
  assert.equal(newestSegment, 3)
  for (const write of recorder.writes.slice(tailStart - 2)) {
    for (const record of write.records) assert.equal(record.segmentNumber, newestSegment, `${write.label} is in the newest segment`)
  }
  assert.deepEqual(
    tail.flatMap((write) => write.records.map((record) => record.kind)),
    [RecordKind.inputPut, RecordKind.docBlob, RecordKind.docMeta, RecordKind.outputPut, RecordKind.columnName, RecordKind.docMeta],
  )
  const newestSizeBytes = fs.statSync(segmentPath(dir, newestSegment)).size
  const lastWrite = tail[tail.length - 1]!
  const lastRecord = lastWrite.records[lastWrite.records.length - 1]!
  // A clean close ends the segment with a syncMark (one record header) after the last write.
  assert.equal(lastRecord.offset + lastRecord.sizeBytes + recordHeaderBytes, newestSizeBytes)
  return { dir, writes: recorder.writes, tail, newestSegment, newestSizeBytes, docId }
}

function writeStart(write: RecordedWrite): number {
  return write.records[0]!.offset
}

function writeEnd(write: RecordedWrite): number {
  const last = write.records[write.records.length - 1]!
  return last.offset + last.sizeBytes
}

/**
 * Opens the damaged copy in `dir` and checks it holds exactly `expected`, that the torn tail was
 * reported as `tornTail` and cut on disk at `keptBytes`; then writes, reopens and checks again.
 * An open whose newest segment does not end with a syncMark (anything but the whole file) syncs it
 * and appends one, which carries the sequence counter's jump: the file then ends 40 bytes past
 * the cut. A segment started over (its header was cut) gets one for the jump too.
 */
async function checkRecovered(
  dir: string,
  fixture: Fixture,
  expected: Snapshot,
  tornTail: { offset: number; droppedBytes: number } | null,
  keptBytes: number,
  context: string,
): Promise<void> {
  const warnings: string[] = []
  let store = await openStore({ dir, segmentSizeBytes, onWarning: (message) => warnings.push(message) })
  try {
    const newestPath = segmentPath(dir, fixture.newestSegment)
    const markBytes = keptBytes === fixture.newestSizeBytes ? 0 : recordHeaderBytes
    assert.equal(fs.statSync(newestPath).size, keptBytes + markBytes, `${context}: the file is cut back to the last whole write (and proven)`)
    const stats = await store.stats()
    const { keptIn, ...reported } = stats.lastRecovery.tornTail ?? { keptIn: undefined }
    assert.deepEqual(
      stats.lastRecovery.tornTail === null ? null : reported,
      tornTail === null ? null : { segmentNumber: fixture.newestSegment, ...tornTail },
      `${context}: the torn tail reported`,
    )
    // What was cut is kept beside the segment (unless it was only zeros), byte for byte.
    if (keptIn !== undefined) assert.equal(fs.statSync(path.join(dir, keptIn)).size, tornTail?.droppedBytes, `${context}: the torn bytes kept`)
    assert.equal(stats.lastRecovery.damagedRecordCount, 0, `${context}: a torn tail is not damage`)
    assert.equal(stats.lastRecovery.damagedRangeCount, 0, `${context}: a torn tail is not damage`)
    assert.equal(stats.activeSegmentBytes, keptBytes + markBytes, `${context}: appends continue where the kept bytes end`)
    assert.deepEqual(warnings, tornTail === null ? [] : ['truncated a torn write at the end of the log'], context)
    const observed = await observeStore(store)
    assert.deepEqual(observed.problems, [], context)
    assert.deepEqual(plain(observed.snapshot), plain(expected), `${context}: every write before the cut, and nothing else`)

    // The store goes on: new writes land after the kept bytes and survive a reopen.
    const value = int64(9_000_000_001)
    const tcId = await store.addTestCase(fixture.docId, value)
    const html = '<p>after the cut</p>'
    const newDoc = await store.createProblem(html, { title: 'later' })
    await store.close()
    expected.get(fixture.docId)!.testCases.set(tcId, { value: canonicalValue(value), valueOp: opOfValue(value), output: undefined })
    expected.set(newDoc, { html, meta: { title: 'later' }, testCases: new Map() })

    store = await openStore({ dir, segmentSizeBytes })
    const reopened = await store.stats()
    assert.equal(reopened.lastRecovery.tornTail, null, `${context}: the second open finds a clean tail`)
    assert.equal(reopened.lastRecovery.damagedRecordCount + reopened.lastRecovery.damagedRangeCount, 0, context)
    const again = await observeStore(store)
    assert.deepEqual(again.problems, [], context)
    assert.deepEqual(plain(again.snapshot), plain(expected), `${context}: after a write and a reopen`)
  } finally {
    await store.close()
  }
}

describe('torn tails', () => {
  let root: string
  let fixture: Fixture

  before(async () => {
    root = makeTempDir('torn')
    fixture = await buildFixture(path.join(root, 'template'))
  })
  after(() => fs.rmSync(root, { recursive: true, force: true }))

  it('truncates a record cut short at the tail on open, at every byte of the last six records', async () => {
    const { tail, writes } = fixture
    const firstTailWrite = writes.indexOf(tail[0]!)
    const from = writeStart(tail[0]!)
    let cuts = 0
    let torn = 0
    let zeroCuts = 0
    const newestBytes = fs.readFileSync(segmentPath(fixture.dir, fixture.newestSegment))
    for (let cutAt = from; cutAt <= fixture.newestSizeBytes; cutAt++) {
      // The writes wholly before the cut stay; the one the cut goes through is dropped whole.
      const kept = writes.filter((write, index) => index < firstTailWrite || writeEnd(write) <= cutAt)
      const cutWrite = tail.find((write) => writeStart(write) < cutAt && cutAt < writeEnd(write))
      // The syncMark written on close is a group of its own: cut, it goes whole too.
      const markStart = fixture.newestSizeBytes - recordHeaderBytes
      const cutStart = cutWrite !== undefined ? writeStart(cutWrite) : markStart < cutAt && cutAt < fixture.newestSizeBytes ? markStart : undefined
      // Bytes cut that are all zeros (a record's first byte can be 0: its checksum is seeded at
      // random) read as the zeros written ahead of the tail: the end of the log, not reported.
      const allZeros = cutStart !== undefined && newestBytes.subarray(cutStart, cutAt).every((byte) => byte === 0)
      if (allZeros) zeroCuts++
      const tornTail = cutStart === undefined || allZeros ? null : { offset: cutStart, droppedBytes: cutAt - cutStart }
      const dir = path.join(root, `cut-${cutAt}`)
      copyStore(fixture.dir, dir)
      fs.truncateSync(segmentPath(dir, fixture.newestSegment), cutAt)
      await checkRecovered(dir, fixture, contentAfter(kept), tornTail, cutStart ?? cutAt, `cut at ${cutAt} (${cutWrite?.label ?? (cutStart === undefined ? 'a write boundary' : 'the sync mark')})`)
      fs.rmSync(dir, { recursive: true, force: true })
      cuts++
      if (tornTail !== null) torn++
    }
    assert.ok(cuts > 5 * recordHeaderBytes, `${cuts} cuts`)
    assert.equal(torn, cuts - (tail.length + 2) - zeroCuts, 'every cut but the write boundaries (the first, each end, the sync mark\'s end) is a torn tail')
  })

  it('drops a document create cut in or before its second record as one write, and later writes never complete it', async () => {
    // A create is two records, the first flagged BATCH_CONTINUES. Were only the cut record dropped,
    // the first would be left at the end of the file, and the next write appended after it would
    // complete the batch on the next open: a document that was never acknowledged would appear, and
    // the new write (given the id the torn create had taken) would be lost.
    const create = fixture.tail[1]!
    assert.equal(create.records.length, 2)
    const meta = create.records[1]!
    const kept = fixture.writes.slice(0, fixture.writes.indexOf(create))
    const cuts = [meta.offset, meta.offset + 1, meta.offset + recordHeaderBytes - 1, meta.offset + recordHeaderBytes, meta.offset + meta.sizeBytes - 1]
    for (const cutAt of cuts) {
      const dir = path.join(root, `cut-create-${cutAt}`)
      copyStore(fixture.dir, dir)
      fs.truncateSync(segmentPath(dir, fixture.newestSegment), cutAt)
      const tornTail = { offset: writeStart(create), droppedBytes: cutAt - writeStart(create) }
      await checkRecovered(dir, fixture, contentAfter(kept), tornTail, writeStart(create), `create cut at ${cutAt - meta.offset} bytes into its second record`)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('truncates garbage appended after the last record, losing nothing', async () => {
    const random = (seed: number, length: number): Buffer => {
      const bytes = Buffer.alloc(length)
      let state = seed
      for (let index = 0; index < length; index++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0
        bytes[index] = state >>> 24
      }
      return bytes
    }
    const lastRecord = fixture.tail[fixture.tail.length - 1]!.records[0]!
    const template = fs.readFileSync(segmentPath(fixture.dir, fixture.newestSegment))
    const garbages: Array<[string, Buffer]> = [
      ['4 KiB of zeros (the zero-filled tail ahead of the writer)', Buffer.alloc(4096)],
      ['1 zero byte', Buffer.alloc(1)],
      ['39 zero bytes (less than a header)', Buffer.alloc(recordHeaderBytes - 1)],
      ['random bytes, 7', random(1, 7)],
      ['random bytes, 40', random(2, 40)],
      ['random bytes, 3000', random(3, 3000)],
      // A copy of a valid header promises a payload that is not there.
      ['a valid header with no payload', template.subarray(lastRecord.offset, lastRecord.offset + recordHeaderBytes)],
      ['a valid header and half its payload', template.subarray(lastRecord.offset, lastRecord.offset + recordHeaderBytes + Math.floor((lastRecord.sizeBytes - recordHeaderBytes) / 2))],
    ]
    for (const [name, garbage] of garbages) {
      const dir = path.join(root, 'garbage')
      copyStore(fixture.dir, dir)
      fs.appendFileSync(segmentPath(dir, fixture.newestSegment), garbage)
      // Zeros after the last record are what the writer leaves ahead of its tail on purpose (see
      // segment-writer.ts): the end of the log, cut off without a torn-tail report.
      const allZero = garbage.every((byte) => byte === 0)
      const torn = allZero ? null : { offset: fixture.newestSizeBytes, droppedBytes: garbage.length }
      await checkRecovered(dir, fixture, contentAfter(fixture.writes), torn, fixture.newestSizeBytes, name)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('starts the newest segment over when the cut falls inside its file header', async () => {
    // Only a crash while the segment was being created can do this, and then it held no record;
    // here it held some, and they go, but the sealed segments must be untouched.
    const kept = fixture.writes.filter((write) => write.records.every((record) => record.segmentNumber < fixture.newestSegment))
    for (let cutAt = 1; cutAt < segmentHeaderBytes; cutAt++) {
      const dir = path.join(root, `header-cut-${cutAt}`)
      copyStore(fixture.dir, dir)
      fs.truncateSync(segmentPath(dir, fixture.newestSegment), cutAt)
      await checkRecovered(dir, fixture, contentAfter(kept), { offset: 0, droppedBytes: cutAt }, segmentHeaderBytes, `header cut at ${cutAt}`)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
