import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { hintFileName } from './hint-file.ts'
import { segmentHeaderBytes } from './limits.ts'
import { compact } from './compaction-job.ts'
import { nodeFileSystem } from './file-system.ts'
import { encodeRecord, RecordKind } from './record.ts'
import { readSegmentHeader, segmentPath } from './segment-file.ts'
import { scanSegment } from './segment-scan.ts'
import { openStore, type Store } from './store.ts'
import type { StoreOptions } from './store-options.ts'
import { int64, string, type Value } from './values.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-compaction-'))
  folders.push(dir)
  return dir
}

function open(dir: string, options: Partial<StoreOptions> = {}): Promise<Store> {
  return openStore({ dir, segmentSizeBytes: 16 * 1024, compactionIntervalMs: 0, syncMode: 'none', ...options })
}

async function valueOf(store: Store, docId: number, tcId: number): Promise<Value | undefined> {
  return store.getTestCase(docId, tcId)
}

/** Every record of a segment file, as recovery's scan sees it. */
function recordsOf(path: string): Array<{ offset: number; kind: number; id: number }> {
  const bytes = readFileSync(path)
  const format = readSegmentHeader(bytes.subarray(0, segmentHeaderBytes), path)
  assert.ok(typeof format === 'object')
  const records: Array<{ offset: number; kind: number; id: number }> = []
  for (const item of scanSegment(bytes, format.headerBytes, format.seeds)) {
    if (item.type === 'record') records.push({ offset: item.offset, kind: item.header.kind, id: item.header.id })
  }
  return records
}

describe('compaction', () => {
  it('checks every tombstone it keeps against its checksum, so that damage is never sealed anew', async () => {
    // A tombstone in a sealed segment (opened from its hint, so not scanned) whose id bit rot
    // turned into another document's: copied unchecked and sealed with the output's seeds, it
    // would become a valid delete of that document.
    const dir = newDir()
    let store = await open(dir)
    const kept = await store.createProblem('kept')
    const deleted = await store.createProblem('deleted')
    await store.deleteProblem(deleted)
    await store.close()
    store = await open(dir, { segmentSizeBytes: 64 * 1024 })
    await store.createProblem('z'.repeat(70_000)) // seals segment 1, which gets its hint
    await store.close()
    const path = segmentPath(dir, 1)
    const tombstone = recordsOf(path).find((record) => record.kind === RecordKind.docDelete)!
    const bytes = readFileSync(path)
    bytes.writeUInt32LE(bytes.readUInt32LE(tombstone.offset + 24) ^ (kept ^ deleted), tombstone.offset + 24)
    writeFileSync(path, bytes)
    // The job itself, told to keep the tombstone (as when an older segment lies outside it).
    const job = {
      dir,
      inputs: [1],
      copyBlocks: [],
      firstOutputNumber: 100,
      outputNumbersMax: 1,
      segmentSizeBytes: 1024 * 1024,
      oldestSeqOutside: 0,
      watermark: encodeRecord({ kind: RecordKind.idWatermark, flags: 0, seq: 99, id: 10, parentId: 0 }, 0),
    }
    assert.throws(() => compact(job, nodeFileSystem, () => undefined), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CORRUPTION')
      assert.match(error.message, new RegExp(`offset ${tombstone.offset} of segment 1 no longer matches its checksum`))
      return true
    })
    const output = join(dir, '000000000100.seg.tmp')
    assert.ok(!existsSync(output) || !recordsOf(output).some((record) => record.kind === RecordKind.docDelete), 'no delete was sealed')
  })

  it('compactNow on an empty or clean store does nothing harmful', async () => {
    const dir = newDir()
    const store = await open(dir)
    const empty = await store.compactNow()
    assert.equal(empty.segmentsCompacted, 0)
    const id = await store.createProblem('<p>x</p>')
    const once = await store.compactNow()
    assert.equal(once.segmentsCompacted, 1, 'the active segment is sealed and merged')
    assert.equal(await store.getProblemHtml(id), '<p>x</p>')
    const stats = await store.stats()
    assert.equal(stats.compaction.runs, 1)
    assert.equal(stats.compaction.last?.recordsCopied, 2)
    await store.close()
  })

  it('never issues an id again, even when a compaction dropped every record of the store', async () => {
    const dir = newDir()
    let store = await open(dir)
    const docId = await store.createProblem('')
    const tcId = await store.addTestCase(docId, int64(1))
    await store.deleteProblem(docId)
    const result = await store.compactNow()
    assert.equal(result.recordsCopied, 0)
    assert.equal(result.tombstonesDropped, 1)
    assert.equal(result.segmentsWritten, 1, 'one segment, for the watermark')
    await store.close()
    store = await open(dir)
    assert.ok((await store.createProblem('next')) > tcId)
    await store.close()
  })

  it('leaves alone the segments whose writes are still in flight when it starts', async () => {
    const dir = newDir()
    const store = await open(dir, { segmentSizeBytes: 4096 })
    const docId = await store.createProblem('<p>first</p>')
    // Each value fills most of a segment: the writes made in the same tick as compactNow() run
    // the tail through several segments that the flush loop has not written yet.
    const compaction = store.compactNow()
    const writes = Array.from({ length: 5 }, (_, index) => store.addTestCase(docId, string(`${index}`.repeat(3000))))
    const result = await compaction
    const tcIds = await Promise.all(writes)
    // Each segment written adds a 16-byte header and a 40-byte watermark at most.
    assert.ok(result.bytesAfter <= result.bytesBefore + 56 * result.segmentsWritten, JSON.stringify(result))
    const page = await store.getAllTestCases(docId)
    assert.deepEqual(page?.testCases.map((testCase) => testCase.tcId), tcIds)
    await store.close()
  })

  it('refuses bad compaction options with INVALID_ARGUMENT naming the option', async () => {
    const dir = newDir()
    for (const [options, pattern] of [
      [{ compactionIntervalMs: -1 }, /compactionIntervalMs must be an integer from 0/],
      [{ compactionIntervalMs: 1.5 }, /compactionIntervalMs/],
      [{ compactionDeadRatio: 0 }, /compactionDeadRatio must be a number from 0.05 to 1/],
      [{ compactionDeadRatio: Number.NaN }, /compactionDeadRatio/],
      [{ compactionDeadBytes: 0 }, /compactionDeadBytes must be an integer from 1/],
    ] as const) {
      await assert.rejects(open(dir, options), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'INVALID_ARGUMENT')
        assert.match(error.message, pattern)
        return true
      })
    }
  })

  it('serves writes and reads with no error and no stale value while a long compaction runs', async () => {
    const dir = newDir()
    let store = await open(dir, { segmentSizeBytes: 256 * 1024 })
    const docs: Array<{ docId: number; tcIds: number[] }> = []
    for (let d = 0; d < 300; d++) {
      const docId = await store.createProblem('<p>statement</p>'.repeat(20), { d: String(d) })
      const tcIds = await Promise.all(Array.from({ length: 40 }, (_, n) => store.addTestCase(docId, int64(n))))
      docs.push({ docId, tcIds })
    }
    // Garbage, so that the compaction has work: every node updated once.
    await Promise.all(docs.flatMap(({ docId, tcIds }) => tcIds.map((tcId) => store.updateTestCase(docId, tcId, string(`v0 ${tcId}`)))))
    await store.close()
    store = await open(dir, { segmentSizeBytes: 256 * 1024, syncMode: 'always' })

    const latest = new Map<number, string>()
    const compaction = store.compactNow()
    let finished = false
    void compaction.finally(() => (finished = true))
    let opsWhileRunning = 0
    let round = 0
    // Bounded by the compaction: the loop ends when it resolves.
    while (!finished) {
      round++
      const { docId, tcIds } = docs[round % docs.length]!
      const tcId = tcIds[round % tcIds.length]!
      const text = `v${round} ${tcId}`
      const running = (await store.stats()).compaction.running
      await store.updateTestCase(docId, tcId, string(text))
      latest.set(tcId, text)
      assert.deepEqual(await valueOf(store, docId, tcId), string(text), 'a read right after a write sees it')
      const other = docs[(round * 7) % docs.length]!
      const otherTc = other.tcIds[round % other.tcIds.length]!
      assert.deepEqual(await valueOf(store, other.docId, otherTc), string(latest.get(otherTc) ?? `v0 ${otherTc}`))
      if (running && !finished) opsWhileRunning++
    }
    const result = await compaction
    assert.ok(result.segmentsCompacted > 1 && result.bytesReclaimed > 0, JSON.stringify(result))
    assert.ok(opsWhileRunning >= 5, `${opsWhileRunning} write/read rounds ran during the compaction`)
    const check = async (when: string): Promise<void> => {
      for (const { docId, tcIds } of docs) {
        const page = await store.getAllTestCases(docId)
        assert.deepEqual(
          page?.testCases.map((testCase) => testCase.value),
          tcIds.map((tcId) => string(latest.get(tcId) ?? `v0 ${tcId}`)),
          `${when}: document ${docId}`,
        )
      }
    }
    await check('after the compaction')
    await store.close()
    store = await open(dir)
    await check('after reopening')
    await store.close()
  })

  it('keeps a tombstone while an older record it deletes lies outside the compaction', async () => {
    const dir = newDir()
    let store = await open(dir, { segmentSizeBytes: 4096 })
    const keepDoc = await store.createProblem('keep')
    const doomed = await store.createProblem('doomed')
    const doomedNode = await store.addTestCase(doomed, int64(7))
    // Fill a few segments with garbage, then delete: the tombstone lies in a later segment than
    // the records it deletes.
    for (let index = 0; index < 60; index++) await store.updateProblemHtml(keepDoc, `keep ${index}`.repeat(10))
    await store.deleteProblem(doomed)
    for (let index = 0; index < 60; index++) await store.updateProblemHtml(keepDoc, `again ${index}`.repeat(10))
    await store.close()
    // A background compaction takes only the segments with most garbage; the first segment (the
    // doomed document's records, and the live first version of nothing) has little. Force a
    // partial compaction by marking everything but the first segment with a high garbage share:
    // the store is opened with a background compactor that runs at once.
    store = await open(dir, { segmentSizeBytes: 4096, compactionIntervalMs: 10, compactionDeadRatio: 0.05, watchLogRetainChanges: 0 })
    // Bounded: the background compactor runs within a few wakes.
    for (let wait = 0; wait < 300 && (await store.stats()).compaction.runs === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 10))
    const stats = await store.stats()
    assert.ok(stats.compaction.runs >= 1, 'the background compactor ran')
    await store.close()
    store = await open(dir)
    assert.equal(await store.getProblemHtml(doomed), undefined, 'the deleted document stays deleted')
    assert.equal(await store.getTestCase(doomed, doomedNode), undefined)
    assert.equal(await store.getProblemHtml(keepDoc), 'again 59'.repeat(10))
    // A full compaction has nothing outside it: every tombstone can go.
    const full = await store.compactNow()
    assert.equal(full.tombstonesKept, 0)
    await store.close()
    store = await open(dir)
    assert.equal(await store.getProblemHtml(doomed), undefined, 'still deleted after the tombstone is dropped')
    assert.ok((await store.createProblem('new')) > doomedNode, 'and its ids are not issued again')
    await store.close()
  })

  it('a background compaction takes the segments with most garbage, and leaves clean ones', async () => {
    const dir = newDir()
    let store = await open(dir, { segmentSizeBytes: 4096 })
    // Clean segments first: documents never changed again.
    const clean: number[] = []
    for (let index = 0; index < 30; index++) clean.push(await store.createProblem(`clean ${index}`.repeat(20)))
    const hot = await store.createProblem('hot')
    for (let index = 0; index < 200; index++) await store.updateProblemHtml(hot, `hot ${index}`.repeat(20))
    await store.close()
    const before = readdirSync(dir).filter((name) => name.endsWith('.seg')).sort()
    store = await open(dir, { segmentSizeBytes: 4096, compactionIntervalMs: 10, compactionDeadRatio: 0.3, watchLogRetainChanges: 0 })
    for (let wait = 0; wait < 300 && (await store.stats()).compaction.runs === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 10))
    const stats = await store.stats()
    await store.close()
    assert.ok(stats.compaction.runs >= 1)
    const after = readdirSync(dir).filter((name) => name.endsWith('.seg')).sort()
    // The first segments hold only the clean documents: nothing to gain there.
    const survivors = before.filter((name) => after.includes(name))
    assert.ok(survivors.includes(before[0]!) && survivors.includes(before[1]!), `clean segments kept: ${survivors.join(' ')}`)
    assert.ok(after.length < before.length, `${before.length} segments -> ${after.length}`)
    store = await open(dir)
    for (const [index, id] of clean.entries()) assert.equal(await store.getProblemHtml(id), `clean ${index}`.repeat(20))
    assert.equal(await store.getProblemHtml(hot), 'hot 199'.repeat(20))
    await store.close()
  })

  it('a background compaction leaves the segments of the newest watchLogRetainChanges changes, for watchers, after a crash too', async () => {
    const dir = newDir()
    let store = await open(dir, { segmentSizeBytes: 4096 })
    const hot = await store.createProblem('hot')
    const revisions: number[] = []
    for (let index = 0; index < 300; index++) {
      await store.updateProblemHtml(hot, `hot ${index}`.repeat(20))
      revisions.push(store.revision)
    }
    await store.close()
    // As a crash leaves it: a LOCK naming a process that is gone. The open takes it for a crash,
    // and the revision jumps to the clock: retention counts changes, which do not jump.
    writeFileSync(join(dir, 'LOCK'), `${JSON.stringify({ pid: 2 ** 22 + 1, startTime: null, host: hostname() })}\n`)
    const retained = 100
    store = await open(dir, { segmentSizeBytes: 4096, compactionIntervalMs: 10, compactionDeadRatio: 0.3, watchLogRetainChanges: retained })
    assert.ok(store.revision > revisions[299]! + 1_000_000, 'the open jumped the revision')
    for (let wait = 0; wait < 300 && (await store.stats()).compaction.runs === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok((await store.stats()).compaction.runs >= 1, 'the background compactor ran')
    // The newest 100 changes are read back from the log, values and all.
    const watch = store.watch({ fromRevision: revisions[300 - retained]!, withValues: true, progressIntervalMs: 0 })
    for (let index = 300 - retained; index < 300; index++) {
      const next = await watch.next()
      assert.equal(next.done, false)
      assert.deepStrictEqual(next.value.kind === 'change' && next.value.value, { kind: 'text', html: `hot ${index}`.repeat(20) })
    }
    watch.close()
    await store.close()
  })

  it('closing during a compaction abandons it cleanly', async () => {
    const dir = newDir()
    let store = await open(dir)
    const docId = await store.createProblem('x')
    for (let index = 0; index < 500; index++) await store.addTestCase(docId, int64(index))
    // Either it finishes before the close gets to it, or it is abandoned: never half done.
    const compaction = store.compactNow().then(
      () => 'finished',
      (error: Error & { code?: string }) => error.code,
    )
    await store.close()
    const outcome = await compaction
    assert.ok(outcome === 'finished' || outcome === 'UNAVAILABLE', String(outcome))
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp') || name.startsWith('compaction')), [])
    store = await open(dir)
    assert.equal((await store.getAllTestCases(docId))?.testCases.length, 500)
    await store.close()
  })

  it('closing while the worker writes abandons the compaction and removes what it wrote', async () => {
    const dir = newDir()
    let store = await open(dir)
    const docId = await store.createProblem('x')
    for (let index = 0; index < 3000; index++) await store.addTestCase(docId, int64(index))
    let closing: Promise<void> | undefined
    await store.close()
    store = await open(dir, {
      onCompactionStep: (step) => {
        if (step === 'outputs-writing') closing = store.close()
      },
    })
    await assert.rejects(store.compactNow(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNAVAILABLE')
      assert.match(error.message, /closing; the compaction was abandoned/)
      return true
    })
    assert.ok(closing !== undefined, 'the close happened while the worker wrote')
    await closing
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp') || name.startsWith('compaction')), [])
    store = await open(dir)
    assert.equal((await store.getAllTestCases(docId))?.testCases.length, 3000)
    await store.close()
  })

  it('leaves a damaged segment out, and keeps its records readable', async () => {
    const dir = newDir()
    let store = await open(dir, { segmentSizeBytes: 4096 })
    const docId = await store.createProblem('first')
    for (let index = 0; index < 200; index++) await store.addTestCase(docId, int64(index))
    await store.close()
    // A bad hint forces a scan; a flipped byte in a record's payload makes the scan report it.
    writeFileSync(join(dir, hintFileName(2)), 'not a hint')
    const { openSync, readSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(join(dir, '000000000002.seg'), 'r+')
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, 100)
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, 100)
    closeSync(fd)
    store = await open(dir, { segmentSizeBytes: 4096, onWarning: () => undefined })
    assert.ok((await store.stats()).lastRecovery.damagedRecordCount + (await store.stats()).lastRecovery.damagedRangeCount > 0)
    const result = await store.compactNow()
    assert.ok(result.segmentsCompacted > 0)
    assert.ok(readdirSync(dir).includes('000000000002.seg'), 'the damaged segment is kept')
    const page = await store.getAllTestCases(docId, { limit: 1 })
    assert.equal(page?.testCases.length, 1)
    await store.close()
  })
})
