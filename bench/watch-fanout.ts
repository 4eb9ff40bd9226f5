/**
 * The watch fan-out benchmark: 64 writers updating test cases on a Stratum server (a child
 * process, default sync mode `always`), with no watcher, then with 100 watchers of every change,
 * in alternating rounds.
 *
 *   npm run bench:watch                 # 3 runs of 3 rounds each way, 4 s a round
 *   npm run bench:watch -- --quick      # 1 run of 1 round each way, 0.5 s, for a smoke test
 *
 * Reported per run: writes/s without and with watchers and their ratio (the aim: at least 0.8);
 * the server's CPU per write, and per event delivered (its extra CPU with watchers over the
 * events it sent); this process's CPU per write (the writers' client and the watchers); and that every watcher saw every change: after each round with watchers, each
 * must have received exactly the round's writes as changes, the last at the store's revision.
 *
 * The watchers run in this process, on 100 connections of their own, and count the changes of
 * each response from its top-level fields without decoding them (only the last response is
 * decoded, for its revision), so that their cost stays small
 * beside the server's; they still share the machine's two cores with it and with the writers,
 * and that share is in the figures. The benchmark only prints, asserting nothing about timings.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { int64, StratumClient } from '../src/client/index.ts'
import { lseMethods } from '../src/protocol/proto-definition.ts'
import { watchEventsFromWire } from '../src/protocol/watch-events.ts'
import type { WatchResponse } from '../src/protocol/wire-types.ts'
import { formatCount, formatRatio, formatTable } from './measure.ts'
import { serverCpuMicros, startServerChild, stopServerChild } from './server-child-process.ts'

const quick = process.argv.includes('--quick')
const config = {
  runs: quick ? 1 : 3,
  roundsPerRun: quick ? 1 : 3,
  roundSeconds: quick ? 0.5 : 4,
  writers: 64,
  watchers: 100,
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

interface RoundResult {
  writes: number
  seconds: number
  cpuMicros: number
  /** This process's CPU: the writers' client, and the watchers'. */
  clientCpuMicros: number
  /** Change events delivered to the watchers in the round (0 without watchers). */
  events: number
}

/** A watcher on a connection of its own, counting the messages of the Watch stream. */
class CountingWatcher {
  readonly client: grpc.Client
  private call: grpc.ClientReadableStream<Buffer> | undefined
  changes = 0
  private last: Buffer | undefined
  error: Error | undefined

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 })
  }

  start(fromRevision: number): void {
    const method = lseMethods().Watch
    const request = method.requestSerialize({ fromRevision: String(fromRevision), problemId: '0', withValues: false, progressIntervalMs: 3_600_000 })
    this.changes = 0
    this.call = this.client.makeServerStreamRequest<Buffer, Buffer>(method.path, (bytes) => bytes, (bytes) => bytes, request, new grpc.Metadata(), {})
    this.call.on('data', (bytes: Buffer) => {
      this.changes += countChanges(bytes)
      this.last = bytes
    })
    this.call.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) this.error = error
    })
  }

  lastRevision(): number {
    if (this.last === undefined) return 0
    return watchEventsFromWire(lseMethods().Watch.responseDeserialize(this.last) as WatchResponse).at(-1)!.revision
  }

  stop(): void {
    this.call?.cancel()
  }
}

/** The changes of a WatchResponse (its field 1, repeated), counted from its top-level fields. */
function countChanges(bytes: Buffer): number {
  let count = 0
  let offset = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[offset++]!
      value += (byte & 0x7f) * shift
      if (byte < 0x80) return value
    }
  }
  while (offset < bytes.length) {
    const tag = varint()
    // Both fields of WatchResponse are messages: a length, then the bytes. (Read before adding:
    // `offset += varint()` would add to the offset from before the length was read.)
    const length = varint()
    offset += length
    if (tag === 0x0a) count++
  }
  return count
}

async function writeFor(client: StratumClient, problemId: number, tcIds: number[], seconds: number): Promise<{ writes: number; seconds: number }> {
  let writes = 0
  const endAt = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    tcIds.map(async (tcId, writer) => {
      // Bounded by the round's end.
      for (let n = 0; performance.now() < endAt; n++) {
        await client.updateTestCase(problemId, tcId, int64(writer * 1_000_000 + n))
        writes++
      }
    }),
  )
  return { writes, seconds: (performance.now() - started) / 1000 }
}

async function untilSeen(watchers: CountingWatcher[], expected: number): Promise<void> {
  const deadline = performance.now() + 60_000
  // Bounded by the deadline.
  while (watchers.some((watcher) => watcher.changes < expected && watcher.error === undefined)) {
    if (performance.now() > deadline) throw new Error(`watchers saw ${Math.min(...watchers.map((w) => w.changes))} of ${expected} changes after 60 s`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function run(runIndex: number): Promise<{ without: RoundResult; with: RoundResult }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bench-watch-'))
  const server = await startServerChild('stratum', ['stratum', dataDir])
  const client = new StratumClient(server.address)
  const watchers = Array.from({ length: config.watchers }, () => new CountingWatcher(server.address))
  const empty = (): RoundResult => ({ writes: 0, seconds: 0, cpuMicros: 0, clientCpuMicros: 0, events: 0 })
  const totals = { without: empty(), with: empty() }
  try {
    const problemId = await client.createProblem('<p>watched</p>')
    const tcIds: number[] = []
    for (let writer = 0; writer < config.writers; writer++) tcIds.push(await client.addTestCase(problemId, int64(0)))
    for (let round = 0; round < config.roundsPerRun * 2; round++) {
      const watched = round % 2 === 1
      const fromRevision = (await client.getStats()).revision + 1
      if (watched) {
        for (const watcher of watchers) watcher.start(fromRevision)
        // Each watch is open once its call is on the server; a write before that would still
        // be delivered (it starts at fromRevision), so no wait is needed for correctness.
      }
      const cpuBefore = await serverCpuMicros(server)
      const clientCpuBefore = process.cpuUsage()
      const { writes, seconds } = await writeFor(client, problemId, tcIds, config.roundSeconds)
      let events = 0
      if (watched) {
        await untilSeen(watchers, writes)
        const revision = (await client.getStats()).revision
        for (const [index, watcher] of watchers.entries()) {
          if (watcher.error !== undefined) throw new Error(`watcher ${index} failed: ${watcher.error.message}`)
          if (watcher.changes !== writes) throw new Error(`watcher ${index} saw ${watcher.changes} changes of ${writes}`)
          if (watcher.lastRevision() !== revision) throw new Error(`watcher ${index} ended at revision ${watcher.lastRevision()}, not ${revision}`)
          events += watcher.changes
        }
      }
      const cpuMicros = (await serverCpuMicros(server)) - cpuBefore
      const clientCpu = process.cpuUsage(clientCpuBefore)
      if (watched) for (const watcher of watchers) watcher.stop()
      const total = watched ? totals.with : totals.without
      total.writes += writes
      total.seconds += seconds
      total.cpuMicros += cpuMicros
      total.clientCpuMicros += clientCpu.user + clientCpu.system
      total.events += events
      log(`run ${runIndex + 1} round ${round + 1}: ${watched ? `${config.watchers} watchers` : 'no watcher'}, ${formatCount(writes / seconds)} writes/s, every watcher saw every change: ${watched ? 'yes' : '-'}`)
    }
  } finally {
    for (const watcher of watchers) {
      watcher.stop()
      watcher.client.close()
    }
    client.close()
    await stopServerChild(server)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  return { without: totals.without, with: totals.with }
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function main(): Promise<void> {
  log(`watch fan-out: ${config.writers} writers, ${config.watchers} watchers, ${config.runs} runs of ${config.roundsPerRun} rounds each way, ${config.roundSeconds} s a round`)
  const rows: string[][] = []
  const ratios: number[] = []
  for (let index = 0; index < config.runs; index++) {
    const result = await run(index)
    const rate = (round: RoundResult): number => round.writes / round.seconds
    const ratio = rate(result.with) / rate(result.without)
    ratios.push(ratio)
    const cpuPerWrite = (round: RoundResult): number => round.cpuMicros / round.writes
    // The server's CPU with watchers beyond what the same writes cost without, over the events it sent.
    const cpuPerEvent = (result.with.cpuMicros - cpuPerWrite(result.without) * result.with.writes) / result.with.events
    rows.push([
      String(index + 1),
      formatCount(rate(result.without)),
      formatCount(rate(result.with)),
      formatRatio(ratio),
      `${cpuPerWrite(result.without).toFixed(0)} µs`,
      `${cpuPerWrite(result.with).toFixed(0)} µs`,
      `${cpuPerEvent.toFixed(1)} µs`,
      `${(result.without.clientCpuMicros / result.without.writes).toFixed(0)} µs`,
      `${(result.with.clientCpuMicros / result.with.writes).toFixed(0)} µs`,
      formatCount(result.with.events),
    ])
  }
  const header = ['run', 'writes/s, no watcher', `writes/s, ${config.watchers} watchers`, 'ratio', 'server CPU/write, none', `server CPU/write, ${config.watchers}`, 'server CPU/event', 'clients CPU/write, none', `clients CPU/write, ${config.watchers}`, 'events delivered']
  process.stdout.write(`${formatTable(header, rows, header.map(() => 'right' as const))}\n`)
  process.stdout.write(
    `write throughput with ${config.watchers} watchers / without: median ${formatRatio(median(ratios))} (min ${formatRatio(Math.min(...ratios))}, max ${formatRatio(Math.max(...ratios))}); aim >= 0.80\n`,
  )
}

await main()
