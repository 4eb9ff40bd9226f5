/**
 * The data commands (the built `stratum`, in child processes) against a real server: every data
 * RPC reachable, for people and with --json, values exact; a failed call is one line naming its
 * status code with exit 1; a bad value or bad usage is refused before any call with exit 2.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stratum } from '../support/stratum-cli.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer
let dir: string

before(async () => {
  server = await startTestServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-data-cli-'))
})

after(async () => {
  await server.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs a data command against the server; asserts its exit code, and that a failure says one line. */
async function run(args: readonly string[], expectedCode = 0): Promise<string> {
  const { code, stdout, stderr } = await stratum([...args, '--address', server.server.address])
  assert.equal(code, expectedCode, `stratum ${args.join(' ')}: exit ${code}\n${stderr}`)
  if (expectedCode === 0) assert.equal(stderr, '')
  else return stderr
  return stdout
}

function json(text: string): unknown[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown)
}

describe('stratum data commands', () => {
  it('create, read, update and delete a problem with its test cases and outputs', { timeout: 120_000 }, async () => {
    const problemId = Number(await run(['create-problem', '--html', '<p>A+B</p>', '--column', 'title=A plus B', '--column', 'level=easy']))
    assert.ok(Number.isSafeInteger(problemId) && problemId > 0)
    assert.match(await run(['problem', String(problemId)]), new RegExp(`^problem ${problemId}, version \\d+\\ntitle: A plus B\\nlevel: easy\\n\\n<p>A\\+B</p>\\n$`))

    const statement = path.join(dir, 'statement.html')
    fs.writeFileSync(statement, '<p>Sum 😀</p>\n')
    assert.match(await run(['update-problem', String(problemId), '--html-file', statement]), /^version \d+\n$/)
    const [columnWrite] = json(await run(['set-column', String(problemId), 'level', 'medium', '--json'])) as Array<{ version: number }>
    const [shown] = json(await run(['problem', String(problemId), '--json'])) as Array<Record<string, unknown>>
    assert.deepStrictEqual(shown, { problemId, version: columnWrite!.version, columns: { title: 'A plus B', level: 'medium' }, html: '<p>Sum 😀</p>\n' })

    const input = path.join(dir, '01.in')
    fs.writeFileSync(input, '1 2\n')
    const big = Number(await run(['add-test-case', String(problemId), 'int64:9223372036854775807']))
    const text = Number(await run(['add-test-case', String(problemId), `string:@${input}`]))
    assert.equal(await run(['test-case', String(problemId), String(big)]), 'int64:9223372036854775807\n')
    assert.equal(await run(['test-case', String(problemId), String(text)]), 'string:1 2\n\n')
    assert.match(await run(['set-output', String(problemId), String(big), 'double:-0']), /^version \d+\n$/)
    assert.equal(await run(['output', String(problemId), String(big)]), 'double:-0\n')
    assert.deepStrictEqual(
      (json(await run(['test-cases', String(problemId), '--outputs', '--json'])) as Array<Record<string, unknown>>).map(({ version: _v, outputVersion: _o, ...rest }) => rest),
      [
        { tcId: big, value: { type: 'int64', value: '9223372036854775807' }, output: { type: 'double', value: '-0' } },
        { tcId: text, value: { type: 'string', value: '1 2\n' } },
      ],
    )
    assert.match(await run(['test-cases', String(problemId), '--outputs']), new RegExp(`^${big}  v\\d+  int64:9223372036854775807  ->  double:-0\\n${text}  v\\d+  string:1 2\\n\\n$`))

    // A stale version is refused, on one line, and changes nothing.
    const [current] = json(await run(['test-case', String(problemId), String(text), '--json'])) as Array<{ version: number }>
    const stale = await run(['update-test-case', String(problemId), String(text), 'map:[["b","1"],["a","2"]]', '--expected-version', String(current!.version + 1)], 1)
    assert.match(stale, /^stratum update-test-case: .*version.* \(FAILED_PRECONDITION\)\n$/)
    assert.match(await run(['update-test-case', String(problemId), String(text), 'map:[["b","1"],["a","2"]]', '--expected-version', String(current!.version)]), /^version \d+\n$/)
    assert.equal(await run(['test-case', String(problemId), String(text)]), 'map:[["b","1"],["a","2"]]\n')
    assert.match(await run(['update-output', String(problemId), String(big), 'int64-list:[1,2]']), /^version \d+\n$/)
    assert.match(await run(['delete-output', String(problemId), String(big)]), /^revision \d+\n$/)
    assert.match(await run(['output', String(problemId), String(big)], 1), /^stratum output: .* \(NOT_FOUND\)\n$/)
    assert.match(await run(['delete-test-case', String(problemId), String(text)]), /^revision \d+\n$/)
    assert.deepStrictEqual((json(await run(['test-cases', String(problemId), '--json'])) as Array<{ tcId: number }>).map((testCase) => testCase.tcId), [big])

    assert.match(await run(['delete-problem', String(problemId)]), /^revision \d+\n$/)
    assert.match(await run(['problem', String(problemId)], 1), /^stratum problem: .* \(NOT_FOUND\)\n$/)
  })

  it('lists problems in id order with their columns, after an id and up to a limit', { timeout: 60_000 }, async () => {
    const ids: number[] = []
    for (let index = 0; index < 3; index++) ids.push(Number(await run(['create-problem', '--html', `p${index}`, '--column', `n=${index}`])))
    const listed = json(await run(['problems', '--after', String(ids[0]! - 1), '--limit', '2', '--json']))
    assert.deepStrictEqual(listed, [
      { problemId: ids[0], columns: { n: '0' } },
      { problemId: ids[1], columns: { n: '1' } },
    ])
    const table = await run(['problems', '--after', String(ids[1]), '--limit', '1'])
    assert.match(table, new RegExp(`^\\s*id  columns\\n\\s*${ids[2]}  n="2"\\n$`))
  })

  it('refuses a bad value or bad usage before any call, with exit 2', { timeout: 60_000 }, async () => {
    // Nothing listens there: a call would fail UNAVAILABLE with exit 1, not 2.
    for (const args of [
      ['add-test-case', '1', 'int64:1.5'],
      ['add-test-case', '1', '5'],
      ['set-output', '1', '2', 'map:{"k":1}'],
      ['add-test-case', '0', 'int64:1'],
      ['create-problem', '--column', 'novalue'],
    ]) {
      const { code, stderr } = await stratum([...args, '--address', '127.0.0.1:1'])
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`)
      assert.equal(stderr.trim().split('\n').length, 1, stderr)
    }
    const { code, stderr } = await stratum(['add-test-case', '1', 'float:5', '--address', '127.0.0.1:1'])
    assert.equal(code, 2)
    assert.match(stderr, /"float:5" is not a value: write TYPE:TEXT with TYPE one of int64, double, string, int64-list, string-list, map/)
    const both = await stratum(['create-problem', '--html', 'x', '--html-file', 'y', '--address', '127.0.0.1:1'])
    assert.equal(both.code, 2)
    assert.equal(both.stderr, 'stratum create-problem: give the text with exactly one of --html TEXT and --html-file FILE\n')
  })
})
