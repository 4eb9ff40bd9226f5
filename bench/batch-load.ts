/**
 * The batch-load benchmark: loading the benchmark's documents, each with its input nodes and their
 * outputs, with one atomic write per document, against SQLite committing 100 operations a
 * transaction and the disk's raw group-commit ceiling for the same bytes.
 *
 *   npm run bench:batch              # 10,000 documents of 10 inputs and 10 outputs (210,000 operations)
 *   npm run bench:batch -- --quick   # a twentieth of that, for a smoke test
 *
 * Systems, each in its own temporary folder, run interleaved in 10 rounds (see interleave.ts):
 *   - stratum-batch: one `store.batch()` a document (createProblem, addTestCase ×10,
 *     setExpectedOutput ×10: 21 operations, one unit of the log), 64 batches in flight, sync mode
 *     `always` (a batch is acknowledged once synced);
 *   - stratum-single: the same operations as 21 awaited writes a document, 64 documents at once:
 *     how the load was written before batches;
 *   - sqlite-full-batch100: better-sqlite3 (WAL, synchronous=FULL) committing every 100
 *     operations (a document's operations may straddle two transactions), one connection;
 *   - the disk ceiling: fs.write of 64 documents' bytes (as Stratum encodes them), then
 *     fdatasync, in a loop: what a log could sustain at 64 documents a group commit.
 * An operation is a document, an input or an output; the figures are operations a second.
 *
 * The benchmark only prints, asserting nothing about timings; it checks, outside the timed loops,
 * that every system holds what was written.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { limits, openStore, type Store } from '../src/engine/index.ts'
import { encodedValueBytes } from '../src/engine/values.ts'
import { generateDocument, metaPayloadBytes, sameValue, type GeneratedDocument } from './dataset.ts'
import { Ceiling, ceilingName } from './disk-ceiling.ts'
import { interleave, type Participant } from './interleave.ts'
import { formatCount, formatMicros, formatRatio, formatTable, runRange, type Summary } from './measure.ts'
import { SqliteSubject } from './subjects.ts'

const quick = process.argv.includes('--quick')
const config = {
  documents: quick ? 500 : 10_000,
  inputsPerDocument: 10,
  writers: 64,
  sqliteOperationsPerTransaction: 100,
  rounds: 10,
  ceilingSecondsPerRound: quick ? 0.05 : 0.4,
}
const operationsPerDocument = 1 + 2 * config.inputsPerDocument

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** The bytes Stratum writes for a document: its records, headers included. */
function stratumBytes(document: GeneratedDocument): number {
  const columns = Object.keys(document.meta).length
  // Metadata: a column count, then a length and the bytes of each name and value (varints of 1-2 bytes).
  const metaBytes = 2 + metaPayloadBytes(document.meta) + 4 * columns
  let bytes = 2 * limits.recordHeaderBytes + Buffer.byteLength(document.html) + metaBytes
  for (const value of [...document.inputs, ...document.outputs]) bytes += limits.recordHeaderBytes + encodedValueBytes(value)
  return bytes
}

async function loadBatch(store: Store, document: GeneratedDocument): Promise<number> {
  const batch = store.batch()
  const doc = batch.createProblem(document.html, document.meta)
  for (const [index, input] of document.inputs.entries()) batch.setExpectedOutput(doc, batch.addTestCase(doc, input), document.outputs[index]!)
  const [docId] = await batch.commit()
  return docId!
}

async function loadSingle(store: Store, document: GeneratedDocument): Promise<number> {
  const docId = await store.createProblem(document.html, document.meta)
  for (const [index, input] of document.inputs.entries()) {
    const tcId = await store.addTestCase(docId, input)
    await store.setExpectedOutput(docId, tcId, document.outputs[index]!)
  }
  return docId
}

/** Every document of `store` as `documents` says (ids in creation order). */
async function verify(name: string, store: Store, docIds: readonly number[], documents: readonly GeneratedDocument[]): Promise<void> {
  for (const [index, docId] of docIds.entries()) {
    const document = documents[index]!
    const page = await store.getAllTestCases(docId, { includeOutputs: true })
    const html = await store.getProblemHtml(docId)
    const ok =
      html === document.html &&
      page !== undefined &&
      page.testCases.length === document.inputs.length &&
      page.testCases.every((testCase, node) => sameValue(testCase.value, document.inputs[node]) && sameValue(testCase.output, document.outputs[node]))
    if (!ok) throw new Error(`${name}: document ${index} (id ${docId}) does not hold what was written`)
  }
}

function verifySqlite(subject: SqliteSubject, docIds: readonly number[], documents: readonly GeneratedDocument[]): void {
  for (const [index, docId] of docIds.entries()) {
    const chain = subject.getChain(docId)
    const document = documents[index]!
    const ok =
      chain !== undefined &&
      chain.html === document.html &&
      chain.testCases.length === document.inputs.length &&
      chain.testCases.every((testCase, node) => sameValue(testCase.value, document.inputs[node]) && sameValue(testCase.output, document.outputs[node]))
    if (!ok) throw new Error(`sqlite-full-batch100: document ${index} (id ${docId}) does not hold what was written`)
  }
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bench-batch-'))
  log(`benchmark folder: ${root}${quick ? ' (quick mode)' : ''}`)
  const documents = Array.from({ length: config.documents }, (_, index) => generateDocument(index, config.inputsPerDocument))
  const meanDocumentBytes = documents.reduce((sum, document) => sum + stratumBytes(document), 0) / documents.length
  const batchStore = await openStore({ dir: path.join(root, 'stratum-batch'), syncMode: 'always', compactionIntervalMs: 0 })
  const singleStore = await openStore({ dir: path.join(root, 'stratum-single'), syncMode: 'always', compactionIntervalMs: 0 })
  fs.mkdirSync(path.join(root, 'sqlite'))
  const sqlite = new SqliteSubject(path.join(root, 'sqlite'))
  // The ceiling's "records" are operations: a buffer of 64 documents' bytes per fdatasync.
  const ceiling = Ceiling.open(root, config.writers * operationsPerDocument, Math.ceil(meanDocumentBytes / operationsPerDocument))
  const batchIds: number[] = []
  const singleIds: number[] = []
  const sqliteIds: number[] = []
  try {
    let pendingInTransaction = 0
    /** Each system's slice: its documents `from` to `to`, timed per document, counted in operations. */
    const perDocument = (name: string, run: (from: number, to: number) => ReturnType<typeof runRange>): Participant => ({
      name,
      run: async (from, to) => {
        const sample = await run(from, to)
        return { ...sample, operations: sample.operations * operationsPerDocument }
      },
    })
    const participants: Participant[] = [
      perDocument('stratum-batch', (from, to) =>
        runRange(from, to, config.writers, async (index) => {
          batchIds[index] = await loadBatch(batchStore, documents[index]!)
        }),
      ),
      perDocument('stratum-single', (from, to) =>
        runRange(from, to, config.writers, async (index) => {
          singleIds[index] = await loadSingle(singleStore, documents[index]!)
        }),
      ),
      perDocument('sqlite-full-batch100', async (from, to) => {
        const sample = await runRange(from, to, 1, async (index) => {
          const document = documents[index]!
          if (pendingInTransaction === 0) sqlite.begin()
          // better-sqlite3 runs each statement at once; the awaits only unwrap the subject's promises.
          const docId = await sqlite.createDocument(document.html, document.meta)
          sqliteIds[index] = docId
          for (const [node, input] of document.inputs.entries()) await sqlite.setOutput(docId, await sqlite.addInput(docId, input), document.outputs[node]!)
          pendingInTransaction += operationsPerDocument
          if (pendingInTransaction >= config.sqliteOperationsPerTransaction) {
            sqlite.commit()
            pendingInTransaction = 0
          }
        })
        if (pendingInTransaction > 0) {
          // The round's last, partial transaction, timed with it.
          const started = performance.now()
          sqlite.commit()
          pendingInTransaction = 0
          sample.elapsedSeconds += (performance.now() - started) / 1000
        }
        return sample
      }),
      ceiling.participant(ceilingName(ceiling.recordsPerSync), config.ceilingSecondsPerRound),
    ]
    const summaries = await interleave('load', config.documents, participants, config.rounds, log)
    await verify('stratum-batch', batchStore, batchIds, documents)
    await verify('stratum-single', singleStore, singleIds, documents)
    verifySqlite(sqlite, sqliteIds, documents)
    report(summaries, meanDocumentBytes)
  } finally {
    ceiling.close()
    await batchStore.close()
    await singleStore.close()
    await sqlite.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
}

function report(summaries: Map<string, Summary>, meanDocumentBytes: number): void {
  const batch = summaries.get('stratum-batch')!
  const rows = [...summaries].map(([name, summary]) => [
    name,
    formatCount(summary.opsPerSecond),
    formatCount(summary.opsPerSecond / operationsPerDocument),
    formatMicros(summary.p50Micros),
    formatMicros(summary.p99Micros),
    formatRatio(batch.opsPerSecond / summary.opsPerSecond),
  ])
  console.log(
    `\nLoading ${config.documents} documents (${operationsPerDocument} operations each, ~${Math.round(meanDocumentBytes)} B as Stratum writes them), ` +
      `${config.writers} in flight where the system allows it:`,
  )
  console.log(formatTable(['system', 'operations/s', 'documents/s', 'p50', 'p99', 'stratum-batch ÷ it'], rows, ['left', 'right', 'right', 'right', 'right', 'right'], true))
  console.log('p50 and p99: per document for the Stratum loads and SQLite, per fdatasync for the ceiling.')
  const sqlite = summaries.get('sqlite-full-batch100')!
  const ceiling = [...summaries].find(([name]) => name.startsWith('disk ceiling'))![1]
  const aim = (label: string, ratio: number, wanted: number): string => `${label}: ${formatRatio(ratio)} (aim ≥ ${wanted}×: ${ratio >= wanted ? 'met' : 'NOT met'})`
  console.log(aim('stratum-batch ÷ sqlite-full-batch100', batch.opsPerSecond / sqlite.opsPerSecond, 2))
  console.log(aim('stratum-batch ÷ disk ceiling', batch.opsPerSecond / ceiling.opsPerSecond, 0.5))
}

await main()
