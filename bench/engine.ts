/**
 * The engine benchmark: Stratum against better-sqlite3 and lmdb on the same generated data, and
 * against the raw group-commit ceiling of the disk as Node sees it.
 *
 *   npm run bench:engine              # the full run (10,000 documents, 100,000 input nodes)
 *   npm run bench:engine -- --quick   # a twentieth of every count (startup: 200,000 nodes), for a smoke test
 *   npm run bench:engine -- --no-startup   # without the 10-million-node startup section
 *
 * Workloads, in order (every system in its own temporary folder, all open side by side):
 *   1. create documents (2 KiB text, 3 metadata columns), each with 10 input nodes (8 int64s)
 *      and their outputs (2 int64s): the first 500 documents with 1 writer, the rest with 64
 *      concurrent writers. One operation is one API write: a document, an input or an
 *      output, each its own durable transaction.
 *   2. random single-node reads (1 reader);
 *   3. whole-chain reads: text + metadata + every input with its output, in order (1 reader);
 *   4. node updates: 5,000 with 1 writer, then 100,000 with 64 writers;
 *   5. deletion of 30% of the documents (64 writers);
 * then the disk footprint. For Stratum, the store is closed after step 1 and opened in a fresh
 * process to measure its memory (heap + array buffers, after GC) per input node.
 *
 * Then Stratum's compaction and startup (the background compactor is off throughout,
 * compactionIntervalMs 0, so only explicit compactNow() calls compact):
 *   6. space: a copy of the store's folder is kept, then compactNow(); disk bytes per live byte
 *      (logical payload) before and after, and every document read back;
 *   7. locality: whole-chain reads on the copy (records interleaved by 64 writers and scattered
 *      by the updates), on the compacted store and on better-sqlite3, interleaved in rounds, with
 *      the default caches and again with 1 MiB caches on both sides;
 *   8. stalls: rounds of (updates to make garbage; a mixed load of paced random reads and paced
 *      durable updates with no compaction; the same load while compactNow() runs);
 *   9. startup: a 10,000,000-node store (bench/scale-store.ts) opened in fresh processes with its
 *      hint files and without them (a scan), against reading its segment files start to end.
 * Skip step 9 with --no-startup.
 *
 * Each workload is cut into 10 rounds, and in each round every system (and, for durable writes,
 * the disk ceiling) runs its share, in an order rotated from round to round, so that a drift of
 * the machine's speed during the run weighs on all of them alike. The ceiling is a loop that
 * writes one buffer of N records (each the size of Stratum's input-node record) with fs.write,
 * then calls fdatasync: N = 1 next to the 1-writer workloads, N = 64 next to the 64-writer ones.
 *
 * The benchmark only prints; it asserts nothing about timings. It does check, outside the timed
 * loops, that every system returns the values that were written.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { limits, type CompactionResult, type Value } from '../src/engine/index.ts'
import { encodedValueBytes } from '../src/engine/values.ts'
import {
  datasetSeed,
  generateDocument,
  htmlSizeBytes,
  inputItems,
  int64ListOf,
  metaPayloadBytes,
  outputItems,
  sameValue,
  type GeneratedDocument,
} from './dataset.ts'
import {
  combine,
  formatBytes,
  formatCount,
  formatMicros,
  formatRatio,
  formatTable,
  runRange,
  settle,
  type Sample,
  type Summary,
} from './measure.ts'
import { engineVersion } from './engine-version.ts'
import { Prng } from './prng.ts'
import type { RamReport } from './ram-child.ts'
import { LmdbSubject, SqliteSubject, StratumSubject, type Subject } from './subjects.ts'
import {
  aims,
  printLocality,
  printSpace,
  printStalls,
  type AimRow,
  type Footprint,
  type LocalityReport,
  type LocalityRow,
  type SpaceReport,
  type StallReport,
  type StallRound,
  type VerifiedCounts,
} from './compaction-report.ts'
import { Ceiling, ceilingName } from './disk-ceiling.ts'
import { interleave, type Participant } from './interleave.ts'
import { runMixedLoad } from './mixed-load.ts'
import { printStartup, runStartup, type StartupReport } from './startup.ts'
import { copyStoreFolder, folderBytes, processReadBytes } from './store-files.ts'

const quick = process.argv.includes('--quick')
const startup = !process.argv.includes('--no-startup')
/** --quick divides every count by this. */
const divisor = quick ? 20 : 1

const config = {
  documents: 10_000 / divisor,
  inputsPerDocument: 10,
  /**
   * Documents created by 1 writer, before the rest are created by 64. A tenth of the 64-writer
   * counts or less: at about a millisecond a synced write, a full load by one writer would take
   * minutes for each system.
   */
  singleWriterDocuments: 500 / divisor,
  randomReads: 200_000 / divisor,
  chainReads: 50_000 / divisor,
  updates: 100_000 / divisor,
  singleWriterUpdates: 5_000 / divisor,
  deleteFraction: 0.3,
  writers: 64,
  /** Each workload is cut into this many rounds, interleaved across the systems. */
  rounds: 10,
  /** Time the disk ceiling runs in each round of a durable-write workload. */
  ceilingSecondsPerRound: quick ? 0.05 : 0.4,
  verifySamples: 500,
  /**
   * Stalls: the mixed load's random reads and durable updates per second, each issued when due
   * (open loop), so that the garbage the load leaves does not depend on the disk's sync rate.
   */
  stallReadsPerSecond: 4_000,
  stallWritesPerSecond: 4_000,
  /**
   * Updates (64 writers) made before each stall round: with the load's own writes, about 7 MB of
   * garbage for each compaction. A compaction copies every live record (26 MiB at full size),
   * which sets most of its length: measured alone on this store, from 0.5 s after 10,000 updates
   * to 0.9 s after 100,000, so more garbage would add little.
   */
  stallGarbageUpdates: 50_000 / divisor,
  /**
   * The window without compaction lasts as long as the last compaction took, within these bounds
   * (the first round's, before a compaction's duration is known, is the lower one).
   */
  stallWindowSeconds: quick ? { min: 0.2, max: 1 } : { min: 2, max: 5 },
  /** The read cache of the small-cache locality comparison, on both sides. */
  smallCacheBytes: 1024 * 1024,
  /** Startup: input nodes of the store opened (100 a document), and rounds of the two opens. */
  startupNodes: quick ? 200_000 : 10_000_000,
  startupRounds: 2,
  /** Quick mode's startup store is small: 1 MiB segments give it sealed segments, so hint files. */
  startupSegmentSizeBytes: quick ? 1024 * 1024 : undefined,
}

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const repoDir = path.dirname(benchDir)
/** The engine's source when the run started, to tell whether it changed before the end. */
const versionAtStart = engineVersion(repoDir)

/** Workload names, in the order they are printed. */
const workloads = {
  create1: 'create (doc/input/output), 1 writer',
  create64: `create (doc/input/output), ${config.writers} writers`,
  read: 'random node read',
  chain: 'whole-chain read',
  update1: 'node update, 1 writer',
  update64: `node update, ${config.writers} writers`,
  delete: `delete document, ${config.writers} writers`,
} as const
type Workload = keyof typeof workloads

interface SystemResult {
  name: string
  summaries: Partial<Record<Workload, Summary>>
  diskBytes?: number
  logicalBytes?: number
  stratumStats?: { diskBytes: number; liveBytes: number; indexBytes: number; inputNodes: number }
}

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

// ---------------------------------------------------------------- data

interface Plan {
  documents: GeneratedDocument[]
  /** Global node indices (document * inputsPerDocument + position) for the random reads. */
  readNodes: Uint32Array
  chainDocuments: Uint32Array
  updateNodes: Uint32Array
  updateValues: Value[]
  /** Documents to delete, in order. */
  deleteDocuments: Uint32Array
}

function makePlan(): Plan {
  const started = performance.now()
  const documents: GeneratedDocument[] = []
  for (let index = 0; index < config.documents; index++) documents.push(generateDocument(index, config.inputsPerDocument))
  const nodeCount = config.documents * config.inputsPerDocument
  const prng = new Prng(datasetSeed, 0x7fff_0001)
  const readNodes = new Uint32Array(config.randomReads)
  for (let index = 0; index < readNodes.length; index++) readNodes[index] = prng.nextInt(nodeCount)
  const chainDocuments = new Uint32Array(config.chainReads)
  for (let index = 0; index < chainDocuments.length; index++) chainDocuments[index] = prng.nextInt(config.documents)
  const updateCount = config.singleWriterUpdates + config.updates
  const updateNodes = new Uint32Array(updateCount)
  const updateValues: Value[] = []
  for (let index = 0; index < updateCount; index++) {
    updateNodes[index] = prng.nextInt(nodeCount)
    updateValues.push(int64ListOf(prng, inputItems))
  }
  const order = prng.shuffle(Array.from({ length: config.documents }, (_, index) => index))
  const deleteDocuments = Uint32Array.from(order.slice(0, Math.round(config.documents * config.deleteFraction)))
  log(`generated the data in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return { documents, readNodes, chainDocuments, updateNodes, updateValues, deleteDocuments }
}

/** The ids one system gave to the documents and nodes, by generated index. */
interface Ids {
  docIds: Float64Array
  tcIds: Float64Array
}

/** What each input node should hold now: its generated value, then its latest update. */
class Expected {
  readonly inputs: Value[]
  readonly deleted = new Set<number>()

  constructor(readonly plan: Plan) {
    this.inputs = plan.documents.flatMap((document) => document.inputs)
  }
}

// ---------------------------------------------------------------- workloads

/**
 * Creates documents [from, to) with `writers` concurrent loops. Each loop takes the next document
 * and makes its writes one after the other: the document, then each input followed by its output.
 */
async function load(subject: Subject, plan: Plan, ids: Ids, from: number, to: number, writers: number): Promise<Sample> {
  const writesPerDocument = 1 + 2 * config.inputsPerDocument
  const latenciesMicros = new Float64Array((to - from) * writesPerDocument)
  let nextDocument = from
  let nextSlot = 0
  const loop = async (): Promise<void> => {
    // Bounded by `to`: every pass takes one document.
    while (nextDocument < to) {
      const index = nextDocument++
      const document = plan.documents[index]!
      let started = performance.now()
      const docId = await subject.createDocument(document.html, document.meta)
      latenciesMicros[nextSlot++] = (performance.now() - started) * 1000
      ids.docIds[index] = docId
      for (let position = 0; position < config.inputsPerDocument; position++) {
        started = performance.now()
        const tcId = await subject.addInput(docId, document.inputs[position]!)
        latenciesMicros[nextSlot++] = (performance.now() - started) * 1000
        ids.tcIds[index * config.inputsPerDocument + position] = tcId
        started = performance.now()
        await subject.setOutput(docId, tcId, document.outputs[position]!)
        latenciesMicros[nextSlot++] = (performance.now() - started) * 1000
      }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(writers, to - from) }, () => loop()))
  return { latenciesMicros, operations: latenciesMicros.length, elapsedSeconds: (performance.now() - started) / 1000 }
}

function nodeRef(ids: Ids, node: number): { docId: number; tcId: number } {
  return { docId: ids.docIds[Math.floor(node / config.inputsPerDocument)]!, tcId: ids.tcIds[node]! }
}

async function randomReads(system: SystemRun, plan: Plan, from: number, to: number): Promise<Sample> {
  const { subject, ids } = system
  let found = 0
  const sample = await runRange(from, to, 1, (index) => {
    const { docId, tcId } = nodeRef(ids, plan.readNodes[index]!)
    const result = subject.getInput(docId, tcId)
    if (result instanceof Promise) {
      return result.then((value) => {
        if (value !== undefined) found++
      })
    }
    if (result !== undefined) found++
    return undefined
  })
  if (found !== to - from) throw new Error(`${subject.name}: ${to - from - found} random reads found nothing`)
  return sample
}

/** Reads the chains of `documents[from..to)` (generated indices), none of them deleted. */
async function chainReads(system: SystemRun, documents: Uint32Array, from: number, to: number): Promise<Sample> {
  const { subject, ids } = system
  let nodes = 0
  const sample = await runRange(from, to, 1, (index) => {
    const result = subject.getChain(ids.docIds[documents[index]!]!)
    if (result instanceof Promise) {
      return result.then((chain) => {
        nodes += chain?.testCases.length ?? 0
      })
    }
    nodes += result?.testCases.length ?? 0
    return undefined
  })
  const expectedNodes = (to - from) * config.inputsPerDocument
  if (nodes !== expectedNodes) throw new Error(`${subject.name}: chain reads returned ${nodes} nodes, expected ${expectedNodes}`)
  return sample
}

function updates(system: SystemRun, plan: Plan, from: number, to: number, writers: number): Promise<Sample> {
  const { subject, ids, expected } = system
  return runRange(from, to, writers, (index) => {
    const node = plan.updateNodes[index]!
    const value = plan.updateValues[index]!
    const { docId, tcId } = nodeRef(ids, node)
    // Writes are applied in the order they are issued, so the last one issued to a node wins.
    expected.inputs[node] = value
    return subject.updateInput(docId, tcId, value)
  })
}

function deletes(system: SystemRun, plan: Plan, from: number, to: number): Promise<Sample> {
  const { subject, ids, expected } = system
  return runRange(from, to, config.writers, (index) => {
    const document = plan.deleteDocuments[index]!
    expected.deleted.add(document)
    return subject.deleteDocument(ids.docIds[document]!)
  })
}

/** Checks, untimed, that a sample of nodes and chains holds what was written. */
async function verify(system: SystemRun, plan: Plan, seed: number): Promise<void> {
  const { subject, ids, expected } = system
  const prng = new Prng(datasetSeed, seed)
  for (let sample = 0; sample < config.verifySamples; sample++) {
    const document = prng.nextInt(config.documents)
    const position = prng.nextInt(config.inputsPerDocument)
    const node = document * config.inputsPerDocument + position
    const { docId, tcId } = nodeRef(ids, node)
    const got = await subject.getInput(docId, tcId)
    const want = expected.deleted.has(document) ? undefined : expected.inputs[node]
    if (!sameValue(got, want)) throw new Error(`${subject.name}: node ${node} (doc ${docId}, tc ${tcId}) holds a wrong value`)
  }
  for (let sample = 0; sample < config.verifySamples / 10; sample++) await verifyChain(system, plan, prng.nextInt(config.documents))
}

/** Checks, untimed, that document `document` reads back whole (or not at all, if deleted); returns its nodes. */
async function verifyChain(system: SystemRun, plan: Plan, document: number): Promise<number> {
  const { subject, ids, expected } = system
  const chain = await subject.getChain(ids.docIds[document]!)
  if (expected.deleted.has(document)) {
    if (chain !== undefined) throw new Error(`${subject.name}: deleted document ${document} is still readable`)
    return 0
  }
  const generated = plan.documents[document]!
  if (chain === undefined) throw new Error(`${subject.name}: document ${document} is missing`)
  if (chain.html !== generated.html) throw new Error(`${subject.name}: document ${document} has wrong text`)
  if (JSON.stringify(chain.meta) !== JSON.stringify(generated.meta)) throw new Error(`${subject.name}: document ${document} has wrong metadata`)
  if (chain.testCases.length !== config.inputsPerDocument) throw new Error(`${subject.name}: document ${document} has ${chain.testCases.length} nodes`)
  chain.testCases.forEach((testCase, position) => {
    const node = document * config.inputsPerDocument + position
    if (testCase.tcId !== ids.tcIds[node]) throw new Error(`${subject.name}: chain of document ${document} is out of order`)
    if (!sameValue(testCase.value, expected.inputs[node]) || !sameValue(testCase.output, generated.outputs[position])) {
      throw new Error(`${subject.name}: chain of document ${document} holds a wrong value at ${position}`)
    }
  })
  return chain.testCases.length
}

/** Checks, untimed, every document: each live one whole, each deleted one gone. */
async function verifyAll(system: SystemRun, plan: Plan): Promise<VerifiedCounts> {
  const counts: VerifiedCounts = { chains: 0, nodes: 0, deleted: 0 }
  for (let document = 0; document < config.documents; document++) {
    const nodes = await verifyChain(system, plan, document)
    if (system.expected.deleted.has(document)) counts.deleted++
    else {
      counts.chains++
      counts.nodes += nodes
    }
  }
  return counts
}

/** Generated indices of the documents not deleted. */
function liveDocuments(expected: Expected): Uint32Array {
  const live: number[] = []
  for (let document = 0; document < config.documents; document++) if (!expected.deleted.has(document)) live.push(document)
  return Uint32Array.from(live)
}

/** Bytes of what a live document holds: text, metadata names and values, encoded node values. */
function logicalPayloadBytes(plan: Plan, expected: Expected): number {
  let sizeBytes = 0
  plan.documents.forEach((document, index) => {
    if (expected.deleted.has(index)) return
    sizeBytes += Buffer.byteLength(document.html) + metaPayloadBytes(document.meta)
    for (let position = 0; position < config.inputsPerDocument; position++) {
      sizeBytes += encodedValueBytes(expected.inputs[index * config.inputsPerDocument + position]!)
      sizeBytes += encodedValueBytes(document.outputs[position]!)
    }
  })
  return sizeBytes
}

// ---------------------------------------------------------------- systems and phases

interface SystemRun {
  subject: Subject
  readonly name: string
  readonly dir: string
  readonly ids: Ids
  readonly expected: Expected
  /** Whether it takes part in the read workloads (lmdb-sync reads exactly as lmdb does). */
  readonly reads: boolean
  readonly summaries: Partial<Record<Workload, Summary>>
}

async function openSystem(root: string, folder: string, reads: boolean, open: (dir: string) => Promise<Subject>, plan: Plan): Promise<SystemRun> {
  const dir = path.join(root, folder)
  fs.mkdirSync(dir, { recursive: true })
  const subject = await open(dir)
  return {
    subject,
    name: subject.name,
    dir,
    ids: { docIds: new Float64Array(config.documents), tcIds: new Float64Array(config.documents * config.inputsPerDocument) },
    expected: new Expected(plan),
    reads,
    summaries: {},
  }
}

/** Runs a workload interleaved (see interleave.ts), in config.rounds rounds, logging its figures. */
function phase(label: string, total: number, participants: Participant[]): Promise<Map<string, Summary>> {
  return interleave(label, total, participants, config.rounds, log)
}

// ---------------------------------------------------------------- compaction (Stratum)

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function footprint(subject: StratumSubject): Promise<Footprint> {
  const stats = await subject.store.stats()
  return { diskBytes: stats.diskBytes, liveBytes: stats.liveBytes, segmentCount: stats.segmentCount, folderBytes: folderBytes(subject.dir) }
}

/** Step 6: compacts the store, with its footprint before and after; then reads every document back. */
async function measureSpace(system: SystemRun, plan: Plan): Promise<SpaceReport> {
  const subject = system.subject as StratumSubject
  const before = await footprint(subject)
  const readBefore = processReadBytes()
  const result = await subject.store.compactNow()
  const readAfter = processReadBytes()
  const after = await footprint(subject)
  log(`space: compactNow() took ${(result.durationMs / 1000).toFixed(1)} s: ${formatBytes(result.bytesBefore)} → ${formatBytes(result.bytesAfter)}`)
  const verified = await verifyAll(system, plan)
  const readBytes = readBefore === undefined || readAfter === undefined ? undefined : readAfter - readBefore
  return { logicalBytes: logicalPayloadBytes(plan, system.expected), before, after, result, readBytes, verified }
}

/**
 * Step 7: whole-chain reads of random live documents on the uncompacted copy, on the compacted
 * store and on SQLite, interleaved; first with the default caches (as in the whole-chain read
 * workload), then with `smallCacheBytes` on both sides. Every chain is read once, untimed and
 * checked, before the first timed round.
 */
async function measureLocality(before: SystemRun, after: SystemRun, sqlite: SystemRun, plan: Plan): Promise<LocalityReport> {
  const live = liveDocuments(after.expected)
  const prng = new Prng(datasetSeed, 0x7fff_0002)
  const documents = new Uint32Array(config.chainReads)
  for (let index = 0; index < documents.length; index++) documents[index] = live[prng.nextInt(live.length)]!
  const stratumMisses = async (system: SystemRun): Promise<number> => (await (system.subject as StratumSubject).store.stats()).cacheMisses

  const compare = async (caches: string): Promise<LocalityReport['variants'][number]> => {
    const names = { before: 'stratum, before compaction', after: 'stratum, after compaction', sqlite: sqlite.name }
    const missesBefore = await stratumMisses(before)
    const missesAfter = await stratumMisses(after)
    const summaries = await phase(`whole-chain read (${caches})`, config.chainReads, [
      { name: names.before, run: (from, to) => chainReads(before, documents, from, to) },
      { name: names.after, run: (from, to) => chainReads(after, documents, from, to) },
      { name: names.sqlite, run: (from, to) => chainReads(sqlite, documents, from, to) },
    ])
    const row = (name: string, misses?: number): LocalityRow => {
      const result: LocalityRow = { name, summary: summaries.get(name)! }
      if (misses !== undefined) result.cacheMissesPerChain = misses / config.chainReads
      return result
    }
    return {
      caches,
      before: row(names.before, (await stratumMisses(before)) - missesBefore),
      after: row(names.after, (await stratumMisses(after)) - missesAfter),
      sqlite: row(names.sqlite),
    }
  }

  for (const system of [before, after, sqlite]) await verifyAll(system, plan)
  const variants = [await compare('default: 64 MiB')]
  const sqliteSubject = sqlite.subject as SqliteSubject
  await (before.subject as StratumSubject).reopen(config.smallCacheBytes)
  await (after.subject as StratumSubject).reopen(config.smallCacheBytes)
  sqliteSubject.setCacheSizeKiB(config.smallCacheBytes / 1024)
  variants.push(await compare(`small: ${formatBytes(config.smallCacheBytes)}`))
  await (after.subject as StratumSubject).reopen()
  sqliteSubject.setCacheSizeKiB(64 * 1024)
  return { chainReads: config.chainReads, liveDocuments: live.length, rounds: config.rounds, variants }
}

/**
 * Step 8: in each round, updates to make garbage, then the mixed load (paced random reads and
 * durable updates of live nodes) without compaction for as long as the last compaction took, then
 * the same load while compactNow() runs. Every document is read back afterwards.
 */
async function measureStalls(system: SystemRun, plan: Plan): Promise<StallReport> {
  const subject = system.subject as StratumSubject
  const { ids, expected } = system
  const live = liveDocuments(expected)
  const prng = new Prng(datasetSeed, 0x7fff_0003)
  let missing = 0
  const randomLiveNode = (): number => live[prng.nextInt(live.length)]! * config.inputsPerDocument + prng.nextInt(config.inputsPerDocument)
  const read = (): Promise<void> => {
    const { docId, tcId } = nodeRef(ids, randomLiveNode())
    return subject.getInput(docId, tcId).then((value) => {
      if (value === undefined) missing++
    })
  }
  const write = (): Promise<void> => {
    const node = randomLiveNode()
    const value = int64ListOf(prng, inputItems)
    const { docId, tcId } = nodeRef(ids, node)
    // Writes are applied in the order they are issued, so the last one issued to a node wins.
    expected.inputs[node] = value
    return subject.updateInput(docId, tcId, value)
  }
  const load = { read, write, readsPerSecond: config.stallReadsPerSecond, writesPerSecond: config.stallWritesPerSecond }

  const loadAverageStart = os.loadavg()[0]!
  // The first compaction since the store was opened also starts the compaction worker thread.
  const warmUp = await subject.store.compactNow()
  const rounds: StallRound[] = []
  const windowBounds = config.stallWindowSeconds
  let windowMs = windowBounds.min * 1000
  for (let round = 0; round < config.rounds; round++) {
    await runRange(0, config.stallGarbageUpdates, config.writers, () => write())
    await settle()
    const without = await runMixedLoad({ ...load, until: sleep(windowMs) })
    await settle()
    const readBefore = processReadBytes()
    const compacting: Promise<CompactionResult> = subject.store.compactNow()
    const during = await runMixedLoad({ ...load, until: compacting })
    const compaction = await compacting
    const readAfter = processReadBytes()
    const readBytes = readBefore === undefined || readAfter === undefined ? undefined : readAfter - readBefore
    rounds.push({ windowMs, without, during, compaction, readBytes })
    log(
      `stalls, round ${round + 1}: window without ${windowMs.toFixed(0)} ms (${without.reads.operations} reads, ${without.writes.operations} writes); ` +
        `compaction ${compaction.durationMs.toFixed(0)} ms (${during.reads.operations} reads, ${during.writes.operations} writes)`,
    )
    windowMs = Math.min(windowBounds.max * 1000, Math.max(windowBounds.min * 1000, compaction.durationMs))
    await settle()
  }
  if (missing > 0) throw new Error(`stratum: ${missing} reads of the mixed load found nothing`)
  const loadAverageEnd = os.loadavg()[0]!
  const verified = await verifyAll(system, plan)
  return {
    rounds,
    garbageUpdates: config.stallGarbageUpdates,
    garbageWriters: config.writers,
    readsPerSecond: config.stallReadsPerSecond,
    writesPerSecond: config.stallWritesPerSecond,
    windowSeconds: windowBounds,
    loadAverage: { start: loadAverageStart, end: loadAverageEnd },
    warmUp,
    verified,
  }
}

function measureRamInChild(dir: string): RamReport {
  const output = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(benchDir, 'ram-child.ts'), dir], {
    cwd: repoDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = output.trim().split('\n').pop()!
  return JSON.parse(line) as RamReport
}

// ---------------------------------------------------------------- report

interface Report {
  systems: SystemResult[]
  /** The ceiling measured interleaved with each durable-write workload. */
  ceilings: Partial<Record<Workload, { recordsPerSync: number; summary: Summary }>>
  ram: RamReport | undefined
  reopenMs: number | undefined
  recordSizeBytes: number
  space: SpaceReport
  locality: LocalityReport
  stalls: StallReport
  startup: StartupReport | undefined
}

function printReport({ systems, ceilings, ram, reopenMs, recordSizeBytes, space, locality, stalls, startup }: Report): void {
  const stratum = systems.find((system) => system.name === 'stratum')!
  const rows: string[][] = []
  for (const workload of Object.keys(workloads) as Workload[]) {
    const stratumSummary = stratum.summaries[workload]
    let first = true
    const row = (name: string, summary: Summary, ratio: string): void => {
      rows.push([
        first ? workloads[workload] : '',
        name,
        formatCount(summary.operations),
        formatCount(summary.opsPerSecond),
        formatMicros(summary.p50Micros),
        formatMicros(summary.p99Micros),
        ratio,
      ])
      first = false
    }
    for (const system of systems) {
      const summary = system.summaries[workload]
      if (summary === undefined) continue
      const ratio = system === stratum || stratumSummary === undefined ? '' : formatRatio(stratumSummary.opsPerSecond / summary.opsPerSecond)
      row(system.name, summary, ratio)
    }
    const ceiling = ceilings[workload]
    if (ceiling !== undefined && stratumSummary !== undefined) {
      row(ceilingName(ceiling.recordsPerSync), ceiling.summary, formatRatio(stratumSummary.opsPerSecond / ceiling.summary.opsPerSecond))
    }
  }
  console.log('')
  console.log(
    `Stratum engine benchmark${quick ? ' (--quick)' : ''}: ${config.documents.toLocaleString('en-US')} documents x ${config.inputsPerDocument} input nodes`,
  )
  console.log(
    `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), ${os.platform()} ${os.release()}, ${new Date().toISOString()}`,
  )
  const versionAtEnd = engineVersion(repoDir)
  console.log(versionAtEnd)
  if (versionAtEnd !== versionAtStart) {
    // Child processes and the compaction worker load the engine when they start: a run that
    // straddles a change of the source may have measured both versions.
    console.log(`WARNING: the engine's source changed during the run; at the start: ${versionAtStart}`)
  }
  console.log(
    `each workload interleaved in ${config.rounds} rounds across the systems; latency per operation, call to completion ` +
      `(ceiling: one write + fdatasync of ${recordSizeBytes} B records)`,
  )
  console.log('')
  console.log(
    formatTable(
      ['workload', 'system', 'ops', 'ops/s', 'p50 µs', 'p99 µs', 'stratum ÷ this'],
      rows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    ),
  )

  // Memory and disk.
  console.log('')
  if (ram !== undefined) {
    const deltaBytes = ram.afterBytes - ram.beforeBytes
    const count = (value: number): string => value.toLocaleString('en-US')
    console.log(
      formatTable(
        ['Stratum memory (store opened in a fresh process, after GC)', 'value'],
        [
          ['documents / input nodes / outputs', `${count(ram.documents)} / ${count(ram.inputNodes)} / ${count(ram.outputNodes)}`],
          [
            'heap + arrayBuffers growth on open',
            `${formatBytes(deltaBytes)} (heap ${formatBytes(ram.heapUsedDeltaBytes)}, arrayBuffers ${formatBytes(ram.arrayBuffersDeltaBytes)})`,
          ],
          ['RAM bytes per input node', (deltaBytes / ram.inputNodes).toFixed(1)],
          ['keydir table bytes (stats().indexBytes) per input node', (ram.indexBytes / ram.inputNodes).toFixed(1)],
          ['open (recovery) time, fresh process', `${ram.openMs.toFixed(0)} ms for ${count(ram.recordCount)} records`],
          ...(reopenMs === undefined ? [] : [['reopen time, benchmark process', `${reopenMs.toFixed(0)} ms`]]),
        ],
        ['left', 'right'],
      ),
    )
    console.log('')
  }
  const diskRows = systems
    .filter((system) => system.diskBytes !== undefined && system.logicalBytes !== undefined)
    .map((system) => [
      system.name,
      formatBytes(system.diskBytes!),
      formatBytes(system.logicalBytes!),
      formatRatio(system.diskBytes! / system.logicalBytes!),
      system.stratumStats === undefined
        ? ''
        : `live ${formatBytes(system.stratumStats.liveBytes)}; diskBytes ÷ liveBytes ${formatRatio(system.stratumStats.diskBytes / system.stratumStats.liveBytes)}`,
    ])
  console.log('Disk at the end (after the updates and deletes; no compaction or vacuum):')
  console.log(
    formatTable(['system', 'disk bytes', 'logical payload', 'disk ÷ payload', 'Stratum stats()'], diskRows, ['left', 'right', 'right', 'right', 'left']),
  )
  console.log('logical payload: text + metadata names and values + encoded node values of the live documents')

  // Stratum's compaction and startup: each section prints its aims beside its figures.
  const sectionAims: AimRow[] = []
  console.log('')
  sectionAims.push(...printSpace(space))
  console.log('')
  sectionAims.push(...printStalls(stalls))
  console.log('')
  sectionAims.push(...printLocality(locality))
  if (startup !== undefined) {
    console.log('')
    sectionAims.push(...printStartup(startup, aims.openOverRawRead))
  }

  // Aims.
  const sqlite = systems.find((system) => system.name === 'better-sqlite3')
  const lmdb = systems.find((system) => system.name === 'lmdb')
  const aimRows: string[][] = []
  const ratioAim = (label: string, mine: Summary | undefined, theirs: Summary | undefined, target: number): void => {
    if (mine === undefined || theirs === undefined) return
    const ratio = mine.opsPerSecond / theirs.opsPerSecond
    aimRows.push([label, `≥ ${target}×`, formatRatio(ratio), ratio >= target ? 'met' : 'NOT met'])
  }
  for (const workload of ['create64', 'update64'] as const) {
    ratioAim(`${workloads[workload]}: Stratum ÷ better-sqlite3`, stratum.summaries[workload], sqlite?.summaries[workload], 25)
    ratioAim(`${workloads[workload]}: Stratum ÷ disk ceiling`, stratum.summaries[workload], ceilings[workload]?.summary, 0.5)
  }
  ratioAim('random node read: Stratum ÷ lmdb', stratum.summaries.read, lmdb?.summaries.read, 0.8)
  ratioAim('whole-chain read: Stratum ÷ better-sqlite3', stratum.summaries.chain, sqlite?.summaries.chain, 1)
  if (ram !== undefined) {
    const perNode = (ram.afterBytes - ram.beforeBytes) / ram.inputNodes
    aimRows.push(['RAM per input node (heap + arrayBuffers)', '≤ 48 B', `${perNode.toFixed(1)} B`, perNode <= 48 ? 'met' : 'NOT met'])
  }
  aimRows.push(...sectionAims)
  console.log('')
  console.log(formatTable(['aim', 'target', 'measured', ''], aimRows, ['left', 'right', 'right', 'left']))
  if (systems.some((system) => system.name === 'lmdb-sync')) {
    console.log('')
    console.log('lmdb acknowledges a write once committed and syncs it afterwards (overlappingSync, its default on Linux);')
    console.log("lmdb-sync (overlappingSync: false) acknowledges after the sync, as Stratum 'always' and SQLite FULL do.")
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bench-'))
  log(`benchmark folder: ${root}${quick ? ' (quick mode)' : ''}`)
  const systems: SystemRun[] = []
  try {
    const recordSizeBytes = limits.recordHeaderBytes + encodedValueBytes(int64ListOf(new Prng(1), inputItems))
    const plan = makePlan()
    log(
      `data: ${config.documents} documents of ${htmlSizeBytes} B text, ${config.inputsPerDocument} inputs of ${inputItems} int64s, outputs of ${outputItems}`,
    )
    const stratumRun = await openSystem(root, 'stratum', true, (dir) => StratumSubject.open(dir), plan)
    systems.push(stratumRun)
    systems.push(await openSystem(root, 'sqlite', true, async (dir) => new SqliteSubject(dir), plan))
    systems.push(await openSystem(root, 'lmdb', true, async (dir) => new LmdbSubject(dir, 'lmdb', true), plan))
    systems.push(await openSystem(root, 'lmdb-sync', false, async (dir) => new LmdbSubject(dir, 'lmdb-sync', false), plan))
    const readers = systems.filter((system) => system.reads)
    const ceilings: Report['ceilings'] = {}

    /** Runs a workload on `members` (and the ceiling, if asked) and files the summaries. */
    const runPhase = async (
      workload: Workload,
      total: number,
      members: SystemRun[],
      run: (system: SystemRun, from: number, to: number) => Promise<Sample>,
      ceilingRecordsPerSync?: number,
    ): Promise<void> => {
      const participants: Participant[] = members.map((system) => ({ name: system.name, run: (from, to) => run(system, from, to) }))
      const ceiling = ceilingRecordsPerSync === undefined ? undefined : Ceiling.open(root, ceilingRecordsPerSync, recordSizeBytes)
      if (ceiling !== undefined) participants.push(ceiling.participant(ceilingName(ceiling.recordsPerSync), config.ceilingSecondsPerRound))
      try {
        const summaries = await phase(workloads[workload], total, participants)
        for (const system of members) system.summaries[workload] = summaries.get(system.name)!
        if (ceiling !== undefined) ceilings[workload] = { recordsPerSync: ceiling.recordsPerSync, summary: summaries.get(ceilingName(ceiling.recordsPerSync))! }
      } finally {
        ceiling?.close()
      }
    }

    await runPhase('create1', config.singleWriterDocuments, systems, (system, from, to) => load(system.subject, plan, system.ids, from, to, 1), 1)
    await runPhase(
      'create64',
      config.documents - config.singleWriterDocuments,
      systems,
      (system, from, to) => {
        const offset = config.singleWriterDocuments
        return load(system.subject, plan, system.ids, offset + from, offset + to, config.writers)
      },
      config.writers,
    )

    // Stratum's memory: closed here, opened in a fresh process, then reopened here.
    const stratum = stratumRun.subject as StratumSubject
    await stratum.store.close()
    const ram = measureRamInChild(stratumRun.dir)
    const reopenStarted = performance.now()
    stratumRun.subject = await StratumSubject.open(stratumRun.dir)
    const reopenMs = performance.now() - reopenStarted
    log(`stratum: ${((ram.afterBytes - ram.beforeBytes) / ram.inputNodes).toFixed(1)} RAM bytes per input node; reopen ${reopenMs.toFixed(0)} ms`)

    for (const system of systems) await verify(system, plan, 1)
    await runPhase('read', config.randomReads, readers, (system, from, to) => randomReads(system, plan, from, to))
    await runPhase('chain', config.chainReads, readers, (system, from, to) => chainReads(system, plan.chainDocuments, from, to))
    await runPhase('update1', config.singleWriterUpdates, systems, (system, from, to) => updates(system, plan, from, to, 1), 1)
    await runPhase(
      'update64',
      config.updates,
      systems,
      (system, from, to) => updates(system, plan, config.singleWriterUpdates + from, config.singleWriterUpdates + to, config.writers),
      config.writers,
    )
    for (const system of systems) await verify(system, plan, 2)
    await runPhase('delete', plan.deleteDocuments.length, systems, (system, from, to) => deletes(system, plan, from, to))
    for (const system of systems) await verify(system, plan, 3)

    const results: SystemResult[] = []
    for (const system of systems) {
      const result: SystemResult = {
        name: system.name,
        summaries: system.summaries,
        diskBytes: await system.subject.diskBytes(),
        logicalBytes: logicalPayloadBytes(plan, system.expected),
      }
      if (system.subject instanceof StratumSubject) {
        const stats = await system.subject.store.stats()
        result.stratumStats = { diskBytes: stats.diskBytes, liveBytes: stats.liveBytes, indexBytes: stats.indexBytes, inputNodes: stats.inputNodes }
      }
      results.push(result)
    }

    // Stratum's compaction: a copy of the store as it is now (closed while copied), then compactNow().
    const sqliteRun = systems.find((system) => system.name === 'better-sqlite3')!
    await stratumRun.subject.close()
    const copyDir = path.join(root, 'stratum-before-compaction')
    copyStoreFolder(stratumRun.dir, copyDir)
    stratumRun.subject = await StratumSubject.open(stratumRun.dir)
    const beforeName = 'stratum, before compaction'
    const beforeRun: SystemRun = {
      subject: await StratumSubject.open(copyDir, { name: beforeName }),
      name: beforeName,
      dir: copyDir,
      ids: stratumRun.ids,
      expected: stratumRun.expected,
      reads: true,
      summaries: {},
    }
    systems.push(beforeRun)
    const space = await measureSpace(stratumRun, plan)
    const locality = await measureLocality(beforeRun, stratumRun, sqliteRun, plan)
    await beforeRun.subject.close()
    systems.splice(systems.indexOf(beforeRun), 1)
    fs.rmSync(copyDir, { recursive: true, force: true })
    const stalls = await measureStalls(stratumRun, plan)

    // Startup, in child processes, with every other system closed.
    for (const system of systems.splice(0)) await system.subject.close()
    let startupReport: StartupReport | undefined
    if (startup) {
      const startupRoot = path.join(root, 'startup')
      fs.mkdirSync(startupRoot)
      const options = { nodes: config.startupNodes, rounds: config.startupRounds, ...(config.startupSegmentSizeBytes === undefined ? {} : { segmentSizeBytes: config.startupSegmentSizeBytes }) }
      startupReport = runStartup(startupRoot, options, log)
    }
    printReport({ systems: results, ceilings, ram, reopenMs, recordSizeBytes, space, locality, stalls, startup: startupReport })
  } finally {
    for (const system of systems) await system.subject.close().catch(() => undefined)
    fs.rmSync(root, { recursive: true, force: true })
  }
}

await main()
