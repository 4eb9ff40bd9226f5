/**
 * README.md says only what is true: its quick start, API table, configuration table, message
 * sizes, TypeScript example and buf curl commands are checked against the code and run against a
 * real server (loopback, ephemeral port). The status-code table is checked in
 * src/server/status-codes.test.ts.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Option } from 'commander'
import { exitCodeMeanings, exitCodes } from '../src/cli/exit-codes.ts'
import { serveCommand } from '../src/cli/serve-command.ts'
import { lseMethodNames } from '../src/protocol/proto-definition.ts'
import { requestMaxBytesByMethod, valueRequestMaxBytes } from '../src/server/message-limits.ts'
import { defaultServerLimits, requestMaxBytes, responseMaxBytes } from '../src/server/index.ts'
import { requestItemsMax } from '../src/server/canonical-request.ts'
import { requestItemCostBytes } from '../src/server/request-memory.ts'
import { startTestServer } from './support/test-server.ts'

const run = promisify(execFile)
const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const readme = fs.readFileSync(path.join(repoDir, 'README.md'), 'utf8')
const KiB = 1024
const MiB = 1024 * KiB

/** The text of the section that starts with `heading`, up to the next heading of any level. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`)
  assert.ok(start >= 0, `README.md has a section ${heading}`)
  const rest = readme.slice(start + heading.length + 2)
  const end = rest.search(/\n#{2,3} /)
  return end < 0 ? rest : rest.slice(0, end)
}

function codeBlocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]!)
}

describe('README.md', () => {
  it('gives the two quick-start commands, and npm start execs stratum serve', () => {
    const quickStart = section('## Quick start')
    assert.ok(quickStart.includes('npm ci && npm start'))
    assert.ok(quickStart.includes('npm ci && npm test'))
    assert.ok(quickStart.includes('127.0.0.1:50051') && quickStart.includes('./data'))
    const scripts = JSON.parse(fs.readFileSync(path.join(repoDir, 'package.json'), 'utf8')).scripts as Record<string, string>
    // exec: the shell npm runs the script in becomes the server, so that npm's signals reach it.
    assert.equal(scripts.start, 'exec node bin/stratum.mjs serve')
    assert.equal(scripts['lint:proto'], 'buf lint && buf breaking proto --against test/proto-baseline')
  })

  it('lists every RPC of the proto, in its order', () => {
    const rows = [...section('### API').matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((match) => match[1])
    assert.deepEqual(rows, [...lseMethodNames])
  })

  it('documents every option of stratum serve with its variable and default', () => {
    const options = new Map<string, Option>(serveCommand(() => {}).options.map((option) => [option.long!, option]))
    const rows = [...section('### Configuration').matchAll(/^\| `(--[a-z-]+)` \| `([A-Z_]+)` \| (?:`([^`]+)`|none) /gm)]
    assert.deepEqual(
      rows.map((row) => row[1]).sort(),
      [...options.keys()].filter((flag) => flag !== '--help').sort(),
    )
    for (const [, flag, variable, defaultValue] of rows) {
      const option = options.get(flag!)!
      assert.equal(option.envVar, variable, flag)
      assert.equal(option.defaultValue === undefined ? undefined : String(option.defaultValue), defaultValue, flag)
    }
  })

  it('lists every exit code of the command with its meaning', () => {
    const rows = [...section('### Exit codes').matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((match) => [Number(match[1]), match[2]])
    const names = Object.keys(exitCodes) as (keyof typeof exitCodes)[]
    assert.deepEqual(
      rows,
      names.map((name) => [exitCodes[name], exitCodeMeanings[name]]),
    )
  })

  it('states the message size limits the server enforces', () => {
    assert.equal(requestMaxBytesByMethod.CreateProblem, 16 * MiB + 320 * KiB)
    assert.equal(requestMaxBytes, 16 * MiB + 320 * KiB)
    assert.equal(responseMaxBytes, 16 * MiB + 320 * KiB)
    assert.equal(requestMaxBytesByMethod.UpdateProblemHtml, 16 * MiB + 64 * KiB)
    assert.equal(requestMaxBytesByMethod.UpdateProblemColumn, 320 * KiB)
    assert.equal(valueRequestMaxBytes, 5 * MiB + 64 * KiB)
    for (const method of ['AddTestCase', 'UpdateTestCase', 'SetExpectedOutput', 'UpdateExpectedOutput'] as const) {
      assert.equal(requestMaxBytesByMethod[method], valueRequestMaxBytes)
    }
    const text = section('### Configuration').replace(/\s+/g, ' ')
    for (const phrase of ['16 MiB + 320 KiB', '16 MiB + 64 KiB', '`UpdateProblemColumn` 320 KiB', '5 MiB + 64 KiB', 'other requests 4 KiB']) {
      assert.ok(text.includes(phrase), phrase)
    }
  })

  it('states the server limits and their defaults', () => {
    const rows = new Map(
      [...section('### Limits').matchAll(/^\| `(\w+)`[^|]*\| ([^|]+) \|/gm)].map((match) => [match[1]!, match[2]!.trim()]),
    )
    const expected: Record<string, [number, string]> = {
      requestItemsMax: [requestItemsMax, '1,048,576'],
      requestsInFlightMaxBytes: [defaultServerLimits.requestsInFlightMaxBytes / MiB, '256 MiB'],
      handshakeTimeoutMs: [defaultServerLimits.handshakeTimeoutMs / 1000, '10 s'],
      connectionsMax: [defaultServerLimits.connectionsMax, '4,096'],
      connectionIdleMs: [defaultServerLimits.connectionIdleMs / 60_000, '5 min'],
      streamsPerConnectionMax: [defaultServerLimits.streamsPerConnectionMax, '100'],
      keepaliveTimeMs: [defaultServerLimits.keepaliveTimeMs / 1000, '60 s / 20 s'],
    }
    for (const [name, [value, documented]] of Object.entries(expected)) {
      assert.equal(rows.get(name), documented, name)
      assert.ok(documented.replace(/,/g, '').startsWith(String(value)), `${name}: the code says ${value}`)
    }
    assert.equal(defaultServerLimits.keepaliveTimeoutMs, 20_000)
    assert.ok(section('### Limits').includes(`104 bytes an item`) && requestItemCostBytes === 104)
  })

  it('has a TypeScript client example that runs as written', { timeout: 60_000 }, async () => {
    const [example] = codeBlocks(section('### TypeScript client'), 'ts')
    assert.ok(example !== undefined && example.includes("new StratumClient('localhost:50051')"))
    const test = await startTestServer()
    try {
      const code = example.replace('localhost:50051', `localhost:${test.server.port}`)
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoDir, timeout: 30_000 })
      assert.match(stdout, /^2 \{ type: 'int64List', value: \[ 1n, 2n \] \} \{ type: 'int64', value: 3n \}$/m)
      assert.match(stdout, /^problem 1$/m)
      assert.match(stdout, /^problem 12345 not found$/m)
    } finally {
      await test.stop()
    }
  })

  it('has buf curl commands that work through server reflection', { timeout: 60_000 }, async () => {
    const lines = codeBlocks(section('### Other languages'), 'sh')
      .join('\n')
      .split('\n')
      .filter((line) => line.startsWith('npx buf curl '))
    assert.equal(lines.length, 5)
    const test = await startTestServer()
    const buf = path.join(repoDir, 'node_modules', '.bin', 'buf')
    try {
      const outputs: string[] = []
      for (const line of lines) {
        const command = line.replace('npx buf ', `${buf} `).replaceAll('localhost:50051', `localhost:${test.server.port}`)
        outputs.push((await run('sh', ['-c', command], { cwd: repoDir, timeout: 30_000 })).stdout)
      }
      assert.deepEqual(outputs[0]!.trim().split('\n').sort(), ['grpc.health.v1.Health', 'lse.v1.LseService'])
      assert.deepEqual(JSON.parse(outputs[1]!), { problemId: '1' })
      assert.deepEqual(JSON.parse(outputs[2]!), { tcId: '2' })
      // Version 3: the problem's two records took revisions 1 and 2, the test case 3.
      assert.deepEqual(JSON.parse(outputs[3]!), { testCases: [{ tcId: '2', value: { int64ListValue: { values: ['1', '2'] } }, version: '3' }] })
      assert.equal(JSON.parse(outputs[4]!).problemsInIndex, '1')
      assert.deepEqual(await test.client.getProblemMeta(1), { title: 'A+B' })
    } finally {
      await test.stop()
    }
  })
})
