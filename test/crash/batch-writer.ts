/**
 * The child process of the batch crash test: uploads problems as atomic batches until it is
 * killed.
 *
 *   node --import tsx test/crash/batch-writer.ts '{"dir":..., "logPath":..., "seed":..., "firstBatch":...}'
 *
 * Each batch creates one problem with k test cases and k outputs (k from 1 to 60), every value
 * derived from the batch's number, so that what the store holds tells which batch wrote it and
 * whether all of it is there. `concurrency` batches are in flight at once, so a group commit
 * holds several batches, often more than one writev can carry (IOV_MAX), and the segments are
 * small, so that batches also start new segments. The log gets a line, written synchronously,
 * when a batch is committed ({"t":"I","batch":n,"k":k}) and when it is acknowledged
 * ({"t":"A","batch":n,"id":docId}); the page cache keeps it across the kill.
 */
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { openStore } from '../../src/engine/store.ts'
import { int64 } from '../../src/engine/values.ts'
import { seededRandom } from './ops.ts'

export interface BatchWriterArgs {
  dir: string
  logPath: string
  seed: number
  firstBatch: number
  concurrency: number
  segmentSizeBytes: number
}

/** The value of test case `index` of batch `batch` (its output adds outputOffset). */
export function batchValue(batch: number, index: number): bigint {
  return BigInt(batch) * 1000n + BigInt(index)
}
export const outputOffset = 500n
export const maxTestCases = 60

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as BatchWriterArgs
  const random = seededRandom(args.seed)
  const logFd = fs.openSync(args.logPath, 'a')
  const log = (entry: object): void => {
    fs.writeSync(logFd, `${JSON.stringify(entry)}\n`)
  }
  const store = await openStore({ dir: args.dir, syncMode: 'always', segmentSizeBytes: args.segmentSizeBytes, compactionIntervalMs: 0, onWarning: () => undefined })
  process.stdout.write('ready\n')
  let next = args.firstBatch
  const loop = async (): Promise<void> => {
    // Runs until the process is killed.
    for (;;) {
      const n = next++
      const k = 1 + Math.floor(random() * maxTestCases)
      const batch = store.batch()
      const doc = batch.createProblem(`<p>batch ${n}</p>${'x'.repeat(Math.floor(random() * 3000))}`, { batch: String(n), size: String(k) })
      for (let index = 0; index < k; index++) {
        const tc = batch.addTestCase(doc, int64(batchValue(n, index)))
        batch.setExpectedOutput(doc, tc, int64(batchValue(n, index) + outputOffset))
      }
      log({ t: 'I', batch: n, k })
      const [id] = await batch.commit()
      log({ t: 'A', batch: n, id })
    }
  }
  for (let index = 0; index < args.concurrency; index++) {
    loop().catch((error: unknown) => {
      process.stderr.write(`batch-writer: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(3)
    })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
