/**
 * End-to-end behaviour that only the server has: statuses and their messages, message size
 * limits, page cutting, deadlines, data loss, health checking, logs and graceful shutdown. Every
 * server runs on a loopback ephemeral port with a temporary folder, and is stopped at the end.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { protoPath as healthProtoPath } from 'grpc-health-check'
import { pino } from 'pino'
import { int64, int64List, isStratumClientError, StatusCode, StratumClient, string, stringMap, type Value } from '../../src/client/index.ts'
import { isStratumError, limits } from '../../src/engine/index.ts'
import { requestMaxBytes, startServer } from '../../src/server/index.ts'
import { canonicalValue } from '../support/canonical-value.ts'
import { makeTempDir, segmentNumbers, segmentPath } from '../support/fixture.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

async function expectStatus(promise: Promise<unknown>, code: StatusCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStratumClientError(error), `expected a StratumClientError, got ${String(error)}`)
    assert.equal(error.codeName, StatusCode[code], error.message)
    if (pattern !== undefined) assert.match(error.details, pattern)
    return true
  })
}

function memoryLogger(level: string): { logger: pino.Logger; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk))
      callback()
    },
  })
  return { logger: pino({ level }, stream), text: () => chunks.join('') }
}

describe('server end to end', () => {
  let test: TestServer
  let client: StratumClient

  before(async () => {
    test = await startTestServer()
    client = test.client
  })

  after(async () => {
    await test.stop()
  })

  it('answers reads of unknown ids NOT_FOUND, naming the ids', async () => {
    const problemId = await client.createProblem('p')
    const tcId = await client.addTestCase(problemId, int64(1))
    await expectStatus(client.getProblemHtml(424242), StatusCode.NOT_FOUND, /problem 424242 not found/)
    await expectStatus(client.getProblemMeta(424243), StatusCode.NOT_FOUND, /problem 424243 not found/)
    await expectStatus(client.getTestCase(problemId, 424244), StatusCode.NOT_FOUND, new RegExp(`test case 424244 of problem ${problemId} not found`))
    await expectStatus(client.getExpectedOutput(problemId, tcId), StatusCode.NOT_FOUND, new RegExp(`test case ${tcId} of problem ${problemId}.*no expected output`))
    await expectStatus(client.getAllTestCasesPage(424245), StatusCode.NOT_FOUND, /problem 424245 not found/)
    await expectStatus(client.updateTestCase(problemId, 424246, int64(1)), StatusCode.NOT_FOUND, /424246/)
  })

  it('answers ALREADY_EXISTS, INVALID_ARGUMENT and RESOURCE_EXHAUSTED with what was wrong', async () => {
    const problemId = await client.createProblem('codes')
    const tcId = await client.addTestCase(problemId, int64(1))
    await client.setExpectedOutput(problemId, tcId, int64(2))
    await expectStatus(client.setExpectedOutput(problemId, tcId, int64(3)), StatusCode.ALREADY_EXISTS, /already has an expected output/)
    await expectStatus(client.addTestCase(problemId, string('x'.repeat(limits.valueMaxBytes))), StatusCode.RESOURCE_EXHAUSTED, /valueMaxBytes/)
    await expectStatus(client.listProblemsPage({ pageToken: 'not-a-token' }), StatusCode.INVALID_ARGUMENT, /page_token/)
    await expectStatus(client.listProblemsPage({ pageSize: limits.pageMaxItems + 1 }), StatusCode.INVALID_ARGUMENT, /page_size/)
    await expectStatus(client.addTestCase(problemId, { type: 'int64', value: 1 } as never), StatusCode.INVALID_ARGUMENT, /bigint/)
  })

  it('refuses a page token of another problem', async () => {
    const first = await client.createProblem('first')
    const second = await client.createProblem('second')
    for (let index = 0; index < 3; index++) {
      await client.addTestCase(first, int64(index))
      await client.addTestCase(second, int64(index))
    }
    const page = await client.getAllTestCasesPage(first, { pageSize: 1 })
    assert.ok(page.nextPageToken !== undefined)
    await expectStatus(client.getAllTestCasesPage(second, { pageToken: page.nextPageToken }), StatusCode.INVALID_ARGUMENT, /another problem/)
    const next = await client.getAllTestCasesPage(first, { pageSize: 1, pageToken: page.nextPageToken })
    assert.equal(next.testCases.length, 1)
    assert.ok(next.testCases[0]!.tcId > page.testCases[0]!.tcId)
  })

  it('answers a request over the message size limit RESOURCE_EXHAUSTED, and the connection stays usable', async () => {
    const before = await client.getStats()
    await expectStatus(client.createProblem('x'.repeat(requestMaxBytes + 1)), StatusCode.RESOURCE_EXHAUSTED)
    // Over the method's own limit, under the transport's: refused before it is decoded.
    const negatives = int64List(new Array<bigint>(600_000).fill(-1n))
    const problemId = await client.createProblem('limits')
    await expectStatus(client.addTestCase(problemId, negatives), StatusCode.RESOURCE_EXHAUSTED, /AddTestCase request is \d+ bytes; its limit is \d+ bytes/)
    const after = await client.getStats()
    assert.equal(after.problemsInIndex, before.problemsInIndex + 1)
    assert.equal(after.testCasesInIndex, before.testCasesInIndex)
  })

  it('cuts a page of large test cases to fit the message size limit, and loses none', { timeout: 60_000 }, async () => {
    const problemId = await client.createProblem('large values')
    const large = string('v'.repeat(limits.valueMaxBytes - 5))
    const tcIds: number[] = []
    for (let index = 0; index < 5; index++) tcIds.push(await client.addTestCase(problemId, large))
    const first = await client.getAllTestCasesPage(problemId)
    assert.ok(first.testCases.length >= 1 && first.testCases.length < 5, `the first page holds ${first.testCases.length}`)
    assert.ok(first.nextPageToken !== undefined)
    const seen: number[] = []
    for await (const testCase of client.getAllTestCases(problemId)) {
      assert.equal(testCase.value.type, 'string')
      assert.equal((testCase.value.value as string).length, limits.valueMaxBytes - 5)
      seen.push(testCase.tcId)
    }
    assert.deepEqual(seen, tcIds)
  })

  it('does not execute a call whose deadline already passed', async () => {
    const before = await client.getStats()
    await expectStatus(client.createProblem('late', undefined, { deadlineMs: -1 }), StatusCode.DEADLINE_EXCEEDED)
    await expectStatus(client.createProblem('late', undefined, { deadlineMs: 0 }), StatusCode.DEADLINE_EXCEEDED)
    assert.equal((await client.getStats()).problemsInIndex, before.problemsInIndex)
    // With deadlines of 1 ms, each call either completes or is DEADLINE_EXCEEDED; nothing else.
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => client.getStats({ deadlineMs: 1 })))
    for (const result of results) {
      if (result.status === 'rejected') assert.equal((result.reason as { codeName: string }).codeName, 'DEADLINE_EXCEEDED')
    }
  })

  it('serves standard health checking', async () => {
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true })
    const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor
    const health = new Health(test.server.address, grpc.credentials.createInsecure())
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        (health as any).Check({ service }, (error: grpc.ServiceError | null, response: { status: string }) => (error ? reject(error) : resolve(response))),
      )
    try {
      assert.equal((await check('')).status, 'SERVING')
      assert.equal((await check('lse.v1.LseService')).status, 'SERVING')
      await assert.rejects(check('no.such.Service'), (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND)
    } finally {
      health.close()
    }
  })
})

/** What a test wrote and did not delete, to read back after compaction and restarts. */
interface LiveProblem {
  html: string
  meta: Record<string, string>
  testCases: { tcId: number; value: Value; output?: Value }[]
}

/**
 * Problems with test cases and outputs over many small segments, then updates and deletes of a
 * part of them, so that sealed segments hold garbage. Returns what is live and what was deleted.
 */
async function writeWithGarbage(client: StratumClient): Promise<{
  live: Map<number, LiveProblem>
  deletedProblems: { problemId: number; tcIds: number[] }[]
  deletedTestCases: { problemId: number; tcId: number }[]
  deletedOutputs: { problemId: number; tcId: number }[]
}> {
  const live = new Map<number, LiveProblem>()
  const text = (label: string, index: number): string => `${label} ${index} ${'x'.repeat(200 + (index % 7) * 40)}`
  for (let index = 0; index < 20; index++) {
    const html = `<p>${text('problem', index)}</p>`
    const meta = { title: `T${index}`, level: String(index % 3) }
    const problemId = await client.createProblem(html, meta)
    const problem: LiveProblem = { html, meta, testCases: [] }
    for (let position = 0; position < 8; position++) {
      const value = position % 2 === 0 ? string(text('input', position)) : int64List([BigInt(index), BigInt(position), -1n])
      const tcId = await client.addTestCase(problemId, value)
      const testCase: LiveProblem['testCases'][number] = { tcId, value }
      if (position % 3 !== 2) {
        testCase.output = string(text('output', position))
        await client.setExpectedOutput(problemId, tcId, testCase.output)
      }
      problem.testCases.push(testCase)
    }
    live.set(problemId, problem)
  }
  const deletedProblems: { problemId: number; tcIds: number[] }[] = []
  const deletedTestCases: { problemId: number; tcId: number }[] = []
  const deletedOutputs: { problemId: number; tcId: number }[] = []
  for (const [problemId, problem] of [...live]) {
    if (problemId % 5 === 0) {
      await client.deleteProblem(problemId)
      live.delete(problemId)
      deletedProblems.push({ problemId, tcIds: problem.testCases.map((testCase) => testCase.tcId) })
      continue
    }
    problem.html = `<p>updated ${problemId} ${'y'.repeat(300)}</p>`
    await client.updateProblemHtml(problemId, problem.html)
    problem.meta.title = `updated ${problemId}`
    await client.updateProblemColumn(problemId, 'title', problem.meta.title)
    for (const testCase of [...problem.testCases]) {
      if (testCase.tcId % 4 === 0) {
        await client.deleteTestCase(problemId, testCase.tcId)
        problem.testCases.splice(problem.testCases.indexOf(testCase), 1)
        deletedTestCases.push({ problemId, tcId: testCase.tcId })
      } else if (testCase.tcId % 4 === 1) {
        testCase.value = stringMap({ updated: String(testCase.tcId), pad: 'z'.repeat(250) })
        await client.updateTestCase(problemId, testCase.tcId, testCase.value)
      } else if (testCase.output !== undefined && testCase.tcId % 4 === 2) {
        await client.deleteExpectedOutput(problemId, testCase.tcId)
        delete testCase.output
        deletedOutputs.push({ problemId, tcId: testCase.tcId })
      } else if (testCase.output !== undefined) {
        testCase.output = int64(BigInt(testCase.tcId) * -3n)
        await client.updateExpectedOutput(problemId, testCase.tcId, testCase.output)
      }
    }
  }
  return { live, deletedProblems, deletedTestCases, deletedOutputs }
}

/**
 * Every live problem, test case and output reads back exactly, by every read RPC; the listing
 * holds exactly the live problems (or, with `othersMayExist`, at least them).
 */
async function assertLive(client: StratumClient, live: Map<number, LiveProblem>, othersMayExist = false): Promise<void> {
  const listed: number[] = []
  for await (const id of client.listProblems({ pageSize: 7 })) listed.push(id)
  const expected = [...live.keys()].sort((a, b) => a - b)
  if (othersMayExist) assert.deepEqual(listed.filter((id) => live.has(id)), expected)
  else assert.deepEqual(listed, expected)
  for (const [problemId, problem] of live) {
    assert.equal(await client.getProblemHtml(problemId), problem.html)
    assert.deepEqual(await client.getProblemMeta(problemId), problem.meta)
    const chain: { tcId: number; value: string; output: string }[] = []
    for await (const testCase of client.getAllTestCases(problemId, { includeOutputs: true, pageSize: 3 })) {
      chain.push({ tcId: testCase.tcId, value: canonicalValue(testCase.value), output: canonicalValue(testCase.output) })
    }
    assert.deepEqual(
      chain,
      problem.testCases.map((testCase) => ({ tcId: testCase.tcId, value: canonicalValue(testCase.value), output: canonicalValue(testCase.output) })),
    )
    for (const testCase of problem.testCases) {
      assert.equal(canonicalValue(await client.getTestCase(problemId, testCase.tcId)), canonicalValue(testCase.value))
      if (testCase.output !== undefined) {
        assert.equal(canonicalValue(await client.getExpectedOutput(problemId, testCase.tcId)), canonicalValue(testCase.output))
      }
    }
  }
}

async function assertDeleted(client: StratumClient, deleted: Awaited<ReturnType<typeof writeWithGarbage>>): Promise<void> {
  for (const { problemId, tcIds } of deleted.deletedProblems) {
    await expectStatus(client.getProblemHtml(problemId), StatusCode.NOT_FOUND)
    await expectStatus(client.getProblemMeta(problemId), StatusCode.NOT_FOUND)
    await expectStatus(client.getAllTestCasesPage(problemId), StatusCode.NOT_FOUND)
    for (const tcId of tcIds) await expectStatus(client.getTestCase(problemId, tcId), StatusCode.NOT_FOUND)
  }
  for (const { problemId, tcId } of deleted.deletedTestCases) {
    await expectStatus(client.getTestCase(problemId, tcId), StatusCode.NOT_FOUND)
    await expectStatus(client.getExpectedOutput(problemId, tcId), StatusCode.NOT_FOUND)
  }
  for (const { problemId, tcId } of deleted.deletedOutputs) await expectStatus(client.getExpectedOutput(problemId, tcId), StatusCode.NOT_FOUND)
}

describe('CompactNow', () => {
  // Small segments, so that the data spans many; no background compaction, so that the one
  // CompactNow runs is the only compaction.
  const store = { segmentSizeBytes: limits.segmentSizeMinBytes, compactionIntervalMs: 0 }

  it('reports no compaction in GetStats before one ran, and how the store was opened', { timeout: 30_000 }, async () => {
    const test = await startTestServer({ store })
    try {
      await writeWithGarbage(test.client)
      await test.restart()
      const stats = await test.client.getStats()
      assert.deepEqual(stats.compaction, { running: false, runs: 0, bytesReclaimed: 0, failures: 0, lastError: '', last: null })
      const recovery = stats.lastRecovery
      assert.ok(stats.segmentCount > 1, `${stats.segmentCount} segments`)
      assert.ok(recovery.segmentsScanned >= 1, 'the newest segment is always scanned')
      assert.equal(recovery.segmentsFromHints + recovery.segmentsScanned, recovery.segmentCount)
      assert.equal(recovery.unusableHintCount, 0)
    } finally {
      await test.stop()
    }
  })

  it('merges the segments, reclaims the garbage, keeps every live record and no deleted one', { timeout: 60_000 }, async () => {
    const test = await startTestServer({ store })
    try {
      const written = await writeWithGarbage(test.client)
      const before = await test.client.getStats()
      assert.ok(before.deadBytes > 0, 'the updates and deletes left garbage')

      const result = await test.client.compactNow({ deadlineMs: 60_000 })
      assert.ok(result.segmentsCompacted >= 1, `segmentsCompacted ${result.segmentsCompacted}`)
      assert.ok(result.segmentsWritten >= 1, `segmentsWritten ${result.segmentsWritten}`)
      assert.ok(result.bytesReclaimed > 0, `bytesReclaimed ${result.bytesReclaimed}`)
      assert.ok(result.bytesAfter < result.bytesBefore, `${result.bytesBefore} -> ${result.bytesAfter}`)
      assert.equal(result.bytesReclaimed, result.bytesBefore - result.bytesAfter)
      const liveTestCases = [...written.live.values()].flatMap((problem) => problem.testCases)
      const liveOutputs = liveTestCases.filter((testCase) => testCase.output !== undefined)
      assert.ok(result.recordsCopied >= written.live.size + liveTestCases.length + liveOutputs.length, `recordsCopied ${result.recordsCopied}`)
      assert.ok(result.tombstonesKept + result.tombstonesDropped >= 1, 'the deletes left tombstones')
      assert.ok(Number.isFinite(result.durationMs) && result.durationMs >= 0, `durationMs ${result.durationMs}`)
      for (const [field, value] of Object.entries(result)) {
        assert.ok(field === 'durationMs' || Number.isSafeInteger(value), `${field} is an integer: ${value}`)
      }

      const after = await test.client.getStats()
      assert.ok(after.compaction.runs >= 1, `runs ${after.compaction.runs}`)
      assert.equal(after.compaction.running, false)
      assert.equal(after.compaction.failures, 0)
      assert.equal(after.compaction.lastError, '')
      assert.ok(after.compaction.bytesReclaimed >= result.bytesReclaimed)
      assert.deepEqual(after.compaction.last, result)
      assert.ok(after.diskBytes < before.diskBytes, `disk bytes ${before.diskBytes} -> ${after.diskBytes}`)
      assert.ok(after.deadBytes < before.deadBytes, `dead bytes ${before.deadBytes} -> ${after.deadBytes}`)
      assert.equal(after.liveBytes, before.liveBytes)
      assert.deepEqual(
        [after.problemsInIndex, after.testCasesInIndex, after.expectedOutputsInIndex],
        [before.problemsInIndex, before.testCasesInIndex, before.expectedOutputsInIndex],
      )

      await assertLive(test.client, written.live)
      await assertDeleted(test.client, written)

      // The compacted store takes writes, and everything survives a restart.
      const [problemId, problem] = [...written.live][0]!
      const tcId = await test.client.addTestCase(problemId, string('after compaction'))
      problem.testCases.push({ tcId, value: string('after compaction') })
      await test.restart()
      await assertLive(test.client, written.live)
      await assertDeleted(test.client, written)
      assert.equal((await test.client.getStats()).compaction.runs, 0, 'the counters start again with the process')
    } finally {
      await test.stop()
    }
  })

  it('compacts while writes and reads go on, and loses no acknowledged write', { timeout: 60_000 }, async () => {
    const test = await startTestServer({ store })
    try {
      const written = await writeWithGarbage(test.client)
      let stop = false
      const writer = (async () => {
        const acknowledged: { problemId: number; html: string }[] = []
        for (let index = 0; !stop || acknowledged.length < 20; index++) {
          const html = `<p>during ${index} ${'w'.repeat(300)}</p>`
          acknowledged.push({ problemId: await test.client.createProblem(html), html })
        }
        return acknowledged
      })()
      // Settles to the first error, if any, and then stops the writer too.
      const reader = (async () => {
        while (!stop) await assertLive(test.client, written.live, true)
      })().then(
        () => undefined,
        (error: unknown) => {
          stop = true
          return error
        },
      )
      let results
      try {
        // Two at once: the second waits for the first.
        results = await Promise.all([test.client.compactNow({ deadlineMs: 60_000 }), test.client.compactNow({ deadlineMs: 60_000 })])
      } finally {
        stop = true
      }
      const [acknowledged, readError] = await Promise.all([writer, reader])
      if (readError !== undefined) throw readError
      assert.ok(results.some((result) => result.segmentsCompacted >= 1 && result.bytesReclaimed > 0))
      for (const { problemId, html } of acknowledged) written.live.set(problemId, { html, meta: {}, testCases: [] })
      await assertLive(test.client, written.live)
      await assertDeleted(test.client, written)
      await test.restart()
      await assertLive(test.client, written.live)
    } finally {
      await test.stop()
    }
  })

  it('reports a negative bytesReclaimed when the compaction wrote more than it merged', { timeout: 30_000 }, async () => {
    const test = await startTestServer({ store })
    try {
      // No garbage at all: the one segment written in its place adds an id watermark record.
      await test.client.createProblem('<p>no garbage</p>')
      const result = await test.client.compactNow({ deadlineMs: 60_000 })
      assert.equal(result.segmentsCompacted, 1)
      assert.ok(result.bytesAfter > result.bytesBefore, `${result.bytesBefore} -> ${result.bytesAfter}`)
      assert.equal(result.bytesReclaimed, result.bytesBefore - result.bytesAfter)
      const { compaction } = await test.client.getStats()
      assert.equal(compaction.bytesReclaimed, result.bytesReclaimed)
      assert.deepEqual(compaction.last, result)
    } finally {
      await test.stop()
    }
  })
})

describe('server with a damaged record', () => {
  it('answers DATA_LOSS for the damaged record and serves the rest', { timeout: 30_000 }, async () => {
    const dir = makeTempDir('server-damage')
    const marker = 'DAMAGE-ME-'.repeat(50)
    const test = await startTestServer({ dir })
    const damaged = await test.client.createProblem(marker, { title: 'kept' })
    const intact = await test.client.createProblem('intact')
    await test.stop({ keepDir: true })
    const file = segmentPath(dir, segmentNumbers(dir).at(-1)!)
    const contents = fs.readFileSync(file)
    const at = contents.indexOf(marker)
    assert.ok(at > 0, 'the blob is in the segment')
    contents.writeUInt8(contents.readUInt8(at + 100) ^ 0x01, at + 100)
    fs.writeFileSync(file, contents)
    const { logger, text } = memoryLogger('info')
    const server = await startServer({ host: '127.0.0.1', port: 0, store: { dir, syncMode: 'none' }, logger })
    const client = new StratumClient(server.address)
    try {
      await expectStatus(client.getProblemHtml(damaged), StatusCode.DATA_LOSS, new RegExp(`${damaged}`))
      assert.deepEqual(await client.getProblemMeta(damaged), { title: 'kept' })
      assert.equal(await client.getProblemHtml(intact), 'intact')
      assert.equal((await client.getStats()).lastRecovery.damagedRecordCount, 1)
    } finally {
      client.close()
      await server.shutdown()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    assert.match(text(), /"engineCode":"CORRUPTION"/)
    assert.ok(!text().includes('DAMAGE-ME'), 'the log never holds stored data')
  })
})

describe('server logs', () => {
  it('writes one line on start, on shutdown and on stop, with the port, and never stored data', async () => {
    const dir = makeTempDir('server-logs')
    const { logger, text } = memoryLogger('debug')
    const server = await startServer({ host: '127.0.0.1', port: 0, store: { dir, syncMode: 'none' }, logger })
    const client = new StratumClient(server.address)
    const secret = 'SECRET-PAYLOAD'
    const problemId = await client.createProblem(`<p>${secret}</p>`, { [`${secret}-column`]: secret })
    const tcId = await client.addTestCase(problemId, string(secret))
    await client.setExpectedOutput(problemId, tcId, string(secret))
    await expectStatus(client.setExpectedOutput(problemId, tcId, string(secret)), StatusCode.ALREADY_EXISTS)
    await expectStatus(client.updateProblemColumn(problemId, `${secret}`.repeat(30), secret), StatusCode.RESOURCE_EXHAUSTED)
    await expectStatus(client.createProblem(secret, { '': secret }), StatusCode.INVALID_ARGUMENT)
    client.close()
    await server.shutdown('test over')
    fs.rmSync(dir, { recursive: true, force: true })
    const lines = text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; port?: number; level: number; reason?: string })
    const info = lines.filter((line) => line.level >= 30)
    assert.deepEqual(
      info.map((line) => line.msg),
      ['listening', 'shutting down', 'stopped'],
    )
    assert.equal(info[0]!.port, server.port)
    assert.equal(info[1]!.reason, 'test over')
    assert.ok(!text().includes(secret), 'no line holds stored data, even at debug level')
  })
})

describe('graceful shutdown', () => {
  it('finishes the calls in flight, refuses later ones UNAVAILABLE, and keeps every acknowledged write', { timeout: 60_000 }, async () => {
    const dir = makeTempDir('server-shutdown')
    const { server, client } = await startTestServer({ dir, store: { syncMode: 'always' } })
    await client.getStats() // connected
    const pending = Array.from({ length: 300 }, (_, index) => client.createProblem(`write ${index}`))
    const writes = Promise.allSettled(pending)
    await Promise.any(pending) // the writes are flowing: some are now in flight on the server
    const stopping = server.shutdown('test')
    const late = await Promise.allSettled(Array.from({ length: 20 }, () => client.createProblem('late')))
    const results = await writes
    await stopping
    client.close()
    const acknowledged: number[] = []
    const codes = new Set<string>()
    for (const result of [...results, ...late]) {
      if (result.status === 'fulfilled') acknowledged.push(result.value)
      else codes.add((result.reason as { codeName: string }).codeName)
    }
    assert.ok(acknowledged.length > 0, 'calls in flight when shutdown began were finished')
    assert.ok(late.some((result) => result.status === 'rejected'), 'calls after shutdown began were refused')
    assert.deepEqual([...codes], ['UNAVAILABLE'])
    const restarted = await startTestServer({ dir })
    try {
      const listed = new Set<number>()
      for await (const id of restarted.client.listProblems()) listed.add(id)
      for (const id of acknowledged) assert.ok(listed.has(id), `acknowledged problem ${id} survived`)
    } finally {
      await restarted.stop()
    }
  })
})

describe('server start-up', () => {
  it('refuses a store another server holds (LOCKED), and a port in use, leaving nothing open', { timeout: 30_000 }, async () => {
    const dir = makeTempDir('server-startup')
    const first = await startTestServer({ dir })
    try {
      await assert.rejects(startServer({ host: '127.0.0.1', port: 0, store: { dir } }), (error: unknown) => isStratumError(error) && error.code === 'LOCKED')
      const otherDir = makeTempDir('server-startup-other')
      await assert.rejects(startServer({ host: '127.0.0.1', port: first.server.port, store: { dir: otherDir } }), /bind|address|in use/i)
      // The failed start closed its store: the folder can be opened again.
      const again = await startServer({ host: '127.0.0.1', port: 0, store: { dir: otherDir } })
      await again.shutdown()
      fs.rmSync(otherDir, { recursive: true, force: true })
    } finally {
      await first.stop()
    }
  })

  it('listens on IPv6 loopback too, and a client can wait for it to be ready', { timeout: 30_000 }, async () => {
    const dir = makeTempDir('server-ipv6')
    let server
    try {
      server = await startServer({ host: '::1', port: 0, store: { dir, syncMode: 'none' } })
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true })
      if (/EADDRNOTAVAIL|EAFNOSUPPORT/.test(String(error))) return // no IPv6 on this machine
      throw error
    }
    const client = new StratumClient(server.address)
    try {
      assert.equal(server.address, `[::1]:${server.port}`)
      await client.waitForReady(5000)
      assert.equal((await client.getStats()).storeStatus, 'open')
    } finally {
      client.close()
      await server.shutdown()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const unreachable = new StratumClient('127.0.0.1:1')
    try {
      await expectStatus(unreachable.waitForReady(300), StatusCode.UNAVAILABLE)
    } finally {
      unreachable.close()
    }
  })
})

describe('health during shutdown', () => {
  it('tells health watchers NOT_SERVING when shutdown begins', { timeout: 30_000 }, async () => {
    const test = await startTestServer({ shutdownGraceMs: 300 })
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true })
    const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor
    const health = new Health(test.server.address, grpc.credentials.createInsecure())
    const statuses: string[] = []
    const watch = (health as any).Watch({ service: 'lse.v1.LseService' }) as grpc.ClientReadableStream<{ status: string }>
    watch.on('error', () => {}) // cancelled when the grace period ends
    const seen = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (statuses.length >= count ? resolve() : watch.once('data', () => setImmediate(check)))
        check()
      })
    watch.on('data', (message) => statuses.push(message.status))
    try {
      await seen(1)
      assert.deepEqual(statuses, ['SERVING'])
      const stopping = test.stop()
      await seen(2)
      assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING'])
      await stopping // the open watch is cancelled once the grace period is over
    } finally {
      health.close()
    }
  })
})
