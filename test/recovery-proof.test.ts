/**
 * Recovery trusts only what it can prove. Each case reproduces a way an older recovery lost or
 * forged acknowledged data, on real files:
 *
 *   - a record image stored by a client inside a value, applied by recovery after a crash tore
 *     the record that carried it, or after the carrier's header was damaged;
 *   - the pages of the last, unsynced group commit written back out of order by a power cut, taken
 *     for corruption of acknowledged data instead of a torn tail;
 *   - a bit flip in the last record of a cleanly closed store, taken for a torn tail and cut away,
 *     so that the previous value came back;
 *   - a store written by an older format, still readable, and never resynchronised.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { crc32c } from '../src/engine/crc32c.ts'
import { nodeFileSystem, type FileSystem } from '../src/engine/file-system.ts'
import { readSegmentHeader } from '../src/engine/segment-file.ts'
import { scanSegment } from '../src/engine/segment-scan.ts'
import { openStore, type Store } from '../src/engine/store.ts'
import { int64, int64List } from '../src/engine/values.ts'
import { forgedRecord, int64Payload, listHolding, listItemsOffsetInRecord } from './support/forged-record.ts'
import { copyStore, makeTempDir, readRecords, segmentNumbers, segmentPath } from './support/fixture.ts'

const root = makeTempDir('proof')
after(() => fs.rmSync(root, { recursive: true, force: true }))
let folders = 0
const newFolder = (): string => path.join(root, `store-${++folders}`)

const kind = { docBlob: 1, docMeta: 2, docDelete: 3, inputPut: 4, inputDelete: 5, syncMark: 9 } as const

async function expectCode(promise: Promise<unknown>, code: string, context: string): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `${context}: ${error.message}`)
    return true
  })
}

function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+')
  const byte = Buffer.alloc(1)
  fs.readSync(fd, byte, 0, 1, offset)
  byte[0] = byte[0]! ^ 0x10
  fs.writeSync(fd, byte, 0, 1, offset)
  fs.closeSync(fd)
}

/**
 * A store with an acknowledged document `victim` (html 'victim', one node of value 7), then a
 * carrier: a node of another document whose int64 list holds, in its bytes, images of records
 * that would delete the victim, overwrite its node with 666 and delete its node, with sequence
 * numbers above everything; plain CRC-32C, as the checksums of formats 1 and 2 were.
 */
async function storeWithCarrier(dir: string): Promise<{ victim: number; victimNode: number; carrierOffset: number; carrierBytes: number; imageEnd: number }> {
  const store = await openStore({ dir })
  const victim = await store.createProblem('victim', { title: 'v' })
  const victimNode = await store.addTestCase(victim, int64(7))
  const holder = await store.createProblem('holder')
  const seq = 2 ** 40
  const images = Buffer.concat([
    forgedRecord({ kind: kind.inputPut, flags: 0, seq, id: victimNode, parentId: victim, payload: int64Payload(666n) }),
    forgedRecord({ kind: kind.inputDelete, flags: 0, seq: seq + 1, id: victimNode, parentId: victim }),
    forgedRecord({ kind: kind.docDelete, flags: 0, seq: seq + 2, id: victim, parentId: 0 }),
  ])
  await store.addTestCase(holder, int64List(listHolding(images, 16, 64)))
  await store.close()
  const carrier = readRecords(dir).at(-1)!
  return { victim, victimNode, carrierOffset: carrier.offset, carrierBytes: carrier.sizeBytes, imageEnd: carrier.offset + listItemsOffsetInRecord + 16 + images.length }
}

async function assertVictimIntact(store: Store, victim: number, victimNode: number, context: string): Promise<void> {
  assert.equal(await store.getProblemHtml(victim), 'victim', `${context}: the victim document`)
  assert.deepEqual(await store.getTestCase(victim, victimNode), int64(7), `${context}: the victim's node`)
  assert.ok((await store.listProblems()).ids.includes(victim), `${context}: listed`)
}

describe('recovery proves what it applies', () => {
  it('never applies a record image stored in a value when a crash cuts the record carrying it', async () => {
    const template = newFolder()
    const { victim, victimNode, carrierOffset, carrierBytes, imageEnd } = await storeWithCarrier(template)
    const newest = Math.max(...segmentNumbers(template))
    // Every cut after the images and inside the carrier: its header is whole, its payload is not.
    for (let cutAt = imageEnd; cutAt < carrierOffset + carrierBytes; cutAt += 7) {
      const dir = newFolder()
      copyStore(template, dir)
      fs.truncateSync(segmentPath(dir, newest), cutAt)
      const store = await openStore({ dir, onWarning: () => undefined })
      await assertVictimIntact(store, victim, victimNode, `cut at ${cutAt}`)
      const report = (await store.stats()).lastRecovery
      assert.deepEqual(
        report.tornTail,
        { segmentNumber: newest, offset: carrierOffset, droppedBytes: cutAt - carrierOffset, keptIn: `${path.basename(segmentPath(dir, newest))}.torn-${carrierOffset}` },
        `cut at ${cutAt}`,
      )
      assert.equal(report.damagedRecordCount + report.damagedRangeCount, 0, `cut at ${cutAt}: a torn tail is not damage`)
      await store.close()
    }
  })

  it('never applies a record image stored in a value when the header of the record carrying it is damaged', async () => {
    const template = newFolder()
    const { victim, victimNode, carrierOffset } = await storeWithCarrier(template)
    const newest = Math.max(...segmentNumbers(template))
    for (const headerByte of [5, 12, 13, 20, 30]) {
      const dir = newFolder()
      copyStore(template, dir)
      flipByte(segmentPath(dir, newest), carrierOffset + headerByte)
      const store = await openStore({ dir, onWarning: () => undefined })
      await assertVictimIntact(store, victim, victimNode, `header byte ${headerByte}`)
      const report = (await store.stats()).lastRecovery
      // The carrier's bytes are one damaged range, up to the syncMark written on close, which
      // proves everything before it durable: damage, not a torn tail.
      assert.equal(report.tornTail, null, `byte ${headerByte}`)
      assert.equal(report.damagedRangeCount, 1, `byte ${headerByte}: the carrier is a damaged range`)
      assert.equal(report.damagedRanges[0]!.offset, carrierOffset, `byte ${headerByte}`)
      await store.close()
    }
  })

  it('takes out-of-order writeback of the last, unsynced group commit for a torn tail, and serves the acknowledged value', async () => {
    // The power is cut while the sync of a group commit (a 9 KB html update and a new node) runs:
    // the page holding bytes 4096..8191 of the segment never reached the disk (it reads as the
    // zeros written ahead of the tail), the pages after it did.
    const dir = newFolder()
    let holdSyncs = false
    let held = 0
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      fdatasync: (fd) => {
        if (!holdSyncs) return nodeFileSystem.fdatasync(fd)
        held++
        return new Promise<void>(() => undefined) // the power is cut before it returns
      },
    }
    const store = await openStore({ dir, fileSystem })
    const docId = await store.createProblem('html 0')
    holdSyncs = true
    const update = store.updateProblemHtml(docId, 'h'.repeat(9000))
    const add = store.addTestCase(docId, int64(5))
    void update.catch(() => undefined)
    void add.catch(() => undefined)
    // Bounded: the group is written within a few turns of the event loop.
    for (let turn = 0; held === 0 && turn < 1000; turn++) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(held, 1, 'the group is written and its sync is in flight')
    const cut = newFolder()
    copyStore(dir, cut)
    const segment = segmentPath(cut, Math.max(...segmentNumbers(cut)))
    const fd = fs.openSync(segment, 'r+')
    fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, 4096)
    fs.closeSync(fd)

    const reopened = await openStore({ dir: cut, onWarning: () => undefined })
    const report = (await reopened.stats()).lastRecovery
    assert.equal(report.damagedRecordCount + report.damagedRangeCount, 0, 'no acknowledged record is damaged')
    assert.ok(report.tornTail !== null, 'the unsynced group is a torn tail')
    assert.equal(await reopened.getProblemHtml(docId), 'html 0')
    assert.deepEqual((await reopened.getAllTestCases(docId))?.testCases, [])
    await reopened.close()
  })

  it('reports a damaged last record of a cleanly closed store as corruption, and keeps its bytes', async () => {
    const dir = newFolder()
    const store = await openStore({ dir })
    const docId = await store.createProblem('doc')
    const tcId = await store.addTestCase(docId, int64(41))
    await store.updateTestCase(docId, tcId, int64(42))
    await store.close()
    const last = readRecords(dir).at(-1)!
    const file = segmentPath(dir, last.segmentNumber)
    const sizeBytes = fs.statSync(file).size
    flipByte(file, last.offset + last.sizeBytes - 2) // in the payload of the update to 42

    const reopened = await openStore({ dir, onWarning: () => undefined })
    const report = (await reopened.stats()).lastRecovery
    assert.equal(report.tornTail, null, 'a synced record is never a torn tail')
    assert.deepEqual(report.damagedRecords, [{ segmentNumber: last.segmentNumber, offset: last.offset, id: tcId, kind: kind.inputPut }])
    await expectCode(reopened.getTestCase(docId, tcId), 'CORRUPTION', 'the damaged update')
    assert.equal(fs.statSync(file).size, sizeBytes, 'the damaged bytes are still there')
    await reopened.close()
  })

  it('never cuts an acknowledged group that follows damage in the one before it, after a crash', async () => {
    // Two creates, each acknowledged in a group commit of its own; a crash (no close, so no sync
    // mark at the end); then bit rot in a header of the first create's group. The second group is
    // whole and must stay: the damage is corruption, not a torn tail.
    const dir = newFolder()
    const store = await openStore({ dir })
    const first = await store.createProblem('first')
    const second = await store.createProblem('second')
    const crashed = newFolder()
    copyStore(dir, crashed)
    await store.close()
    const records = readRecords(dir)
    const firstMeta = records.find((record) => record.id === first && record.kind === kind.docMeta)!
    flipByte(segmentPath(crashed, firstMeta.segmentNumber), firstMeta.offset + 20)
    const reopened = await openStore({ dir: crashed, onWarning: () => undefined })
    const report = (await reopened.stats()).lastRecovery
    assert.equal(report.tornTail, null, 'damage before a whole group is not a torn tail')
    assert.equal(report.damagedRangeCount, 1)
    assert.equal(await reopened.getProblemHtml(second), 'second')
    await expectCode(reopened.getProblemMeta(first), 'CORRUPTION', 'the damaged metadata')
    await reopened.close()
  })

  it('tags the passes written between two syncs alike (interval mode), so that recovery cuts them as one window', async () => {
    const dir = newFolder()
    const store = await openStore({ dir, syncMode: 'interval', syncIntervalMs: 60_000 })
    const docId = await store.createProblem('doc')
    await store.flush()
    for (let value = 0; value < 3; value++) await store.addTestCase(docId, int64(value)) // three passes, no sync
    await store.flush()
    await store.addTestCase(docId, int64(3))
    await store.close()
    const segment = segmentPath(dir, 1)
    const bytes = fs.readFileSync(segment)
    const format = readSegmentHeader(bytes.subarray(0, 40), segment)
    assert.ok(typeof format === 'object')
    const tags = [...scanSegment(bytes, format.headerBytes, format.seeds)].flatMap((item) =>
      item.type === 'record' && item.header.kind !== kind.syncMark ? [item.header.group] : [],
    )
    // create (two records), three unsynced adds, one add after the flush.
    assert.deepEqual(tags, [1, 1, 2, 2, 2, 3])
  })

  it('reads a store of segment format 2, appends to a new segment, and resynchronises in it only on what it can prove', async () => {
    // A format-2 segment written by hand: a 16-byte header, records with plain CRC-32C.
    const dir = newFolder()
    fs.mkdirSync(dir)
    const header = Buffer.alloc(16)
    header.write('STRATSEG', 0, 'latin1')
    header.writeUInt32LE(2, 8)
    header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
    const blob = forgedRecord({ kind: kind.docBlob, flags: 1, seq: 1, id: 1, parentId: 0, payload: Buffer.from('old') })
    const meta = forgedRecord({ kind: kind.docMeta, flags: 0, seq: 2, id: 1, parentId: 0, payload: Buffer.alloc(4) })
    const node = forgedRecord({ kind: kind.inputPut, flags: 0, seq: 3, id: 2, parentId: 1, payload: int64Payload(9n) })
    fs.writeFileSync(segmentPath(dir, 1), Buffer.concat([header, blob, meta, node]))

    const store = await openStore({ dir })
    assert.equal(await store.getProblemHtml(1), 'old')
    assert.deepEqual(await store.getTestCase(1, 2), int64(9n))
    const added = await store.addTestCase(1, int64(10))
    assert.equal(added, 3, 'ids go on above the old ones')
    assert.deepEqual(segmentNumbers(dir), [1, 2], 'new records go to a new segment of the current format')
    await store.close()
    const again = await openStore({ dir })
    assert.deepEqual((await again.getAllTestCases(1))?.testCases.map((testCase) => testCase.value), [int64(9n), int64(10)])
    await again.close()
  })
})
