/**
 * `npm run fuzz -- [--requests 1000000] [--concurrency 32] [--seed N]`: the hostile-input test
 * (test/server/hostile-input.test.ts) in long mode, with the same request stream
 * (test/support/hostile-requests.ts): the first 10,000 requests of the default seed are the test's.
 *
 * The server runs as a child process (bench/server-child.ts: Stratum with its default sync mode)
 * on loopback, in a temporary folder removed at the end. The runner seeds it, snapshots the
 * stored data, sends the requests with a bounded number in flight, and meanwhile probes it with a
 * GetStats every 100 ms on a connection of its own. It prints a progress line every 10 s and a
 * summary: requests sent, statuses by code, requests/s, the server's peak RSS (the kernel's
 * high-water mark) and event-loop delay, probe latency. Then the same summary as one JSON line.
 *
 * Exits 1 when the server died, a status was INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, UNAVAILABLE or
 * one its request may not get, a probe failed, the server logged an error, or the stored data
 * changed; as the test, which asserts all of these.
 *
 * One difference from the test: the messages over the transport's limit go on connections of
 * their own (see `ownConnectionAddress` in test/support/hostile-sender.ts). A grpc-js client goes
 * on sending such a body after the server has refused it, and over a million requests those
 * bodies would saturate the shared connection until the 6 MiB requests behind them time out.
 */
import fs from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { status } from '@grpc/grpc-js'
import { Command } from 'commander'
import { formatBytes, watchEventLoopDelay } from '../../bench/measure.ts'
import type { ChildHealth } from '../../bench/server-child.ts'
import { serverHealth, startServerChild, stopServerChild } from '../../bench/server-child-process.ts'
import { integerIn } from '../../src/cli/option-parsers.ts'
import { StratumClient } from '../../src/client/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { defaultHostileSeed, hostileRequests, neverProper } from '../support/hostile-requests.ts'
import { rawClient, sendAll, StatusTally } from '../support/hostile-sender.ts'
import { seedHostileData, snapshotStore, type StoreSnapshot } from '../support/hostile-store.ts'
import { LatencyProbe } from './latency-probe.ts'
import { formatResult, resultJson, verdict, type FuzzResult } from './report.ts'

const callDeadlineMs = 30_000
const progressEveryMs = 10_000

const options = new Command('fuzz')
  .description('send hostile requests to a Stratum server child; exit 1 on an improper status, a dead server or changed data')
  .option('--requests <n>', 'hostile requests to send', integerIn(1, 1_000_000_000), 1_000_000)
  .option('--concurrency <n>', 'requests in flight at once', integerIn(1, 1024), 32)
  .option('--seed <n>', 'seed of the request stream (the hostile-input test uses the default)', integerIn(0, 2 ** 32 - 1), defaultHostileSeed)
  .parse()
  .opts<{ requests: number; concurrency: number; seed: number }>()

const count = (value: number): string => Math.round(value).toLocaleString('en-US')

async function fuzz(dir: string): Promise<FuzzResult> {
  const startedMs = performance.now()
  const child = await startServerChild('stratum', ['stratum', dir])
  let stopping = false
  let serverDied: string | undefined
  child.process.once('exit', (code, signal) => {
    if (!stopping) serverDied = `exited with ${signal ?? code} during the run`
  })
  const client = new StratumClient(child.address)
  const runnerLoopDelay = watchEventLoopDelay()
  const tally = new StatusTally()
  let sent = 0
  let sendSeconds = 0
  let probe: LatencyProbe | undefined
  let server: ChildHealth | undefined
  let dataUnchanged: boolean | undefined
  try {
    const seeded = await seedHostileData(client)
    const before: StoreSnapshot = await snapshotStore(client)
    await serverHealth(child) // starts the child's event-loop monitor, from here on
    probe = new LatencyProbe(child.address)
    const raw = rawClient(child.address)
    const sendStartedMs = performance.now()
    let answered = 0
    let probeSeen = 0
    const progress = setInterval(() => {
      const seconds = (performance.now() - sendStartedMs) / 1000
      const probeMaxMs = probe!.maxSince(probeSeen)
      probeSeen = probe!.latenciesMs.length
      void serverHealth(child).then(
        (health) =>
          console.log(
            `[${seconds.toFixed(0).padStart(4)} s] ${count(answered)}/${count(options.requests)} answered (${count(answered / seconds)} req/s); ` +
              `server RSS ${formatBytes(health.rssBytes)}, peak ${formatBytes(health.maxRssBytes)}, event-loop delay max ${health.eventLoopDelay.maxMs.toFixed(1)} ms; ` +
              `probe max ${probeMaxMs.toFixed(1)} ms in the last ${progressEveryMs / 1000} s; unexpected statuses ${tally.unexpectedCount}`,
          ),
        (error: unknown) => console.log(`[${seconds.toFixed(0).padStart(4)} s] ${count(answered)} answered; the server did not answer: ${String(error)}`),
      )
    }, progressEveryMs)
    try {
      const sendOptions = {
        count: options.requests,
        concurrency: options.concurrency,
        deadlineMs: callDeadlineMs,
        shouldStop: () => serverDied !== undefined,
        ownConnectionAddress: child.address,
      }
      sent = await sendAll(raw, hostileRequests(seeded, options.seed), sendOptions, (outcome) => {
        answered++
        tally.record(outcome)
      })
    } finally {
      sendSeconds = (performance.now() - sendStartedMs) / 1000
      clearInterval(progress)
      raw.close()
      await probe.stop()
    }
    if (serverDied === undefined) {
      dataUnchanged = isDeepStrictEqual(await snapshotStore(client), before)
      server = await serverHealth(child)
    }
  } finally {
    client.close()
    stopping = true
    const ended = await stopServerChild(child)
    if (serverDied === undefined && ended.code !== 0) serverDied = `stopped with ${ended.signal ?? ended.code}`
  }
  return {
    requested: options.requests,
    sent,
    concurrency: options.concurrency,
    seed: options.seed,
    durationSeconds: (performance.now() - startedMs) / 1000,
    sendSeconds,
    byCode: Object.fromEntries([...tally.byCode].sort(([, a], [, b]) => b - a)),
    byKind: Object.fromEntries([...tally.byKind].sort()),
    unexpectedCount: tally.unexpectedCount,
    unexpectedExamples: tally.unexpected,
    neverProperCount: [...neverProper].reduce((sum, code) => sum + (tally.byCode.get(status[code]) ?? 0), 0),
    serverDied,
    server,
    probeLatenciesMs: probe?.latenciesMs ?? [],
    probeFailures: probe?.failures ?? [],
    runnerLoopDelayMaxMs: runnerLoopDelay().maxMs,
    dataUnchanged,
  }
}

const dir = makeTempDir('fuzz')
let exitCode = 1
try {
  console.log(`sending ${count(options.requests)} hostile requests, ${options.concurrency} in flight, seed ${options.seed}; data in ${dir}`)
  const result = await fuzz(dir)
  const reasons = verdict(result)
  console.log(formatResult(result, reasons))
  console.log(resultJson(result, reasons))
  exitCode = reasons.length === 0 ? 0 : 1
} catch (error) {
  console.error('FAIL: the run broke off:', error)
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
// Exits even if a handle were left open: the run must end by itself.
process.exit(exitCode)
