/**
 * Watching changes: one event per acknowledged write, in revision order, never before it is
 * acknowledged; resumable from any revision the history holds, REVISION_UNAVAILABLE before that;
 * one problem only when asked; values as written (superseded once a compaction reclaimed them);
 * progress events while nothing changes; a watcher that falls behind the history ends with
 * LIMIT_EXCEEDED, and closing the store ends every watcher with UNAVAILABLE.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { ChangeEvent, WatchEvent } from './change-events.ts'
import { crc32c } from './crc32c.ts'
import { StratumError } from './errors.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { gatedFileSystem, withinSeconds } from './testing/gated-file-system.ts'
import { tempStores } from './testing/temp-stores.ts'
import { int64, int64List, string } from './values.ts'
import type { Watch } from './watch.ts'

const { tempDir, open, close } = tempStores('stratum-watch-test-', { syncMode: 'always', compactionIntervalMs: 0 })

/** The next `count` events of `watch`, failing rather than hanging. */
async function take(watch: Watch, count: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = []
  for (let index = 0; index < count; index++) {
    const next = await withinSeconds(watch.next(), 5, `event ${index + 1} of ${count}`)
    assert.equal(next.done, false, `the watch ended after ${index} events`)
    events.push(next.value)
  }
  return events
}

/** The events without their revisions, for comparing what happened. */
function shapes(events: readonly WatchEvent[]): unknown[] {
  return events.map((event) => {
    assert.equal(event.kind, 'change')
    const { kind: _kind, revision: _revision, ...rest } = event as ChangeEvent
    return rest
  })
}

function isCode(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof StratumError && error.code === code && pattern.test(error.message)
}

describe('watch', () => {
  it('gives every acknowledged write once, in revision order, with what it wrote', async () => {
    const store = await open()
    const watch = store.watch({ withValues: true, progressIntervalMs: 0 })
    const revisions: number[] = []
    const doc = await store.createProblem('<p>A+B</p>', { title: 'A+B' })
    revisions.push(store.revision)
    await store.updateProblemHtml(doc, '<p>A plus B</p>')
    revisions.push(store.revision)
    await store.updateProblemColumn(doc, 'level', 'easy')
    revisions.push(store.revision)
    const tc = await store.addTestCase(doc, int64List([1, 2]))
    revisions.push(store.revision)
    await store.updateTestCase(doc, tc, int64List([2, 2]))
    revisions.push(store.revision)
    await store.setExpectedOutput(doc, tc, int64(4))
    revisions.push(store.revision)
    await store.updateExpectedOutput(doc, tc, string('four'))
    revisions.push(store.revision)
    await store.deleteExpectedOutput(doc, tc)
    revisions.push(store.revision)
    await store.deleteTestCase(doc, tc)
    revisions.push(store.revision)
    await store.deleteProblem(doc)
    revisions.push(store.revision)
    const events = await take(watch, revisions.length)
    assert.deepStrictEqual(
      events.map((event) => event.revision),
      revisions,
    )
    assert.deepStrictEqual(shapes(events), [
      { type: 'created', target: 'problem', problemId: doc, value: { kind: 'problem', html: '<p>A+B</p>', columns: new Map([['title', 'A+B']]) } },
      { type: 'updated', target: 'problemText', problemId: doc, value: { kind: 'text', html: '<p>A plus B</p>' } },
      { type: 'updated', target: 'problemColumn', problemId: doc, column: 'level', value: { kind: 'column', value: 'easy' } },
      { type: 'created', target: 'testCase', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64List([1, 2]) } },
      { type: 'updated', target: 'testCase', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64List([2, 2]) } },
      { type: 'created', target: 'expectedOutput', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64(4) } },
      { type: 'updated', target: 'expectedOutput', problemId: doc, testCaseId: tc, value: { kind: 'value', value: string('four') } },
      { type: 'deleted', target: 'expectedOutput', problemId: doc, testCaseId: tc },
      { type: 'deleted', target: 'testCase', problemId: doc, testCaseId: tc },
      { type: 'deleted', target: 'problem', problemId: doc },
    ])
    watch.close()
    assert.deepStrictEqual(await watch.next(), { done: true, value: undefined })
  })

  it('gives a write only once it is acknowledged, never while its sync is held', async () => {
    const gate = gatedFileSystem()
    const store = await open({ fileSystem: gate.fileSystem })
    const doc = await store.createProblem('p')
    const watch = store.watch({ progressIntervalMs: 0 })
    gate.hold()
    let acknowledged = false
    const write = store.addTestCase(doc, int64(1)).then((id) => {
      acknowledged = true
      return id
    })
    await gate.whenWaiting(1)
    let delivered: WatchEvent | undefined
    const next = watch.next().then((result) => {
      delivered = result.value
      assert.ok(acknowledged || store.revision >= (result.value as ChangeEvent).revision, 'delivered before its group was published')
    })
    // Many turns of the event loop with the sync held: nothing may be delivered.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(delivered, undefined)
    gate.releaseAll()
    const tc = await write
    await withinSeconds(next, 5, 'the event')
    assert.deepStrictEqual(shapes([delivered!]), [{ type: 'created', target: 'testCase', problemId: doc, testCaseId: tc }])
    watch.close()
  })

  it('resumes from any revision it holds: the later changes, each once; the write path order across writers', async () => {
    const store = await open()
    const doc = await store.createProblem('p')
    const start = store.revision + 1
    // Concurrent writers: the history is in the order the writes were acknowledged.
    const ids = await Promise.all(Array.from({ length: 20 }, (_, index) => store.addTestCase(doc, int64(index))))
    const all = await take(store.watch({ fromRevision: start, progressIntervalMs: 0 }), 20)
    assert.deepStrictEqual(
      all.map((event) => (event as ChangeEvent).testCaseId),
      ids,
    )
    const revisions = all.map((event) => event.revision)
    assert.deepStrictEqual(revisions, [...revisions].sort((left, right) => left - right))
    // Resuming after the 7th gives the 8th on, and then what comes next.
    const resumed = store.watch({ fromRevision: revisions[6]! + 1, progressIntervalMs: 0 })
    await store.updateTestCase(doc, ids[0]!, int64(100))
    const later = await take(resumed, 14)
    assert.deepStrictEqual(
      later.map((event) => event.revision),
      [...revisions.slice(7), store.revision],
    )
    // From now: only what comes after.
    const fromNow = store.watch({ progressIntervalMs: 0 })
    await store.deleteTestCase(doc, ids[1]!)
    assert.deepStrictEqual(shapes(await take(fromNow, 1)), [{ type: 'deleted', target: 'testCase', problemId: doc, testCaseId: ids[1] }])
  })

  it('watches one problem when asked, and gives each operation of a batch, none of a refused one', async () => {
    const store = await open()
    const [first, second] = [await store.createProblem('one'), await store.createProblem('two')]
    const watch = store.watch({ problemId: second, progressIntervalMs: 0 })
    await store.addTestCase(first, int64(1))
    const batch = store.batch()
    const tc = batch.addTestCase(second, int64(2))
    batch.setExpectedOutput(second, tc, int64(3)).updateProblemColumn(second, 'c', 'v').addTestCase(first, int64(4))
    const [tcId] = await batch.commit()
    // Refused midway (the output is set twice): nothing of it is given.
    const refused = store.batch()
    refused.updateProblemHtml(second, 'never').setExpectedOutput(second, tcId!, int64(5))
    await assert.rejects(refused.commit(), (error: unknown) => error instanceof StratumError && error.code === 'ALREADY_EXISTS')
    await store.deleteProblem(second)
    assert.deepStrictEqual(shapes(await take(watch, 4)), [
      { type: 'created', target: 'testCase', problemId: second, testCaseId: tcId },
      { type: 'created', target: 'expectedOutput', problemId: second, testCaseId: tcId },
      { type: 'updated', target: 'problemColumn', problemId: second, column: 'c' },
      { type: 'deleted', target: 'problem', problemId: second },
    ])
  })

  it('reads from the log what the history dropped; refuses what a compaction reclaimed, naming the oldest; a watcher behind that ends', async () => {
    const store = await open({ watchHistoryMaxChanges: 5 })
    const doc = await store.createProblem('p')
    const slow = store.watch({ fromRevision: store.revision + 1, progressIntervalMs: 0 })
    const lagging = store.watch({ fromRevision: store.revision + 1, progressIntervalMs: 0 })
    const revisions: number[] = []
    for (let index = 0; index < 10; index++) {
      await store.addTestCase(doc, int64(index))
      revisions.push(store.revision)
    }
    // The history holds the last 5; the first 5 are read back from the log.
    assert.deepStrictEqual((await take(slow, 10)).map((event) => event.revision), revisions)
    assert.deepStrictEqual((await take(store.watch({ fromRevision: revisions[0]!, progressIntervalMs: 0 }), 10)).map((event) => event.revision), revisions)
    await store.compactNow()
    // The compaction took the log's history up to the last write: the history's 5 are all that is left.
    const oldest = revisions[5]!
    assert.throws(
      () => store.watch({ fromRevision: oldest - 1 }),
      isCode('REVISION_UNAVAILABLE', new RegExp(`^revision ${oldest - 1} is no longer held; the oldest revision a watch can start from is ${oldest} `)),
    )
    assert.deepStrictEqual(
      (await take(store.watch({ fromRevision: oldest, progressIntervalMs: 0 }), 5)).map((event) => event.revision),
      revisions.slice(5),
    )
    await assert.rejects(
      lagging.next(),
      isCode('LIMIT_EXCEEDED', /^the watcher fell behind: the changes from revision \d+ on are no longer held \(the store keeps the last 5 changes in memory/),
    )
  })

  it('reads the changes from before a reopen back from the log, exactly as they were given live', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const live = store.watch({ fromRevision: 1, withValues: true, progressIntervalMs: 0 })
    const first = await store.createProblem('<p>one</p>', { level: 'easy' })
    const second = await store.createProblem('<p>two</p>')
    await store.updateProblemHtml(first, '<p>one, again</p>')
    await store.updateProblemColumn(first, 'author', 'ada')
    const tc = await store.addTestCase(first, int64List([1n, 2n]))
    await store.setExpectedOutput(first, tc, string('3'))
    await store.updateExpectedOutput(first, tc, string('three'))
    await store.updateTestCase(first, tc, int64(7))
    const other = await store.addTestCase(second, int64(1))
    await store.deleteExpectedOutput(first, tc)
    await store.deleteTestCase(first, tc)
    const batch = store.batch()
    batch.addTestCase(second, int64(2))
    batch.updateProblemColumn(second, 'level', 'hard').setExpectedOutput(second, other, int64(9))
    await batch.commit()
    await store.deleteProblem(first)
    const given = await take(live, 15)
    await close(store)

    store = await open({ dir })
    assert.deepStrictEqual(await take(store.watch({ fromRevision: 1, withValues: true, progressIntervalMs: 0 }), 15), given)
    // From the middle, and of one problem.
    assert.deepStrictEqual(await take(store.watch({ fromRevision: given[7]!.revision, progressIntervalMs: 0, withValues: true }), 8), given.slice(7))
    const ofSecond = given.filter((event) => event.kind === 'change' && event.problemId === second)
    assert.deepStrictEqual(await take(store.watch({ fromRevision: 1, problemId: second, withValues: true, progressIntervalMs: 0 }), ofSecond.length), ofSecond)
    // Then on to what is written now, from the history.
    const watch = store.watch({ fromRevision: given[14]!.revision, progressIntervalMs: 0 })
    await take(watch, 1)
    const added = await store.addTestCase(second, int64(3))
    assert.deepStrictEqual(shapes(await take(watch, 1)), [{ type: 'created', target: 'testCase', problemId: second, testCaseId: added }])
  })

  it('keeps the history a compaction cut across a reopen, and the log after it', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const doc = await store.createProblem('p')
    const tc = await store.addTestCase(doc, int64(1))
    await store.updateTestCase(doc, tc, int64(2))
    const cut = store.revision
    await store.compactNow()
    await store.updateTestCase(doc, tc, int64(3))
    await store.updateProblemColumn(doc, 'c', 'v')
    await close(store)
    store = await open({ dir })
    assert.throws(() => store.watch({ fromRevision: cut }), isCode('REVISION_UNAVAILABLE', new RegExp(`oldest revision a watch can start from is ${cut + 1} `)))
    assert.deepStrictEqual(shapes(await take(store.watch({ fromRevision: cut + 1, withValues: true, progressIntervalMs: 0 }), 2)), [
      { type: 'updated', target: 'testCase', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64(3) } },
      { type: 'updated', target: 'problemColumn', problemId: doc, column: 'c', value: { kind: 'column', value: 'v' } },
    ])
  })

  it('finds one problem\'s change after megabytes of others in the log, a slice of it at a time', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const noisy = await store.createProblem('n')
    const from = store.revision + 1
    const page = 'x'.repeat(64 * 1024)
    // 10 MiB of other writes: more than two of the reader's slices.
    for (let index = 0; index < 160; index++) await store.updateProblemHtml(noisy, page)
    const quiet = await store.createProblem('q')
    await close(store)
    store = await open({ dir })
    const watch = store.watch({ fromRevision: from, problemId: quiet, progressIntervalMs: 0 })
    assert.deepStrictEqual(shapes(await take(watch, 1)), [{ type: 'created', target: 'problem', problemId: quiet }])
  })

  it('holds no history in the log up to the newest write of a segment found damaged at open', async () => {
    const dir = tempDir()
    let store = await open({ dir, segmentSizeBytes: 4096 })
    const page = 'x'.repeat(3000)
    const doc = await store.createProblem(page)
    const damagedUpTo = store.revision
    // Does not fit beside the first: segment 1 is sealed, and this goes to segment 2.
    await store.updateProblemHtml(doc, page)
    await close(store)
    const segment = join(dir, '000000000001.seg')
    const bytes = readFileSync(segment)
    bytes[segmentHeaderBytes + recordHeaderBytes + 100]! ^= 0x01 // in the first blob's payload
    writeFileSync(segment, bytes)
    // Without its hint the segment is scanned, which finds the damage (a hint would be used instead).
    rmSync(join(dir, '000000000001.hint'))
    store = await open({ dir, segmentSizeBytes: 4096 })
    assert.equal((await store.stats()).lastRecovery.damagedRecordCount, 1)
    assert.throws(() => store.watch({ fromRevision: 1 }), isCode('REVISION_UNAVAILABLE', new RegExp(`oldest revision a watch can start from is ${damagedUpTo + 1} `)))
    assert.deepStrictEqual(shapes(await take(store.watch({ fromRevision: damagedUpTo + 1, progressIntervalMs: 0 }), 1)), [
      { type: 'updated', target: 'problemText', problemId: doc },
    ])
  })

  it('holds no history up to the first write after a segment whose records were lost', async () => {
    const dir = tempDir()
    let store = await open({ dir, segmentSizeBytes: 4096 })
    const doc = await store.createProblem('p')
    for (let index = 0; index < 12; index++) await store.updateProblemHtml(doc, `${index} `.repeat(500))
    await close(store)
    // Segment 2 of at least 4 loses every record: zeros after its header, as a lost write-back would leave.
    const segments = readdirSync(dir).filter((name) => name.endsWith('.seg')).sort()
    assert.ok(segments.length >= 4, `${segments.length} segments`)
    const damaged = join(dir, segments[1]!)
    const bytes = readFileSync(damaged)
    bytes.fill(0, segmentHeaderBytes)
    writeFileSync(damaged, bytes)
    rmSync(damaged.replace(/\.seg$/, '.hint'), { force: true })
    // Every write before the first record of segment 3 may have been in segment 2.
    const nextFirstSeq = readFileSync(join(dir, segments[2]!)).readUInt32LE(segmentHeaderBytes + 16)
    store = await open({ dir, segmentSizeBytes: 4096 })
    assert.ok((await store.stats()).lastRecovery.damagedRangeCount >= 1)
    assert.throws(() => store.watch({ fromRevision: 1 }), isCode('REVISION_UNAVAILABLE', new RegExp(`oldest revision a watch can start from is ${nextFirstSeq} `)))
    const [first] = await take(store.watch({ fromRevision: nextFirstSeq, progressIntervalMs: 0 }), 1)
    assert.equal(first!.revision, nextFirstSeq)
  })

  it('reads no change from a segment of format 3, and starts a format-4 segment after it', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const doc = await store.createProblem('p')
    const upgradedAt = store.revision
    await close(store)
    // The segment as a build of format 3 would have left it: the header names version 3.
    const segment = join(dir, '000000000001.seg')
    const bytes = readFileSync(segment)
    bytes.writeUInt32LE(3, 8)
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 12)), 12)
    writeFileSync(segment, bytes)
    store = await open({ dir })
    const tc = await store.addTestCase(doc, int64(1))
    await close(store)
    assert.deepStrictEqual(readdirSync(dir).filter((name) => name.endsWith('.seg')).sort(), ['000000000001.seg', '000000000002.seg'])
    store = await open({ dir })
    assert.throws(() => store.watch({ fromRevision: 1 }), isCode('REVISION_UNAVAILABLE', new RegExp(`oldest revision a watch can start from is ${upgradedAt + 1} `)))
    assert.deepStrictEqual(shapes(await take(store.watch({ fromRevision: upgradedAt + 1, progressIntervalMs: 0 }), 1)), [
      { type: 'created', target: 'testCase', problemId: doc, testCaseId: tc },
    ])
  })

  it('ends a watcher reading the log with CORRUPTION where a record is damaged, and never gives what follows', async () => {
    const dir = tempDir()
    let store = await open({ dir })
    const doc = await store.createProblem('p')
    await store.addTestCase(doc, int64(1))
    await close(store)
    store = await open({ dir })
    // Damaged after the open (recovery would have seen it then): the log reader finds it.
    const segment = join(dir, '000000000001.seg')
    const bytes = readFileSync(segment)
    // The third record (docBlob, docMeta, then the test case's inputPut), found by the lengths in the headers.
    let offset = segmentHeaderBytes
    for (let index = 0; index < 2; index++) offset += recordHeaderBytes + bytes.readUInt32LE(offset + 12)
    assert.equal(bytes[offset + 8], 4, 'an inputPut record')
    bytes[offset + 16]! ^= 0x01 // its seq: the header's checksum no longer holds
    writeFileSync(segment, bytes)
    const watch = store.watch({ fromRevision: 1, progressIntervalMs: 0 })
    await assert.rejects(
      // The first change is there; the damaged one after it ends the watch (within seconds, never a hang).
      (async () => {
        for (let event = 0; event < 3; event++) await withinSeconds(watch.next(), 5, `event ${event + 1}`)
      })(),
      isCode('CORRUPTION', /^segment 1 is damaged at offset \d+: the changes from there on cannot be read from the log/),
    )
  })

  it('reads values that a compaction moved, and says superseded for those it reclaimed', async () => {
    const store = await open()
    const doc = await store.createProblem('p')
    const from = store.revision + 1
    const tc = await store.addTestCase(doc, int64(1))
    await store.updateTestCase(doc, tc, int64(2))
    await store.setExpectedOutput(doc, tc, int64(3))
    const other = await store.createProblem('q', { a: '1' })
    await store.updateProblemColumn(other, 'b', '2')
    await store.compactNow()
    const events = await take(store.watch({ fromRevision: from, withValues: true, progressIntervalMs: 0 }), 5)
    assert.deepStrictEqual(shapes(events), [
      { type: 'created', target: 'testCase', problemId: doc, testCaseId: tc, value: { kind: 'superseded' } },
      { type: 'updated', target: 'testCase', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64(2) } },
      { type: 'created', target: 'expectedOutput', problemId: doc, testCaseId: tc, value: { kind: 'value', value: int64(3) } },
      // Its metadata record was replaced by the column's write: reclaimed with it.
      { type: 'created', target: 'problem', problemId: other, value: { kind: 'superseded' } },
      { type: 'updated', target: 'problemColumn', problemId: other, column: 'b', value: { kind: 'column', value: '2' } },
    ])
  })

  it('gives the changes ready now with takeReady, within its bounds, without waiting', async () => {
    const store = await open()
    const doc = await store.createProblem('p')
    const watch = store.watch({ withValues: true, progressIntervalMs: 0 })
    // Ten writes called together: one group commit, published at once.
    const ids = await Promise.all(Array.from({ length: 10 }, (_, index) => store.addTestCase(doc, string('v'.repeat(100 + index)))))
    const first = (await take(watch, 1))[0] as ChangeEvent
    assert.equal(first.testCaseId, ids[0])
    const two = watch.takeReady(2, 1 << 20)
    assert.deepStrictEqual(two.map((event) => event.testCaseId), ids.slice(1, 3))
    // A byte bound below one record: still one change.
    assert.deepStrictEqual(watch.takeReady(100, 1).map((event) => event.testCaseId), ids.slice(3, 4))
    const rest = watch.takeReady(100, 1 << 20)
    assert.deepStrictEqual(rest.map((event) => event.testCaseId), ids.slice(4))
    assert.deepStrictEqual(rest.map((event) => event.revision), [...rest.map((event) => event.revision)].sort((left, right) => left - right))
    assert.deepStrictEqual(watch.takeReady(100, 1 << 20), [], 'nothing more is ready')
    // The next change comes through next() as before.
    const later = await store.addTestCase(doc, int64(1))
    assert.equal(((await take(watch, 1))[0] as ChangeEvent).testCaseId, later)
  })

  it('counts the change next() gave in takeReady\'s byte bound', async () => {
    const store = await open()
    const doc = await store.createProblem('p')
    const watch = store.watch({ withValues: true, progressIntervalMs: 0 })
    const big = string('x'.repeat(600 * 1024))
    const [first, second] = await Promise.all([store.addTestCase(doc, big), store.addTestCase(doc, big)])
    assert.equal(((await take(watch, 1))[0] as ChangeEvent).testCaseId, first)
    // 600 KiB given, 600 KiB more would pass 1 MiB: the second waits for the next response.
    assert.deepStrictEqual(watch.takeReady(100, 1024 * 1024), [])
    assert.equal(((await take(watch, 1))[0] as ChangeEvent).testCaseId, second)
  })

  it('sends progress events with the revision seen while nothing changes', async () => {
    const store = await open()
    const doc = await store.createProblem('p')
    const watch = store.watch({ problemId: doc, progressIntervalMs: 20 })
    assert.deepStrictEqual(await take(watch, 1), [{ kind: 'progress', revision: store.revision }])
    // A change of another problem is skipped, yet counted as seen.
    await store.createProblem('other')
    assert.deepStrictEqual(await take(watch, 1), [{ kind: 'progress', revision: store.revision }])
  })

  it('ends every watcher with UNAVAILABLE when the store closes, and checks its options', async () => {
    const store = await open()
    assert.throws(() => store.watch({ fromRevision: 0 }), isCode('INVALID_ARGUMENT', /fromRevision must be a positive integer/))
    assert.throws(() => store.watch({ problemId: -1 }), isCode('INVALID_ARGUMENT', /problemId must be a positive integer/))
    assert.throws(() => store.watch({ progressIntervalMs: 1.5 }), isCode('INVALID_ARGUMENT', /progressIntervalMs must be an integer from 0 to 3600000/))
    const watch = store.watch({ progressIntervalMs: 0 })
    const waiting = watch.next()
    await close(store)
    await assert.rejects(waiting, isCode('UNAVAILABLE', /^the store is closing; once it is open again, watch from revision \d+/))
    assert.throws(() => store.watch(), isCode('UNAVAILABLE', /the store is closed/))
  })
})
