/**
 * `stratum import` (the built command) between two real servers: export, import, export again
 * gives the same dump but for the ids, which the id map relates, for problems of many batches
 * too; a malformed line is refused with its number and nothing imported, and so is a dump cut
 * short; an import killed at random points (in a problem of many batches too) and resumed
 * imports every problem and test case exactly once.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { double, int64, int64List, string, stringList, stringMap, type StratumClient } from '../../src/client/index.ts'
import { cleanEnv, startCollecting, stratum, stratumBin } from '../support/stratum-cli.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let source: TestServer
let dir: string

before(async () => {
  source = await startTestServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-import-'))
})

after(async () => {
  await source.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** `stratum export` of the server into `file` (straight to the file: a dump can be megabytes). */
async function exportFrom(server: TestServer, file: string): Promise<void> {
  const fd = fs.openSync(file, 'w')
  try {
    const child = spawn(process.execPath, [stratumBin, 'export', '--address', server.server.address], { env: cleanEnv(), stdio: ['ignore', fd, 'pipe'] })
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    assert.equal(code, 0, stderr)
  } finally {
    fs.closeSync(fd)
  }
}

function dumpLines(file: string): Array<Record<string, { id?: number }>> {
  return fs
    .readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, { id?: number }>)
}

/** The id map as old -> new, problems and test cases alike (they never share an id). */
function idMap(file: string): Map<number, number> {
  const map = new Map<number, number>()
  for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const record = JSON.parse(line) as { problem?: number; testCase?: number; id?: number }
    if (record.problem !== undefined) map.set(record.problem, record.id!)
    if (record.testCase !== undefined) map.set(record.testCase, record.id!)
  }
  return map
}

/** The dump with each id replaced through `map` (ids absent from it stay). */
function renumbered(lines: Array<Record<string, { id?: number }>>, map: Map<number, number>): unknown[] {
  return lines.map((line) => {
    const [kind, body] = Object.entries(line)[0]!
    return body.id === undefined ? line : { [kind]: { ...body, id: map.get(body.id) ?? -body.id } }
  })
}

async function fill(client: StratumClient, problems: number, testCases: number): Promise<void> {
  for (let index = 0; index < problems; index++) {
    const batch = client.batch()
    const problem = batch.createProblem(`<p>problem ${index}</p>`, { index: String(index) })
    for (let tc = 0; tc < testCases; tc++) {
      const ref = batch.addTestCase(problem, int64(index * 1000 + tc))
      if (tc % 2 === 0) batch.setExpectedOutput(problem, ref, string(`out ${tc}`))
    }
    await batch.commit()
  }
}

describe('stratum import', () => {
  it('recreates an export exactly, with new ids that the id map relates, problems of many batches too', { timeout: 180_000 }, async () => {
    const client = source.client
    const first = await client.createProblem('<p>values 😀</p>', { title: 'A+B', '2': 'two' })
    for (const value of [int64(2n ** 63n - 1n), double(-0), double(Number.NaN), string('nul \u0000\n'), int64List([-(2n ** 63n)]), stringList(['', 'x']), stringMap(new Map([['2', 'b'], ['1', 'a']]))]) {
      const tc = await client.addTestCase(first, value)
      await client.setExpectedOutput(first, tc, value)
    }
    await client.createProblem('')
    // 2,500 test cases: three batches.
    const many = await client.createProblem('<p>many</p>')
    for (let start = 0; start < 2_500; start += 500) {
      const batch = client.batch()
      for (let index = start; index < start + 500; index++) batch.addTestCase(many, string(`case ${index}`))
      await batch.commit()
    }
    const dump = path.join(dir, 'dump.ndjson')
    await exportFrom(source, dump)

    const target = await startTestServer()
    try {
      const map = path.join(dir, 'ids.ndjson')
      const { code, stderr } = await stratum(['import', dump, '--address', target.server.address, '--id-map', map])
      assert.equal(code, 0, stderr)
      const problems = dumpLines(dump).filter((line) => 'problem' in line).length
      assert.match(stderr, new RegExp(`^imported ${problems} problems with \\d+ test cases in [\\d.]+ s\\n$`))
      const again = path.join(dir, 'again.ndjson')
      await exportFrom(target, again)
      assert.deepStrictEqual(dumpLines(again), renumbered(dumpLines(dump), idMap(map)))
    } finally {
      await target.stop()
    }
  })

  it('refuses a malformed line with its number, and a dump cut short, importing nothing', { timeout: 60_000 }, async () => {
    const target = await startTestServer()
    try {
      const good = [
        '{"format":"stratum-export","version":1}',
        '{"problem":{"id":1,"html":"a","columns":{}}}',
        '{"testCase":{"id":2,"value":{"type":"int64","value":"1"}}}',
        '{"problem":{"id":3,"html":"b","columns":{}}}',
        '{"testCase":{"id":4,"value":{"type":"int64","value":"1.5"}}}',
        '{"end":{"problems":2,"testCases":2}}',
      ]
      const bad = path.join(dir, 'bad.ndjson')
      fs.writeFileSync(bad, `${good.join('\n')}\n`)
      const refused = await stratum(['import', bad, '--address', target.server.address])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^stratum import: .*bad\.ndjson line 5: an int64 is an integer, e\.g\. int64:-42; got "1\.5"; nothing was imported\n$/)
      // What the store would refuse midway is refused first, with its line: a lone surrogate, a
      // problem twice (resuming tells problems apart by their ids).
      const surrogate = path.join(dir, 'surrogate.ndjson')
      fs.writeFileSync(surrogate, `${[good[0], good[1], '{"problem":{"id":3,"html":"\\ud800","columns":{}}}', '{"end":{"problems":2,"testCases":0}}'].join('\n')}\n`)
      const lone = await stratum(['import', surrogate, '--address', target.server.address])
      assert.equal(lone.code, 1)
      assert.match(lone.stderr, /surrogate\.ndjson line 3: the problem's text is not well-formed Unicode .*; nothing was imported\n$/)
      const twice = path.join(dir, 'twice.ndjson')
      fs.writeFileSync(twice, `${[good[0], good[1], good[1], '{"end":{"problems":2,"testCases":0}}'].join('\n')}\n`)
      const again = await stratum(['import', twice, '--address', target.server.address])
      assert.equal(again.code, 1)
      assert.match(again.stderr, /twice\.ndjson line 3: problem 1 is in the dump twice; nothing was imported\n$/)
      const cut = path.join(dir, 'cut.ndjson')
      fs.writeFileSync(cut, `${good.slice(0, 3).join('\n')}\n`)
      const short = await stratum(['import', cut, '--address', target.server.address])
      assert.equal(short.code, 1)
      assert.match(short.stderr, /ends at line 3 without its end line: it was cut short; nothing was imported\n$/)
      assert.deepStrictEqual((await target.client.listProblemsPage()).problemIds, [])
    } finally {
      await target.stop()
    }
  })

  it('imports every problem exactly once when killed at random points and resumed', { timeout: 300_000 }, async () => {
    const from = await startTestServer()
    const dump = path.join(dir, 'kill.ndjson')
    try {
      // First a problem of 6 batches, where a kill may land between a batch's answer and its record.
      const big = await from.client.createProblem('<p>big</p>')
      for (let start = 0; start < 6_000; start += 1_000) {
        const batch = from.client.batch()
        for (let index = start; index < start + 1_000; index++) batch.addTestCase(big, int64(index))
        await batch.commit()
      }
      await fill(from.client, 150, 30)
      await exportFrom(from, dump)
    } finally {
      await from.stop()
    }
    const expected = dumpLines(dump)
    const interrupted: string[] = []
    for (const killAfterMs of [150, 400, 700, 1_200]) {
      const target = await startTestServer()
      const map = path.join(dir, `kill-${killAfterMs}.ndjson`)
      try {
        const running = startCollecting(process.execPath, [stratumBin, 'import', dump, '--address', target.server.address, '--id-map', map], { env: cleanEnv() })
        await new Promise((resolve) => setTimeout(resolve, killAfterMs))
        running.child.kill('SIGKILL')
        await running.exited
        // What the killed run had done: problems whole, and whether a batch was in flight unanswered.
        const records = fs.existsSync(map) ? fs.readFileSync(map, 'utf8').split('\n').filter(Boolean) : []
        const done = records.filter((line) => line.includes('"done":true')).length
        const last = records.at(-1) ?? ''
        if (records.length > 0 && done < 151) interrupted.push(`${killAfterMs} ms: ${done} problems done${last.includes('"importing"') ? ', a first batch unanswered' : ''}`)
        const resumed = await stratum(['import', dump, '--address', target.server.address, '--id-map', map, '--resume'])
        assert.equal(resumed.code, 0, resumed.stderr)
        const again = path.join(dir, `again-${killAfterMs}.ndjson`)
        await exportFrom(target, again)
        assert.deepStrictEqual(dumpLines(again), renumbered(expected, idMap(map)), `killed after ${killAfterMs} ms`)
      } finally {
        await target.stop()
      }
    }
    console.log(`# imports killed midway: ${interrupted.join('; ')}`)
    assert.ok(interrupted.length > 0, 'no kill landed in the middle of the import')
  })
})
