/**
 * Read latency under writes: the embedded engine serving paced reads of 100 problems, alone and
 * while 64 writers update the same 100 problems' test cases (sync mode `always`), in alternating
 * rounds. The write path publishes a write only once its group commit is durable, so a read never
 * waits for a sync; what the writers can still cost a read is the event loop's time.
 *
 *   npm run bench:reads                 # 3 runs of 3 rounds each way, 3 s a round
 *   npm run bench:reads -- --quick      # 1 run of 1 round each way, 0.5 s, for a smoke test
 *
 * Reads arrive at a fixed rate (open loop, mixed-load.ts): each is issued when due, a random one
 * of getProblemHtml, getTestCase and getAllTestCases of a random problem, and its latency runs
 * from when it was due, so that a read held up behind writers' work counts the wait. Reported per
 * run: the p50 and p99 of reads without and with writers (all rounds of the run together), their
 * p99 ratio (the aim: at most 2), the writes a second, and how busy the event loop was (the
 * share of the time it ran code: what a read due then waits for). Every read must find what it reads;
 * the benchmark asserts nothing about timings.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { int64List, openStore, type Store } from '../src/engine/index.ts'
import { generateDocument } from './dataset.ts'
import { formatCount, formatMicros, formatRatio, formatTable, type Sample } from './measure.ts'
import { runMixedLoad, summarizeLatencies, type LatencySummary } from './mixed-load.ts'
import { Prng } from './prng.ts'

const quick = process.argv.includes('--quick')
const config = {
  runs: quick ? 1 : 3,
  roundsPerRun: quick ? 1 : 3,
  roundSeconds: quick ? 0.5 : 3,
  problems: 100,
  testCasesPerProblem: 10,
  writers: 64,
  readsPerSecond: 2000,
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

interface Fixture {
  problemIds: number[]
  testCases: Array<{ problemId: number; tcId: number }>
}

async function load(store: Store): Promise<Fixture> {
  const fixture: Fixture = { problemIds: [], testCases: [] }
  for (let index = 0; index < config.problems; index++) {
    const document = generateDocument(index, config.testCasesPerProblem)
    const batch = store.batch()
    const problem = batch.createProblem(document.html, document.meta)
    for (const [node, input] of document.inputs.entries()) {
      const testCase = batch.addTestCase(problem, input)
      batch.setExpectedOutput(problem, testCase, document.outputs[node]!)
    }
    const [problemId, ...tcIds] = await batch.commit()
    fixture.problemIds.push(problemId!)
    for (const tcId of tcIds) fixture.testCases.push({ problemId: problemId!, tcId })
  }
  return fixture
}

/** One of the three reads of a random problem; throws when it finds nothing. */
function reader(store: Store, fixture: Fixture, prng: Prng): () => Promise<unknown> {
  return async () => {
    const testCase = fixture.testCases[prng.nextInt(fixture.testCases.length)]!
    const choice = prng.nextInt(3)
    const found =
      choice === 0
        ? await store.getProblemHtml(testCase.problemId)
        : choice === 1
          ? await store.getTestCase(testCase.problemId, testCase.tcId)
          : await store.getAllTestCases(testCase.problemId)
    if (found === undefined) throw new Error(`a read of problem ${testCase.problemId} found nothing`)
    return found
  }
}

/** `writers` loops, each updating a random test case of the 100 problems until `stop` is set; resolves to the writes done. */
function startWriters(store: Store, fixture: Fixture, prng: Prng, stop: { stopped: boolean }): Promise<number> {
  let writes = 0
  const loops = Array.from({ length: config.writers }, async () => {
    // Bounded by `stop`, which the round sets.
    while (!stop.stopped) {
      const testCase = fixture.testCases[prng.nextInt(fixture.testCases.length)]!
      await store.updateTestCase(testCase.problemId, testCase.tcId, int64List([BigInt(writes), BigInt(prng.nextInt(1 << 30))]))
      writes++
    }
  })
  return Promise.all(loops).then(() => writes)
}

interface RoundResult {
  reads: Sample
  writes: number
  seconds: number
  /** The share of the round the event loop was busy (performance.eventLoopUtilization). */
  busyShare: number
}

async function round(store: Store, fixture: Fixture, prng: Prng, withWriters: boolean): Promise<RoundResult> {
  const stop = { stopped: false }
  const started = performance.now()
  const utilization = performance.eventLoopUtilization()
  const writes = withWriters ? startWriters(store, fixture, prng, stop) : Promise.resolve(0)
  const timer = new Promise((resolve) => setTimeout(resolve, config.roundSeconds * 1000))
  // The mixed load's write stream is not used: one no-op a second.
  const sample = await runMixedLoad({ read: reader(store, fixture, prng), write: () => Promise.resolve(), readsPerSecond: config.readsPerSecond, writesPerSecond: 1, until: timer })
  stop.stopped = true
  const done = await writes
  return { reads: sample.reads, writes: done, seconds: (performance.now() - started) / 1000, busyShare: performance.eventLoopUtilization(utilization).utilization }
}

interface RunResult {
  quiet: LatencySummary
  busy: LatencySummary
  writesPerSecond: number
  /** Event loop utilization, alone and with writers (the mean of the rounds). */
  quietLoopBusy: number
  busyLoopBusy: number
}

async function run(index: number): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bench-reads-'))
  const store = await openStore({ dir, syncMode: 'always', compactionIntervalMs: 0 })
  try {
    const fixture = await load(store)
    const prng = new Prng(0x7ead, index)
    const quiet: Sample[] = []
    const busy: Sample[] = []
    let writes = 0
    let writeSeconds = 0
    let quietLoopBusy = 0
    let busyLoopBusy = 0
    for (let roundIndex = 0; roundIndex < config.roundsPerRun; roundIndex++) {
      const alone = await round(store, fixture, prng, false)
      quiet.push(alone.reads)
      quietLoopBusy += alone.busyShare / config.roundsPerRun
      const withWriters = await round(store, fixture, prng, true)
      busy.push(withWriters.reads)
      busyLoopBusy += withWriters.busyShare / config.roundsPerRun
      writes += withWriters.writes
      writeSeconds += withWriters.seconds
    }
    const result = { quiet: summarizeLatencies(quiet), busy: summarizeLatencies(busy), writesPerSecond: writes / writeSeconds, quietLoopBusy, busyLoopBusy }
    log(`run ${index + 1}: reads p99 ${formatMicros(result.quiet.p99Micros)} µs alone, ${formatMicros(result.busy.p99Micros)} µs with ${config.writers} writers (${formatCount(result.writesPerSecond)} writes/s)`)
    return result
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right)
  return sorted[Math.floor(sorted.length / 2)]!
}

const results: RunResult[] = []
for (let index = 0; index < config.runs; index++) results.push(await run(index))
const ratios = results.map((result) => result.busy.p99Micros / result.quiet.p99Micros)
const markdown = process.argv.includes('--markdown')
console.log(
  formatTable(
    ['run', 'reads', 'p50 alone (µs)', 'p99 alone (µs)', 'p50 with writers (µs)', 'p99 with writers (µs)', 'p99 ratio', 'writes/s', 'loop busy alone', 'loop busy with writers'],
    results.map((result, index) => [
      String(index + 1),
      formatCount(result.quiet.count + result.busy.count),
      formatMicros(result.quiet.p50Micros),
      formatMicros(result.quiet.p99Micros),
      formatMicros(result.busy.p50Micros),
      formatMicros(result.busy.p99Micros),
      formatRatio(ratios[index]!),
      formatCount(result.writesPerSecond),
      `${(result.quietLoopBusy * 100).toFixed(0)}%`,
      `${(result.busyLoopBusy * 100).toFixed(0)}%`,
    ]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    markdown,
  ),
)
console.log(
  `read p99 with ${config.writers} writers / alone: median ${formatRatio(median(ratios))} (min ${formatRatio(Math.min(...ratios))}, max ${formatRatio(Math.max(...ratios))}); aim <= 2.00×`,
)
