/**
 * The scale benchmark: a store of 20 million input nodes (200,000 documents of 100 nodes, small
 * int64 values) is loaded, closed, and reopened in a fresh process (twice: the second open uses
 * the hint files the first wrote), which measures the reopen
 * time, the memory the open store holds (heap + array buffers, after GC) per node and per
 * document, and the rate of random single-node reads, checking a sample of values against what
 * was written.
 *
 *   npm run bench:scale                          # 20,000,000 nodes
 *   npm run bench:scale -- --nodes 2000000       # scaled down
 *   options: --nodes N, --nodes-per-document N (100), --reads N (1,000,000)
 *
 * Loading uses syncMode 'none' and one flush at the end: what is measured here is the size the
 * store can reach and how it behaves there, not durable write throughput (see bench/engine.ts).
 * Everything lives in a temporary folder under os.tmpdir(), removed at the end.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openStore, type Store } from '../src/engine/index.ts'
import { formatBytes, formatCount, formatMicros, formatTable, runRange, combine } from './measure.ts'
import { engineVersion } from './engine-version.ts'
import { Prng } from './prng.ts'
import { documentMeta, idsPath, load, nodeValue, seed, storeDir, type Layout } from './scale-store.ts'

const thisFile = fileURLToPath(import.meta.url)
const repoDir = path.dirname(path.dirname(thisFile))

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name)
  if (index === -1) return fallback
  const value = Number(process.argv[index + 1])
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`)
  return value
}

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

// ---------------------------------------------------------------- reopening and reading (child)

interface ChildReport {
  openMs: number
  recordCount: number
  documents: number
  inputNodes: number
  indexBytes: number
  /** heap + arrayBuffers growth from before opening to after, after GC. */
  openDeltaBytes: number
  heapDeltaBytes: number
  arrayBuffersDeltaBytes: number
  /** The same, measured again after the random reads. */
  afterReadsDeltaBytes: number
  rssBytes: number
  reads: number
  readsPerSecond: number
  readP50Micros: number
  readP99Micros: number
  verifiedNodes: number
  verifiedChains: number
  segmentsFromHints: number
  segmentsScanned: number
  hintsWritten: number
}

function collect(): void {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('the reading process must run with --expose-gc')
  for (let round = 0; round < 4; round++) gc()
}

function heapAndBuffers(): { heapUsed: number; arrayBuffers: number } {
  const usage = process.memoryUsage()
  return { heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers }
}

async function child(root: string, layout: Layout, reads: number): Promise<void> {
  const { documents, nodesPerDocument } = layout
  const bytes = fs.readFileSync(idsPath(root))
  const all = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
  const docIds = all.subarray(0, documents)
  const tcIds = all.subarray(documents)
  const prng = new Prng(seed, 1)
  const readNodes = new Uint32Array(reads)
  for (let index = 0; index < reads; index++) readNodes[index] = prng.nextInt(documents * nodesPerDocument)

  await new Promise((resolve) => setTimeout(resolve, 50))
  collect()
  const before = heapAndBuffers()
  const started = performance.now()
  const store: Store = await openStore({ dir: storeDir(root), compactionIntervalMs: 0 })
  const openMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 50))
  collect()
  const opened = heapAndBuffers()
  const stats = await store.stats()

  // Untimed: a sample of nodes, and whole chains, against what was written.
  let verifiedNodes = 0
  for (let sample = 0; sample < 10_000; sample++) {
    const node = prng.nextInt(documents * nodesPerDocument)
    const document = Math.floor(node / nodesPerDocument)
    const value = await store.getTestCase(docIds[document]!, tcIds[node]!)
    if (value?.type !== 'int64' || value.value !== nodeValue(document, node % nodesPerDocument)) {
      throw new Error(`node ${node} of document ${document} does not hold what was written`)
    }
    verifiedNodes++
  }
  let verifiedChains = 0
  for (let sample = 0; sample < 100; sample++) {
    const document = prng.nextInt(documents)
    const page = await store.getAllTestCases(docIds[document]!)
    const meta = await store.getProblemMeta(docIds[document]!)
    if (page === undefined || page.testCases.length !== nodesPerDocument) throw new Error(`document ${document} has a wrong chain`)
    if (JSON.stringify(meta) !== JSON.stringify(documentMeta(document))) throw new Error(`document ${document} has wrong metadata`)
    page.testCases.forEach((testCase, position) => {
      if (testCase.tcId !== tcIds[document * nodesPerDocument + position]) throw new Error(`chain of document ${document} is out of order`)
      if (testCase.value.type !== 'int64' || testCase.value.value !== nodeValue(document, position)) {
        throw new Error(`chain of document ${document} holds a wrong value at ${position}`)
      }
    })
    verifiedChains++
  }

  const sample = await runRange(0, reads, 1, (index) => {
    const node = readNodes[index]!
    return store.getTestCase(docIds[Math.floor(node / nodesPerDocument)]!, tcIds[node]!)
  })
  const summary = combine([sample])
  collect()
  const afterReads = heapAndBuffers()
  const report: ChildReport = {
    openMs,
    recordCount: stats.lastRecovery.recordCount,
    documents: stats.documents,
    inputNodes: stats.inputNodes,
    indexBytes: stats.indexBytes,
    openDeltaBytes: opened.heapUsed + opened.arrayBuffers - before.heapUsed - before.arrayBuffers,
    heapDeltaBytes: opened.heapUsed - before.heapUsed,
    arrayBuffersDeltaBytes: opened.arrayBuffers - before.arrayBuffers,
    afterReadsDeltaBytes: afterReads.heapUsed + afterReads.arrayBuffers - before.heapUsed - before.arrayBuffers,
    rssBytes: process.memoryUsage().rss,
    reads,
    readsPerSecond: summary.opsPerSecond,
    readP50Micros: summary.p50Micros,
    readP99Micros: summary.p99Micros,
    verifiedNodes,
    verifiedChains,
    segmentsFromHints: stats.lastRecovery.segmentsFromHints,
    segmentsScanned: stats.lastRecovery.segmentsScanned,
    hintsWritten: stats.lastRecovery.hintsWritten,
  }
  await store.close()
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const nodes = option('--nodes', 20_000_000)
  const nodesPerDocument = option('--nodes-per-document', 100)
  const reads = option('--reads', 1_000_000)
  const layout: Layout = { documents: Math.ceil(nodes / nodesPerDocument), nodesPerDocument }
  const childIndex = process.argv.indexOf('--child')
  if (childIndex !== -1) {
    await child(process.argv[childIndex + 1]!, layout, reads)
    return
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-scale-'))
  log(`scale benchmark folder: ${root}`)
  try {
    const totalNodes = layout.documents * nodesPerDocument
    log(`loading ${layout.documents.toLocaleString('en-US')} documents x ${nodesPerDocument} nodes (syncMode 'none', then flush)`)
    const loaded = await load(root, layout)
    if (loaded.nodes !== totalNodes) throw new Error(`the store holds ${loaded.nodes} nodes, expected ${totalNodes}`)
    log(`loaded in ${loaded.loadSeconds.toFixed(1)} s; reopening in a fresh process`)
    // Twice: the first open scans every segment and writes their hint files; the second opens the
    // sealed segments from those hints.
    const reopen = (): ChildReport => {
      const output = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=16384',
        '--import',
        'tsx',
        thisFile,
        '--child',
        root,
        '--nodes',
        String(nodes),
        '--nodes-per-document',
        String(nodesPerDocument),
        '--reads',
        String(reads),
      ],
      { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
      )
      return JSON.parse(output.trim().split('\n').pop()!) as ChildReport
    }
    const scanned = reopen()
    log('reopening again, from the hint files')
    const report = reopen()
    const count = (value: number): string => value.toLocaleString('en-US')
    console.log('')
    console.log(`Stratum scale benchmark: ${count(layout.documents)} documents x ${nodesPerDocument} input nodes = ${count(totalNodes)} nodes`)
    console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), ${os.platform()} ${os.release()}, ${new Date().toISOString()}`)
    console.log(engineVersion(repoDir))
    console.log('')
    console.log(
      formatTable(
        ['measure', 'value'],
        [
          ['load (syncMode none, then flush)', `${loaded.loadSeconds.toFixed(1)} s, ${formatCount(totalNodes / loaded.loadSeconds)} nodes/s`],
          ['disk bytes / live record bytes', `${formatBytes(loaded.diskBytes)} / ${formatBytes(loaded.liveBytes)}`],
          [
            'reopen, fresh process, every segment scanned',
            `${(scanned.openMs / 1000).toFixed(1)} s for ${count(scanned.recordCount)} records (${formatCount(scanned.recordCount / (scanned.openMs / 1000))} records/s); ${scanned.segmentsScanned} scanned, ${scanned.hintsWritten} hints written`,
          ],
          [
            'reopen again, from hint files',
            `${(report.openMs / 1000).toFixed(1)} s (${formatCount(report.recordCount / (report.openMs / 1000))} records/s); ${report.segmentsFromHints} segments from hints, ${report.segmentsScanned} scanned; ${(scanned.openMs / report.openMs).toFixed(1)}× faster`,
          ],
          ['heap + arrayBuffers growth on open', `${formatBytes(report.openDeltaBytes)} (heap ${formatBytes(report.heapDeltaBytes)}, arrayBuffers ${formatBytes(report.arrayBuffersDeltaBytes)})`],
          ['RAM bytes per input node', (report.openDeltaBytes / report.inputNodes).toFixed(1)],
          ['RAM bytes per document', (report.openDeltaBytes / report.documents).toFixed(0)],
          ['keydir table bytes (stats().indexBytes) per input node', (report.indexBytes / report.inputNodes).toFixed(1)],
          ['RAM bytes per input node after the reads', (report.afterReadsDeltaBytes / report.inputNodes).toFixed(1)],
          ['process RSS after the reads', formatBytes(report.rssBytes)],
          [`random node reads (1 reader, ${count(report.reads)})`, `${formatCount(report.readsPerSecond)}/s, p50 ${formatMicros(report.readP50Micros)} µs, p99 ${formatMicros(report.readP99Micros)} µs`],
          ['verified against what was written', `${count(report.verifiedNodes)} random nodes, ${count(report.verifiedChains)} whole chains + metadata`],
        ],
        ['left', 'right'],
      ),
    )
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

await main()
