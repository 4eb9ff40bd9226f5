/**
 * `stratum watch` (the built command, in a child process) against a real server: one JSON line
 * per change with exact values, a clean exit 0 on SIGINT; OUT_OF_RANGE on one line with exit 1;
 * a server that stops ends it with exit 1 and the revision to resume from.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { double, int64, stringMap } from '../../src/client/index.ts'
import { cleanEnv, startCollecting, stratumBin, waitFor } from '../support/stratum-cli.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})

after(async () => {
  await server.stop()
})

function watchCli(args: readonly string[]) {
  return startCollecting(process.execPath, [stratumBin, 'watch', '--address', server.server.address, ...args], { env: cleanEnv() })
}

function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown)
}

describe('stratum watch', () => {
  it('prints each change of a problem as one JSON line, values exact, and exits 0 on SIGINT', { timeout: 60_000 }, async () => {
    const problemId = await server.client.createProblem('<p>watched</p>')
    const from = (await server.client.getStats()).revision + 1
    const running = watchCli(['--problem', String(problemId), '--values', '--from-revision', String(from)])
    const big = await server.client.addTestCase(problemId, int64(2n ** 63n - 1n))
    const negativeZero = await server.client.addTestCase(problemId, double(-0))
    const map = await server.client.addTestCase(problemId, stringMap(new Map([['b', '1'], ['a', '2']])))
    await server.client.createProblem('<p>not watched</p>')
    const printed = await waitFor(() => (lines(running.stdout()).length >= 3 ? lines(running.stdout()) : undefined), 20_000, running.stderr)
    const events = printed.map((event) => {
      const { revision, ...rest } = event as { revision: number }
      assert.ok(revision >= from)
      return rest
    })
    assert.deepStrictEqual(events, [
      { kind: 'change', type: 'created', target: 'testCase', problemId, testCaseId: big, value: { kind: 'value', value: { type: 'int64', value: '9223372036854775807' } } },
      { kind: 'change', type: 'created', target: 'testCase', problemId, testCaseId: negativeZero, value: { kind: 'value', value: { type: 'double', value: '-0' } } },
      { kind: 'change', type: 'created', target: 'testCase', problemId, testCaseId: map, value: { kind: 'value', value: { type: 'stringMap', value: [['b', '1'], ['a', '2']] } } },
    ])
    running.child.kill('SIGINT')
    assert.equal(await running.exited, 0, running.stderr())
    assert.equal(running.stderr(), '')
  })

  it('fails on one line with exit 1 for a revision the server no longer holds', { timeout: 60_000 }, async () => {
    // After a restart the changes before it are read from the log, until a compaction reclaims them.
    await server.restart()
    await server.client.compactNow()
    const running = watchCli(['--from-revision', '1'])
    assert.equal(await running.exited, 1)
    const stderr = running.stderr().split('\n').filter(Boolean)
    assert.equal(stderr.length, 1, running.stderr())
    assert.match(stderr[0]!, /^stratum watch: revision 1 is no longer held; the oldest revision a watch can start from is \d+ .* \(OUT_OF_RANGE\)$/)
  })

  it('ends with exit 1 and the revision to resume from when the server stops', { timeout: 60_000 }, async () => {
    const problemId = await server.client.createProblem('<p>stopping</p>')
    const running = watchCli(['--problem', String(problemId)])
    // The watch is open once a change it was started before reaches it.
    let seen: unknown[] = []
    const deadline = Date.now() + 20_000
    while (seen.length === 0 && Date.now() < deadline) {
      await server.client.addTestCase(problemId, int64(1))
      await new Promise((resolve) => setTimeout(resolve, 100))
      seen = lines(running.stdout())
    }
    const last = seen[seen.length - 1] as { revision: number }
    await server.restart()
    assert.equal(await running.exited, 1)
    assert.match(
      running.stderr(),
      /^stratum watch: the server is shutting down: every change up to revision \d+ was streamed; watch again from revision \d+ \(OUT_OF_RANGE only if .*\) \(UNAVAILABLE\); resume with --from-revision \d+\n$/,
    )
    const resumeFrom = Number(/--from-revision (\d+)/.exec(running.stderr())![1])
    assert.ok(resumeFrom > last.revision, `${resumeFrom} after ${last.revision}`)
  })
})
