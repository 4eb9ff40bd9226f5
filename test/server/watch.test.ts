/**
 * The Watch RPC through the TypeScript client: every acknowledged write, in order, with its
 * value, as the embedded engine gives it; resuming, from the log too; one problem; progress;
 * OUT_OF_RANGE for a revision a compaction reclaimed and RESOURCE_EXHAUSTED for a watcher that
 * fell behind it; INVALID_ARGUMENT for bad requests and the same events for every legal encoding
 * of one; UNAVAILABLE, naming the revision to resume from, when the server stops, which it does
 * without waiting for the watch.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import { after, before, describe, it } from 'node:test'
import { int64, int64List, string, StratumClient, StratumClientError, type ChangeEvent, type WatchEvent, type WatchStream } from '../../src/client/index.ts'
import { lseMethods, lseServiceName } from '../../src/protocol/proto-definition.ts'
import type { WatchResponse } from '../../src/protocol/wire-types.ts'
import { rawClient } from '../support/hostile-sender.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

/** The next `count` events, failing rather than hanging. */
async function take(watch: WatchStream, count: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = []
  const deadline = setTimeout(() => watch.cancel(), 10_000)
  try {
    for (let index = 0; index < count; index++) {
      const next = await watch.next()
      assert.equal(next.done, false, `the watch ended after ${index} of ${count} events`)
      events.push(next.value)
    }
  } finally {
    clearTimeout(deadline)
  }
  return events
}

/** A protobuf varint. */
function varint(value: number): number[] {
  const bytes: number[] = []
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes.push((value % 0x80) | 0x80)
  return [...bytes, value]
}

function shapes(events: readonly WatchEvent[]): unknown[] {
  return events.map((event) => {
    assert.equal(event.kind, 'change')
    const { kind: _kind, revision: _revision, ...rest } = event as ChangeEvent
    return rest
  })
}

function failsWith(codeName: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof StratumClientError, String(error))
    assert.equal(error.codeName, codeName, error.details)
    assert.match(error.details, pattern)
    return true
  }
}

describe('Watch', () => {
  let server: TestServer
  let client: StratumClient

  before(async () => {
    server = await startTestServer({ store: { watchHistoryMaxChanges: 50 } })
    client = server.client
  })

  after(async () => {
    await server.stop()
  })

  it('streams every acknowledged write in revision order, with what it wrote', async () => {
    const watch = client.watch({ withValues: true, progressIntervalMs: 3_600_000 })
    // A watch from now says first from where: the revision it starts after.
    const startedAfter = (await client.getStats()).revision
    assert.deepStrictEqual(await take(watch, 1), [{ kind: 'progress', revision: startedAfter }])
    const problemId = await client.createProblem('<p>A+B</p>', { title: 'A+B' })
    const revisions = [(await client.getStats()).revision]
    await client.updateProblemColumn(problemId, 'level', 'easy')
    const tcId = await client.addTestCase(problemId, int64List([1, 2]))
    await client.setExpectedOutput(problemId, tcId, int64(3))
    await client.updateExpectedOutput(problemId, tcId, string('three'))
    const batch = client.batch()
    batch.updateProblemHtml(problemId, '<p>A plus B</p>').deleteTestCase(problemId, tcId)
    await batch.commit()
    await client.deleteProblem(problemId)
    const events = await take(watch, 8)
    assert.equal(events[0]!.revision, revisions[0])
    const eventRevisions = events.map((event) => event.revision)
    assert.deepStrictEqual(eventRevisions, [...eventRevisions].sort((left, right) => left - right))
    assert.equal(eventRevisions[7], (await client.getStats()).revision)
    assert.deepStrictEqual(shapes(events), [
      { type: 'created', target: 'problem', problemId, value: { kind: 'problem', html: '<p>A+B</p>', columns: new Map([['title', 'A+B']]) } },
      { type: 'updated', target: 'problemColumn', problemId, column: 'level', value: { kind: 'column', value: 'easy' } },
      { type: 'created', target: 'testCase', problemId, testCaseId: tcId, value: { kind: 'value', value: int64List([1, 2]) } },
      { type: 'created', target: 'expectedOutput', problemId, testCaseId: tcId, value: { kind: 'value', value: int64(3) } },
      { type: 'updated', target: 'expectedOutput', problemId, testCaseId: tcId, value: { kind: 'value', value: string('three') } },
      { type: 'updated', target: 'problemText', problemId, value: { kind: 'text', html: '<p>A plus B</p>' } },
      { type: 'deleted', target: 'testCase', problemId, testCaseId: tcId },
      { type: 'deleted', target: 'problem', problemId },
    ])
    assert.equal(watch.resumeFrom, eventRevisions[7]! + 1)
    watch.cancel()
    assert.deepStrictEqual(await watch.next(), { done: true, value: undefined })
  })

  it('sends the changes of a group commit together, fewer responses than changes', async () => {
    const problemId = await client.createProblem('together')
    const from = (await client.getStats()).revision + 1
    const raw = rawClient(`127.0.0.1:${server.server.port}`)
    const method = lseMethods().Watch
    const request = method.requestSerialize({ fromRevision: String(from), problemId: '0', withValues: false, progressIntervalMs: 0 })
    const responses: WatchResponse[] = []
    const call = raw.makeServerStreamRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, request, new grpc.Metadata(), {})
    call.on('data', (bytes: Buffer) => responses.push(method.responseDeserialize(bytes) as WatchResponse))
    let failure: grpc.ServiceError | undefined
    call.on('error', (error: grpc.ServiceError) => (failure = error.code === grpc.status.CANCELLED ? failure : error))
    // 40 writes called together share group commits (this server keeps the last 50 changes).
    const ids = await Promise.all(Array.from({ length: 40 }, (_, index) => client.addTestCase(problemId, int64(index))))
    const deadline = Date.now() + 10_000
    // Bounded by the deadline.
    while (responses.reduce((sum, response) => sum + response.changes.length, 0) < ids.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    call.cancel()
    raw.close()
    assert.equal(failure, undefined)
    const changes = responses.flatMap((response) => response.changes)
    assert.deepStrictEqual(
      changes.map((change) => Number(change.tcId)),
      ids,
    )
    assert.ok(responses.length < changes.length, `${changes.length} changes in ${responses.length} responses`)
  })

  it('resumes from a revision, watches one problem, and sends progress while it is quiet', async () => {
    const first = await client.createProblem('one')
    const second = await client.createProblem('two')
    const from = (await client.getStats()).revision + 1
    const tc1 = await client.addTestCase(first, int64(1))
    const tc2 = await client.addTestCase(second, int64(2))
    const resumed = client.watch({ fromRevision: from })
    assert.deepStrictEqual(
      shapes(await take(resumed, 2)).map((event) => (event as { testCaseId: number }).testCaseId),
      [tc1, tc2],
    )
    resumed.cancel()
    const onlySecond = client.watch({ fromRevision: from, problemId: second, progressIntervalMs: 100 })
    const [change, progress] = await take(onlySecond, 2)
    assert.deepStrictEqual(shapes([change!]), [{ type: 'created', target: 'testCase', problemId: second, testCaseId: tc2 }])
    assert.deepStrictEqual(progress, { kind: 'progress', revision: (await client.getStats()).revision })
    onlySecond.cancel()
  })

  it('answers OUT_OF_RANGE for a revision a compaction reclaimed and RESOURCE_EXHAUSTED to a watcher that fell behind it', { timeout: 60_000 }, async () => {
    const problemId = await client.createProblem('many')
    const from = (await client.getStats()).revision + 1
    // A client that reads nothing (its HTTP/2 window is 0) while 200 writes go by: the server
    // waits for it with one response, and the store keeps only the last 50 changes. (A grpc-js
    // client would read everything into its own memory: flow control is the raw client's here.)
    const session = http2.connect(`http://127.0.0.1:${server.server.port}`, { settings: { initialWindowSize: 0 } })
    session.on('error', () => {})
    // WatchRequest { from_revision: from, with_values: true }, length-prefixed.
    const body = Buffer.from([0x08, ...varint(from), 0x18, 0x01])
    const prefix = Buffer.alloc(5)
    prefix.writeUInt32BE(body.length, 1)
    const stream = session.request({ ':method': 'POST', ':path': `/${lseServiceName}/Watch`, 'content-type': 'application/grpc', te: 'trailers' })
    stream.end(Buffer.concat([prefix, body]))
    const status = new Promise<{ code: number; details: string }>((resolve) => {
      stream.on('trailers', (trailers) => resolve({ code: Number(trailers['grpc-status']), details: decodeURIComponent(String(trailers['grpc-message'])) }))
    })
    let received = 0
    stream.on('data', (chunk: Buffer) => (received += chunk.length))
    for (let index = 0; index < 200; index++) await client.addTestCase(problemId, string('x'.repeat(4096)))
    assert.equal(received, 0, 'nothing reached a client with a window of 0')
    // The first 150 are no longer in memory, but the log holds them, until a compaction reclaims them.
    const resumed = client.watch({ fromRevision: from, progressIntervalMs: 3_600_000 })
    assert.equal((await take(resumed, 1))[0]!.revision, from)
    resumed.cancel()
    await client.compactNow()
    await assert.rejects(
      client.watch({ fromRevision: from }).next(),
      failsWith('OUT_OF_RANGE', new RegExp(`^revision ${from} is no longer held; the oldest revision a watch can start from is \\d+ `)),
    )
    // The client reads again: it gets what was on its way, then learns it fell behind.
    session.settings({ initialWindowSize: 1 << 20 })
    const { code, details } = await status
    assert.equal(code, grpc.status.RESOURCE_EXHAUSTED, details)
    assert.match(details, /^the watcher fell behind: the changes from revision \d+ on are no longer held \(the store keeps the last 50 changes in memory, watchHistoryMaxChanges, and the log those since the last compaction/)
    assert.ok(received > 0)
    session.close()
  })

  it('answers INVALID_ARGUMENT for bad requests, and reads every legal encoding of one alike', async () => {
    assert.throws(() => client.watch({ problemId: 0.5 }), failsWith('INVALID_ARGUMENT', /problemId must be an integer/))
    assert.throws(() => client.watch({ progressIntervalMs: 99 }), failsWith('INVALID_ARGUMENT', /progressIntervalMs must be an integer from 100/))
    assert.throws(() => client.watch({ fromRevision: 2 ** 53 + 2 }), failsWith('INVALID_ARGUMENT', /fromRevision must be an integer/))
    // What a client that checks nothing may send: a revision past 2^53.
    const tooFar = await new Promise<grpc.ServiceError>((resolve) => {
      const raw = rawClient(`127.0.0.1:${server.server.port}`)
      const call = raw.makeServerStreamRequest(`/${lseServiceName}/Watch`, (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x08, ...varint(2 ** 53 + 2)]), new grpc.Metadata(), {})
      call.on('error', (error: grpc.ServiceError) => {
        raw.close()
        resolve(error)
      })
    })
    assert.equal(tooFar.code, grpc.status.INVALID_ARGUMENT, tooFar.details)
    // A progress response every millisecond would cost the server a thousand messages a second.
    const tooOften = await new Promise<grpc.ServiceError>((resolve) => {
      const raw = rawClient(`127.0.0.1:${server.server.port}`)
      const call = raw.makeServerStreamRequest(`/${lseServiceName}/Watch`, (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x20, 0x01]), new grpc.Metadata(), {})
      call.on('error', (error: grpc.ServiceError) => {
        raw.close()
        resolve(error)
      })
    })
    assert.equal(tooOften.code, grpc.status.INVALID_ARGUMENT, tooOften.details)
    assert.match(tooOften.details, /^progress_interval_ms must be from 100 to 3600000 \(0 for the default, 10000\), got 1$/)
    assert.match(tooFar.details, /^from_revision must be below 2\^53, got 9007199254740994$/)
    const problemId = await client.createProblem('encodings')
    const from = (await client.getStats()).revision
    // WatchRequest { from_revision, problem_id }: canonical, then each tag as a padded varint
    // and the fields the other way round.
    const fields = [
      [0x08, ...varint(from)],
      [0x10, ...varint(problemId)],
    ]
    const encodings = [
      Buffer.from([...fields[0]!, ...fields[1]!]),
      Buffer.from([0x88, 0x80, 0x80, 0x80, 0x00, ...fields[0]!.slice(1), 0x90, 0x00, ...fields[1]!.slice(1)]),
      Buffer.from([...fields[1]!, ...fields[0]!]),
    ]
    const raw = rawClient(`127.0.0.1:${server.server.port}`)
    try {
      for (const bytes of encodings) {
        const first = await new Promise<Buffer>((resolve, reject) => {
          const call = raw.makeServerStreamRequest(`/${lseServiceName}/Watch`, (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), {})
          call.once('data', (data: Buffer) => {
            resolve(data)
            call.cancel()
          })
          call.on('error', (error: grpc.ServiceError) => (error.code === grpc.status.CANCELLED ? undefined : reject(error)))
        })
        // Change { revision: from, type CREATED, target PROBLEM, problem_id }.
        assert.deepStrictEqual(first.subarray(0, 2), Buffer.from([0x0a, first[1]!]), `${bytes.toString('hex')}: a change`)
        assert.ok(first.includes(Buffer.from([0x20, ...varint(problemId)])), `${bytes.toString('hex')}: the change of problem ${problemId}`)
      }
    } finally {
      raw.close()
    }
  })
})

describe('Watch when the server stops', () => {
  it('ends with UNAVAILABLE naming the revision to resume from, and the server stops without waiting for it', { timeout: 30_000 }, async () => {
    // A grace period far longer than the test: a stop that waited for the watch would time out.
    const server = await startTestServer({ shutdownGraceMs: 120_000 })
    const problemId = await server.client.createProblem('p')
    const watch = server.client.watch({ problemId })
    assert.equal((await take(watch, 1))[0]!.kind, 'progress')
    const tcId = await server.client.addTestCase(problemId, int64(1))
    const [event] = await take(watch, 1)
    assert.deepStrictEqual(shapes([event!]), [{ type: 'created', target: 'testCase', problemId, testCaseId: tcId }])
    const ended = watch.next()
    ended.catch(() => {}) // asserted below, once the server stopped
    await server.stop()
    await assert.rejects(
      ended,
      failsWith('UNAVAILABLE', new RegExp(`^the server is shutting down: every change up to revision ${event!.revision} was streamed; watch again from revision ${event!.revision + 1} \\(OUT_OF_RANGE only if a compaction reclaimed it`)),
    )
    assert.equal(watch.resumeFrom, event!.revision + 1)
  })
})
