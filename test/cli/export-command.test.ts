/**
 * `stratum export` (the built command, in a child process) against a real server: the header,
 * each problem then its test cases in chain order with outputs, the trailer with the counts;
 * every value exact; `--problem` for some; a problem asked for that does not exist fails on one
 * line; a problem of 100,000 test cases goes out in memory bounded by a page, not the problem.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { double, int64, int64List, string, stringList, stringMap, type Value } from '../../src/client/index.ts'
import { valueJson } from '../../src/cli/value-literal.ts'
import { cleanEnv, repoDir, stratum } from '../support/stratum-cli.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})

after(async () => {
  await server.stop()
})

function lines(text: string): Array<Record<string, unknown>> {
  assert.ok(text.endsWith('\n'), 'the dump ends with a newline')
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe('stratum export', () => {
  it('writes the header, every problem with its test cases and outputs in chain order, and the trailer; values exact', { timeout: 60_000 }, async () => {
    const values: Value[] = [
      int64(2n ** 63n - 1n),
      int64(-(2n ** 63n)),
      double(-0),
      double(Number.NaN),
      double(Number.NEGATIVE_INFINITY),
      string('nul \u0000 astral 😀\n'),
      int64List([1n, -(2n ** 63n)]),
      stringList(['', 'b']),
      stringMap(new Map([['2', 'two'], ['1', 'one']])),
    ]
    const first = await server.client.createProblem('<p>first 😀</p>', { title: 'A+B', level: 'easy' })
    const tcIds: number[] = []
    for (const value of values) tcIds.push(await server.client.addTestCase(first, value))
    await server.client.setExpectedOutput(first, tcIds[0]!, double(0.1))
    await server.client.setExpectedOutput(first, tcIds[8]!, string(''))
    const second = await server.client.createProblem('')
    const gone = await server.client.createProblem('gone')
    await server.client.deleteProblem(gone)

    const { code, stdout, stderr } = await stratum(['export', '--address', server.server.address, '--problem', String(first), '--problem', String(second)])
    assert.equal(code, 0, stderr)
    assert.match(stderr, /^exported 2 problems with 9 test cases in [\d.]+ s\n$/)
    assert.deepStrictEqual(lines(stdout), [
      { format: 'stratum-export', version: 1 },
      { problem: { id: first, html: '<p>first 😀</p>', columns: { title: 'A+B', level: 'easy' } } },
      ...values.map((value, index) => ({
        testCase: {
          id: tcIds[index],
          value: valueJson(value),
          ...(index === 0 ? { output: { type: 'double', value: 0.1 } } : index === 8 ? { output: { type: 'string', value: '' } } : {}),
        },
      })),
      { problem: { id: second, html: '', columns: {} } },
      { end: { problems: 2, testCases: 9 } },
    ] as unknown[])
    // Exactly as typed: the int64s as decimal strings, -0 and NaN as strings, the map's pairs in order.
    assert.match(stdout, /"value":\{"type":"int64","value":"-9223372036854775808"\}/)
    assert.match(stdout, /"value":\{"type":"double","value":"-0"\}/)
    assert.match(stdout, /"value":\{"type":"stringMap","value":\[\["2","two"\],\["1","one"\]\]\}/)

    // Without --problem: every live problem, the deleted one left out.
    const all = await stratum(['export', '--address', server.server.address])
    assert.equal(all.code, 0, all.stderr)
    const problemIds = lines(all.stdout).flatMap((line) => ('problem' in line ? [(line.problem as { id: number }).id] : []))
    assert.ok(problemIds.includes(first) && problemIds.includes(second) && !problemIds.includes(gone), String(problemIds))
  })

  it('exports a problem named twice once', { timeout: 60_000 }, async () => {
    const problemId = await server.client.createProblem('<p>twice</p>')
    const { code, stdout, stderr } = await stratum(['export', '--address', server.server.address, '--problem', String(problemId), '--problem', String(problemId)])
    assert.equal(code, 0, stderr)
    assert.deepStrictEqual(lines(stdout).slice(1), [{ problem: { id: problemId, html: '<p>twice</p>', columns: {} } }, { end: { problems: 1, testCases: 0 } }])
  })

  it('fails on one line, exit 1, for a problem asked for that does not exist', { timeout: 60_000 }, async () => {
    const { code, stderr } = await stratum(['export', '--address', server.server.address, '--problem', String(2 ** 40)])
    assert.equal(code, 1)
    assert.match(stderr, /^stratum export: problem \d+ not found \(NOT_FOUND\)\n$/)
  })

  it('exports a problem of 100,000 test cases in memory bounded by a page, not by the problem', { timeout: 300_000 }, async () => {
    const problemId = await server.client.createProblem('<p>many</p>')
    // 100,000 test cases of 1 KiB: about 100 MiB of values, 200 MiB as JavaScript strings.
    const payload = 'x'.repeat(1024)
    for (let start = 0; start < 100_000; start += 5_000) {
      const batch = server.client.batch()
      for (let index = start; index < start + 5_000; index++) batch.addTestCase(problemId, string(`${index} ${payload}`))
      await batch.commit()
    }
    // The command run in a process of its own, its heap limited, that reports its peak memory when it is done.
    const script = `import('./dist/cli/main.js').then((cli) => cli.runCli(process.argv.slice(1))).then((code) => { process.stderr.write('maxRSS ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = code })`
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        // A heap of 48 MiB: holding the problem's 100 MiB of values would run out of memory.
        ['--max-old-space-size=48', '--input-type=module', '-e', script, 'export', '--address', server.server.address, '--problem', String(problemId)],
        { cwd: repoDir, env: cleanEnv(), maxBuffer: 512 * 1024 * 1024, timeout: 240_000 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }),
      )
    })
    assert.equal(result.code, 0, result.stderr)
    const exported = lines(result.stdout)
    assert.equal(exported.length, 100_003)
    assert.deepStrictEqual(exported[100_002], { end: { problems: 1, testCases: 100_000 } })
    const maxRssKiB = Number(/maxRSS (\d+)/.exec(result.stderr)?.[1])
    // A page is 1,000 test cases, about 1 MiB; the problem is 100 MiB.
    assert.ok(maxRssKiB < 200 * 1024, `the export's peak RSS was ${(maxRssKiB / 1024).toFixed(0)} MiB`)
    console.log(`# export of 100,000 test cases of 1 KiB, in a 48 MiB heap: peak RSS ${(maxRssKiB / 1024).toFixed(0)} MiB`)
  })
})
