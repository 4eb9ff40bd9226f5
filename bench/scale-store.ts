/**
 * The store of the scale benchmark, shared with the startup section of the engine benchmark:
 * documents of `nodesPerDocument` input nodes holding small int64s, loaded with syncMode 'none'
 * and one flush at the end (what is measured with it is the size a store can reach and how it
 * opens and reads there, not durable write throughput).
 */
import fs from 'node:fs'
import path from 'node:path'
import { int64, openStore, type StoreOptions } from '../src/engine/index.ts'
import { formatBytes } from './measure.ts'
import { splitmix32 } from './prng.ts'

export const seed = 0x5ca1e

/** The value written to node `position` of document `document`: a small int64. */
export function nodeValue(document: number, position: number): bigint {
  return BigInt(splitmix32(Math.imul(document, 1009) ^ splitmix32(position + seed)))
}

function documentHtml(document: number): string {
  return `<p>Problem ${document}: read two integers and print their sum.</p>`
}

export function documentMeta(document: number): Record<string, string> {
  return { title: `Problem ${document}`, difficulty: ['easy', 'medium', 'hard'][document % 3]!, tags: 'math,implementation' }
}

export interface Layout {
  documents: number
  nodesPerDocument: number
}

/** Where the ids the store issued are kept between the loading process and the reading one. */
export function idsPath(root: string): string {
  return path.join(root, 'ids.bin')
}

export function storeDir(root: string): string {
  return path.join(root, 'store')
}

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

export interface LoadReport {
  loadSeconds: number
  nodes: number
  diskBytes: number
  liveBytes: number
  segmentCount: number
}

export interface LoadOptions {
  /** Write the ids issued to `idsPath(root)`. @defaultValue true */
  writeIds?: boolean
  /** The store's segment size. @defaultValue the engine's (64 MiB) */
  segmentSizeBytes?: number
}

/**
 * Loads the store in `storeDir(root)`, 16 documents at a time (created concurrently, then all
 * their nodes issued at once), with the background compactor off; then writes the ids issued.
 */
export async function load(root: string, layout: Layout, options: LoadOptions = {}): Promise<LoadReport> {
  const { documents, nodesPerDocument } = layout
  const docIds = new Float64Array(documents)
  const tcIds = new Float64Array(documents * nodesPerDocument)
  const storeOptions: StoreOptions = { dir: storeDir(root), syncMode: 'none', compactionIntervalMs: 0 }
  if (options.segmentSizeBytes !== undefined) storeOptions.segmentSizeBytes = options.segmentSizeBytes
  const store = await openStore(storeOptions)
  const batchDocuments = 16
  const started = performance.now()
  let nextReport = 0.1
  // Each batch creates its documents concurrently, then issues all their nodes at once.
  for (let first = 0; first < documents; first += batchDocuments) {
    const last = Math.min(documents, first + batchDocuments)
    const created: Promise<number>[] = []
    for (let document = first; document < last; document++) created.push(store.createProblem(documentHtml(document), documentMeta(document)))
    const ids = await Promise.all(created)
    const added: Promise<number>[] = []
    for (let document = first; document < last; document++) {
      const docId = ids[document - first]!
      docIds[document] = docId
      for (let position = 0; position < nodesPerDocument; position++) {
        added.push(store.addTestCase(docId, int64(nodeValue(document, position))))
      }
    }
    tcIds.set(await Promise.all(added), first * nodesPerDocument)
    if (last / documents >= nextReport) {
      const seconds = (performance.now() - started) / 1000
      log(`  loaded ${(last * nodesPerDocument).toLocaleString('en-US')} nodes in ${seconds.toFixed(0)} s (heap ${formatBytes(process.memoryUsage().heapUsed)})`)
      nextReport += 0.1
    }
  }
  await store.flush()
  const loadSeconds = (performance.now() - started) / 1000
  const stats = await store.stats()
  await store.close()
  if (options.writeIds ?? true) {
    const file = fs.openSync(idsPath(root), 'w')
    try {
      fs.writeSync(file, new Uint8Array(docIds.buffer))
      // Written in pieces: one write call takes at most 2 GiB.
      const bytes = new Uint8Array(tcIds.buffer)
      for (let offset = 0; offset < bytes.length; offset += 1 << 30) fs.writeSync(file, bytes.subarray(offset, offset + (1 << 30)))
    } finally {
      fs.closeSync(file)
    }
  }
  return { loadSeconds, nodes: stats.inputNodes, diskBytes: stats.diskBytes, liveBytes: stats.liveBytes, segmentCount: stats.segmentCount }
}
