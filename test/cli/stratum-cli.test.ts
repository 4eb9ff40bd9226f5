/**
 * The `stratum` command as a user runs it: `node bin/stratum.mjs …` in child processes. Help,
 * the version, readable logs, bad usage (one line, exit 2), and `serve` on an ephemeral loopback
 * port with the admin commands against it, then a graceful stop on SIGTERM. Failed starts are in
 * start-failures.test.ts, `npm start` in npm-start.test.ts.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { exitCodes } from '../../src/cli/exit-codes.ts'
import { StratumClient } from '../../src/client/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { cleanEnv, logLine, repoDir, startCollecting, stratum, stratumBin, waitFor } from '../support/stratum-cli.ts'

describe('stratum command', () => {
  it('documents every serve option with its variable and default in --help', async () => {
    const { code, stdout } = await stratum(['serve', '--help'])
    assert.equal(code, 0)
    const help = stdout.replace(/\s+/g, ' ')
    for (const [flag, variable, defaultValue] of [
      ['--host', 'LSE_HOST', '"127.0.0.1"'],
      ['--port', 'LSE_PORT', '50051'],
      ['--data-dir', 'LSE_DATA_DIR', '"./data"'],
      ['--sync', 'LSE_SYNC', '"always"'],
      ['--sync-interval-ms', 'LSE_SYNC_INTERVAL_MS', '100'],
      ['--segment-size', 'LSE_SEGMENT_SIZE', '67108864 (64MiB)'],
      ['--cache-size', 'LSE_CACHE_SIZE', '67108864 (64MiB)'],
      ['--watch-history-max-changes', 'LSE_WATCH_HISTORY_MAX_CHANGES', '100000'],
      ['--watch-log-retain-changes', 'LSE_WATCH_LOG_RETAIN_CHANGES', '100000'],
      ['--compaction-interval-ms', 'LSE_COMPACTION_INTERVAL_MS', '30000'],
      ['--compaction-dead-ratio', 'LSE_COMPACTION_DEAD_RATIO', '0.5'],
      ['--compaction-dead-bytes', 'LSE_COMPACTION_DEAD_BYTES', '1073741824 (1GiB)'],
      ['--shard', 'LSE_SHARD', '0'],
      ['--log-level', 'LSE_LOG_LEVEL', '"info"'],
      ['--log-format', 'LSE_LOG_FORMAT', '"json"'],
      ['--shutdown-grace-ms', 'LSE_SHUTDOWN_GRACE_MS', '10000'],
      ['--metrics-host', 'LSE_METRICS_HOST', '"127.0.0.1"'],
    ]) {
      assert.ok(help.includes(`${flag} <`), flag)
      assert.ok(help.includes(`default: ${defaultValue}`), `${flag} default ${defaultValue}`)
      assert.ok(help.includes(`env: ${variable}`), variable)
    }
  })

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(repoDir, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-V']) assert.deepEqual(await stratum([flag]), { code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('writes readable log lines with --log-format pretty', async () => {
    // A start that fails at once, logged at debug level: a log line without a server to stop.
    const { code, stdout } = await stratum(['serve', '--port', '0', '--data-dir', stratumBin, '--log-level', 'debug', '--log-format', 'pretty'])
    assert.equal(code, exitCodes.dataDirIsFile)
    assert.match(stdout, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] DEBUG: could not start\n/)
  })

  it('reports bad usage on one line with exit code 2', async () => {
    const cases = [
      [['serve', '--bogus'], {}, /unknown option '--bogus'/],
      [['serve', '--prot', '1'], {}, /unknown option '--prot'.*--port/],
      [['serve', '--port', 'abc'], {}, /--port.*abc.*invalid/],
      [['serve', '--sync', 'sometimes'], {}, /--sync.*sometimes/],
      [['serve', '--segment-size', '1KiB'], {}, /--segment-size.*1KiB/],
      [['serve', '--compaction-dead-ratio', '2'], {}, /--compaction-dead-ratio.*'2' is invalid.*expected a number from 0\.05 to 1/],
      [['serve', '--compaction-dead-ratio', '0.01'], {}, /--compaction-dead-ratio.*'0\.01' is invalid/],
      [['serve'], { LSE_COMPACTION_DEAD_RATIO: 'half' }, /'half' from env 'LSE_COMPACTION_DEAD_RATIO' is invalid.*expected a number from 0\.05 to 1/],
      [['serve', '--compaction-interval-ms', '86400001'], {}, /--compaction-interval-ms.*invalid.*from 0 to 86400000/],
      [['serve', '--compaction-dead-bytes', '0'], {}, /--compaction-dead-bytes.*'0' is invalid.*at least 1/],
      [['serve'], { LSE_PORT: '70000' }, /LSE_PORT.*invalid/],
      [['serve', '--metrics-port', '-1'], {}, /--metrics-port.*'-1' is invalid.*from 0 to 65535/],
      [['stats', '--address', 'nope'], {}, /--address/],
      [['frobnicate'], {}, /unknown command 'frobnicate'/],
      [['serve', '--log-format', 'xml'], {}, /--log-format.*'xml' is invalid.*json, pretty/],
    ] as const
    const results = await Promise.all(cases.map(([args, env]) => stratum([...args], env)))
    for (const [index, [args, , pattern]] of cases.entries()) {
      const { code, stdout, stderr } = results[index]!
      assert.equal(code, 2, `${args.join(' ')}: exit code`)
      assert.equal(stdout, '')
      assert.equal(stderr.split('\n').filter(Boolean).length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(stderr)}`)
      assert.match(stderr, pattern)
    }
  })

  it('serves on an ephemeral port, answers the admin commands, and stops gracefully on SIGTERM', { timeout: 60_000 }, async () => {
    const dataDir = makeTempDir('cli-serve')
    // Settings from the environment, except the port, given as a flag over LSE_PORT. Small
    // segments, so that there is something to compact; no background compaction, so that
    // `stratum compact` runs the only one.
    const server = startCollecting(process.execPath, [stratumBin, 'serve', '--port', '0', '--compaction-dead-ratio', '0.25'], {
      env: {
        ...cleanEnv(),
        LSE_PORT: '1',
        LSE_DATA_DIR: dataDir,
        LSE_SYNC: 'interval',
        LSE_SYNC_INTERVAL_MS: '50',
        LSE_SEGMENT_SIZE: '4KiB',
        LSE_COMPACTION_INTERVAL_MS: '0',
        LSE_COMPACTION_DEAD_BYTES: '1MiB',
        LSE_METRICS_PORT: '0',
      },
    })
    try {
      type Listening = { port: number; host: string; address: string; dataDir: string; syncMode: string; metrics: string }
      const line = await waitFor(() => logLine<Listening>(server.stdout(), 'listening'), 20_000, server.stderr)
      assert.ok(line.port > 0 && line.port !== 1, 'the log line names the port picked')
      assert.equal(line.host, '127.0.0.1')
      assert.equal(line.address, `127.0.0.1:${line.port}`)
      assert.equal(line.dataDir, dataDir)
      assert.equal(line.syncMode, 'interval')
      assert.match(line.metrics, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'the log line names the metrics port picked')

      const stats = await stratum(['stats', '--address', `127.0.0.1:${line.port}`])
      assert.equal(stats.code, 0, stats.stderr)
      const counters = JSON.parse(stats.stdout) as {
        problemsInIndex: number
        syncMode: string
        storeStatus: string
        lastRecovery: { segmentsScanned: number; segmentsFromHints: number; hintsWritten: number; unusableHintCount: number }
        compaction: unknown
      }
      assert.equal(counters.problemsInIndex, 0)
      assert.equal(counters.syncMode, 'interval')
      assert.equal(counters.storeStatus, 'open')
      for (const field of ['segmentsScanned', 'segmentsFromHints', 'hintsWritten', 'unusableHintCount'] as const) {
        assert.equal(typeof counters.lastRecovery[field], 'number', field)
      }
      assert.deepEqual(counters.compaction, { running: false, runs: 0, bytesReclaimed: 0, failures: 0, lastError: '', last: null })

      assert.deepEqual(await stratum(['health', '--address', `127.0.0.1:${line.port}`]), { code: 0, stdout: 'SERVING\n', stderr: '' })
      const flush = await stratum(['flush'], { LSE_ADDRESS: `localhost:${line.port}` })
      assert.deepEqual([flush.code, flush.stdout], [0, 'flushed\n'])

      // Garbage to compact: problems over several segments, each rewritten once.
      const client = new StratumClient(`127.0.0.1:${line.port}`)
      const problems = new Map<number, string>()
      try {
        for (let index = 0; index < 30; index++) problems.set(await client.createProblem(`first ${index} ${'x'.repeat(400)}`), '')
        for (const problemId of problems.keys()) {
          problems.set(problemId, `second ${problemId}`)
          await client.updateProblemHtml(problemId, `second ${problemId}`)
        }
      } finally {
        client.close()
      }
      const compact = await stratum(['compact', '--address', `127.0.0.1:${line.port}`])
      assert.equal(compact.code, 0, compact.stderr)
      assert.equal(compact.stderr, '')
      const summary = /^compacted (\d+) segments? into (\d+): (\d+) -> (\d+) bytes, (\d+) reclaimed, in \d+\.\d ms\n$/.exec(compact.stdout)
      assert.ok(summary !== null, `one summary line, got ${JSON.stringify(compact.stdout)}`)
      const [merged, , before, after, reclaimed] = summary.slice(1).map(Number) as [number, number, number, number, number]
      assert.ok(merged >= 1, compact.stdout)
      assert.ok(after < before && reclaimed === before - after && reclaimed > 0, compact.stdout)

      const statsAfter = await stratum(['stats', '--address', `127.0.0.1:${line.port}`])
      assert.equal(statsAfter.code, 0, statsAfter.stderr)
      const compaction = (JSON.parse(statsAfter.stdout) as { compaction: { runs: number; bytesReclaimed: number; lastError: string; last: { bytesReclaimed: number } | null } })
        .compaction
      assert.equal(compaction.runs, 1)
      assert.equal(compaction.bytesReclaimed, reclaimed)
      assert.equal(compaction.lastError, '')
      assert.equal(compaction.last?.bytesReclaimed, reclaimed)
      const metrics = await (await fetch(line.metrics)).text()
      assert.match(metrics, /^stratum_compaction_runs_total 1$/m)
      assert.match(metrics, new RegExp(`^stratum_compaction_reclaimed_bytes_total ${reclaimed}$`, 'm'))
      assert.match(metrics, /^stratum_rpc_requests_total\{method="lse\.v1\.LseService\/CompactNow",code="OK"\} 1$/m)
      const check = new StratumClient(`127.0.0.1:${line.port}`)
      try {
        for (const [problemId, html] of problems) assert.equal(await check.getProblemHtml(problemId), html)
      } finally {
        check.close()
      }
    } finally {
      server.child.kill('SIGTERM')
    }
    assert.equal(await server.exited, 0, server.stderr())
    const messages = server
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { msg: string }).msg)
    assert.deepEqual(messages, ['listening', 'shutting down', 'stopped'])
    assert.ok(fs.readdirSync(dataDir).length > 0, 'the store is in the data folder')
    fs.rmSync(dataDir, { recursive: true, force: true })

    const unreachable = await stratum(['stats', '--address', `127.0.0.1:1`, '--deadline-ms', '2000'])
    assert.equal(unreachable.code, 1)
    assert.equal(unreachable.stderr.split('\n').filter(Boolean).length, 1)
    assert.match(unreachable.stderr, /^stratum stats: .*UNAVAILABLE/)
    const noHealth = await stratum(['health', '--address', `127.0.0.1:1`, '--deadline-ms', '2000'])
    assert.deepEqual([noHealth.code, noHealth.stdout], [1, ''])
  })
})
