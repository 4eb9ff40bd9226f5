/**
 * Run by the startup section of the engine benchmark in a fresh process, so that each open starts
 * from an empty heap. Prints one JSON line on stdout.
 *
 *   node --import tsx bench/startup-child.ts load <root> <documents> <nodesPerDocument> [segmentSizeBytes]
 *     loads the scale benchmark's store (bench/scale-store.ts) into <root>/store;
 *   node --import tsx bench/startup-child.ts open <store dir> <hints|scan> <documents> <nodesPerDocument>
 *     (scan: removes the hint files first) reads every segment file start to end, opens the store
 *     (timed), checks its counts and a sample of chains, closes it, and reads the segment files
 *     again. Nothing is dropped from the page cache; `fincore` reports how much of the segment
 *     files it held before and after, when it is installed.
 */
import { openStore } from '../src/engine/index.ts'
import { load, nodeValue, type Layout, type LoadOptions, type LoadReport } from './scale-store.ts'
import { hintFileBytes, hintFileCount, pageCacheResidentBytes, readSequentially, removeHintFiles, segmentFiles, type SequentialRead } from './store-files.ts'

export type StartupMode = 'hints' | 'scan'

export interface StartupOpenReport {
  mode: StartupMode
  hintFilesRemoved: number
  hintFilesAtOpen: number
  /** Bytes of the hint files once the store is closed again (a scan writes them anew). */
  hintBytesAfter: number
  segmentFiles: number
  /** Segment files read start to end right before the open, and right after the store was closed. */
  rawBefore: SequentialRead
  rawAfter: SequentialRead
  /** Bytes of the segment files in the page cache before the first read and after the last (fincore). */
  residentBefore: number | undefined
  residentAfter: number | undefined
  openMs: number
  recordCount: number
  bytesScanned: number
  segmentsFromHints: number
  segmentsScanned: number
  hintsWritten: number
  documents: number
  inputNodes: number
  verifiedChains: number
}

function positiveInteger(text: string | undefined, name: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${String(text)}`)
  return value
}

async function openOnce(dir: string, mode: StartupMode, layout: Layout): Promise<StartupOpenReport> {
  const hintFilesRemoved = mode === 'scan' ? removeHintFiles(dir) : 0
  const hintFilesAtOpen = hintFileCount(dir)
  const files = segmentFiles(dir)
  const residentBefore = pageCacheResidentBytes(files)
  const rawBefore = readSequentially(files)
  const started = performance.now()
  const store = await openStore({ dir, compactionIntervalMs: 0 })
  const openMs = performance.now() - started
  const stats = await store.stats()

  // Untimed: the counts, and a sample of whole chains against what was loaded. Documents were
  // created in index order, so the n-th id listed is document n.
  if (stats.documents !== layout.documents || stats.inputNodes !== layout.documents * layout.nodesPerDocument) {
    throw new Error(`the store holds ${stats.documents} documents and ${stats.inputNodes} nodes, expected ${layout.documents} x ${layout.nodesPerDocument}`)
  }
  const { ids } = await store.listProblems({ limit: Math.min(layout.documents, 1000) })
  let verifiedChains = 0
  for (let document = 0; document < ids.length; document += Math.max(1, Math.floor(ids.length / 20))) {
    const page = await store.getAllTestCases(ids[document]!)
    if (page === undefined || page.testCases.length !== layout.nodesPerDocument) throw new Error(`document ${document} has a wrong chain`)
    page.testCases.forEach((testCase, position) => {
      if (testCase.value.type !== 'int64' || testCase.value.value !== nodeValue(document, position)) {
        throw new Error(`chain of document ${document} holds a wrong value at ${position}`)
      }
    })
    verifiedChains++
  }
  await store.close()
  const hintBytesAfter = hintFileBytes(dir)
  const filesAfter = segmentFiles(dir)
  const rawAfter = readSequentially(filesAfter)
  const residentAfter = pageCacheResidentBytes(filesAfter)
  const recovery = stats.lastRecovery
  return {
    mode,
    hintFilesRemoved,
    hintFilesAtOpen,
    hintBytesAfter,
    segmentFiles: files.length,
    rawBefore,
    rawAfter,
    residentBefore,
    residentAfter,
    openMs,
    recordCount: recovery.recordCount,
    bytesScanned: recovery.bytesScanned,
    segmentsFromHints: recovery.segmentsFromHints,
    segmentsScanned: recovery.segmentsScanned,
    hintsWritten: recovery.hintsWritten,
    documents: stats.documents,
    inputNodes: stats.inputNodes,
    verifiedChains,
  }
}

async function main(): Promise<void> {
  const [command, target, ...rest] = process.argv.slice(2)
  const layoutOf = (documents: string | undefined, nodesPerDocument: string | undefined): Layout => ({
    documents: positiveInteger(documents, 'documents'),
    nodesPerDocument: positiveInteger(nodesPerDocument, 'nodesPerDocument'),
  })
  if (command === 'load' && target !== undefined) {
    const options: LoadOptions = { writeIds: false }
    if (rest[2] !== undefined) options.segmentSizeBytes = positiveInteger(rest[2], 'segmentSizeBytes')
    const report: LoadReport = await load(target, layoutOf(rest[0], rest[1]), options)
    process.stdout.write(`${JSON.stringify(report)}\n`)
    return
  }
  const mode = rest[0]
  if (command === 'open' && target !== undefined && (mode === 'hints' || mode === 'scan')) {
    process.stdout.write(`${JSON.stringify(await openOnce(target, mode, layoutOf(rest[1], rest[2])))}\n`)
    return
  }
  throw new Error('usage: startup-child.ts load <root> <documents> <nodesPerDocument> [segmentSizeBytes] | open <dir> <hints|scan> <documents> <nodesPerDocument>')
}

await main()
