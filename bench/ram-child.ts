/**
 * Run by the benchmarks in a fresh process with --expose-gc: opens the store in the folder given
 * as the first argument and reports on stdout, as one JSON line, the heap + array-buffer bytes
 * before opening and after, measured after full garbage collections, with the store's counts.
 *
 *   node --expose-gc --import tsx bench/ram-child.ts <dir>
 */
import { openStore } from '../src/engine/index.ts'

export interface RamReport {
  /** heapUsed + arrayBuffers before opening, after GC. */
  beforeBytes: number
  /** heapUsed + arrayBuffers with the store open, after GC. */
  afterBytes: number
  heapUsedDeltaBytes: number
  arrayBuffersDeltaBytes: number
  documents: number
  inputNodes: number
  outputNodes: number
  /** The keydir's typed-array table (stats().indexBytes). */
  indexBytes: number
  openMs: number
  recordCount: number
}

function collect(): void {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let round = 0; round < 4; round++) gc()
}

async function main(): Promise<void> {
  const dir = process.argv[2]
  if (dir === undefined) throw new Error('usage: ram-child.ts <store dir>')
  // Let start-up garbage settle before the baseline.
  await new Promise((resolve) => setTimeout(resolve, 50))
  collect()
  const before = process.memoryUsage()
  const started = performance.now()
  const store = await openStore({ dir })
  const openMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 50))
  collect()
  const after = process.memoryUsage()
  const stats = await store.stats()
  const report: RamReport = {
    beforeBytes: before.heapUsed + before.arrayBuffers,
    afterBytes: after.heapUsed + after.arrayBuffers,
    heapUsedDeltaBytes: after.heapUsed - before.heapUsed,
    arrayBuffersDeltaBytes: after.arrayBuffers - before.arrayBuffers,
    documents: stats.documents,
    inputNodes: stats.inputNodes,
    outputNodes: stats.outputNodes,
    indexBytes: stats.indexBytes,
    openMs,
    recordCount: stats.lastRecovery.recordCount,
  }
  await store.close()
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main()
