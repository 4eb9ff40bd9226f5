/**
 * The batch crash loop: start the batch writer (batch-writer.ts) on a store, kill it with SIGKILL
 * at a random moment, reopen the store, and check that every batch is there whole or not at all:
 * every problem holds exactly the test cases and outputs its batch wrote, every acknowledged
 * batch is there, and nothing is there that no batch wrote. Then again, on the same store.
 *
 *   npm run crash:batch -- --kills 500 [--seed 7]
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openStore } from '../../src/engine/store.ts'
import { batchValue, outputOffset, type BatchWriterArgs } from './batch-writer.ts'
import { seededRandom } from './ops.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoDir = path.resolve(here, '..', '..')

export interface BatchCrashResult {
  kills: number
  /** Batches acknowledged before their kill, all found whole. */
  acknowledged: number
  /** Batches committed but not acknowledged at their kill, and of those, how many were found (whole). */
  inFlight: number
  inFlightFound: number
  violations: string[]
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Runs the writer until it prints `ready`, then for `runMs`, then kills it. */
async function killedWriter(args: BatchWriterArgs, runMs: number): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'batch-writer.ts'), JSON.stringify(args)], {
    cwd: repoDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`the batch writer exited (${code}) before it was ready: ${stderr}`)))
  })
  await sleep(runMs)
  child.kill('SIGKILL')
  await exited
  return stderr
}

export async function runBatchCrashLoop(options: { kills: number; seed: number; dir?: string }): Promise<BatchCrashResult> {
  const random = seededRandom(options.seed)
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-batch-crash-'))
  const result: BatchCrashResult = { kills: 0, acknowledged: 0, inFlight: 0, inFlightFound: 0, violations: [] }
  /** Every batch's size k, by number, and the id of those acknowledged. */
  const sizes = new Map<number, number>()
  const acknowledgedIds = new Map<number, number>()
  try {
    for (let round = 0; round < options.kills; round++) {
      const logPath = path.join(dir, `round-${round}.log`)
      const stderr = await killedWriter(
        { dir: path.join(dir, 'store'), logPath, seed: Math.floor(random() * 2 ** 31), firstBatch: round * 1_000_000 + 1, concurrency: 16, segmentSizeBytes: 64 * 1024 },
        30 + Math.floor(random() * 400),
      )
      if (stderr.trim() !== '') result.violations.push(`round ${round}: the writer wrote to stderr: ${stderr.slice(0, 500)}`)
      result.kills++
      const inFlight = new Set<number>()
      for (const line of fs.readFileSync(logPath, 'utf8').split('\n')) {
        // The last line may be cut by the kill: it is ignored.
        let entry: { t: string; batch: number; k?: number; id?: number }
        try {
          entry = JSON.parse(line) as typeof entry
        } catch {
          continue
        }
        if (entry.t === 'I') {
          sizes.set(entry.batch, entry.k!)
          inFlight.add(entry.batch)
        } else {
          acknowledgedIds.set(entry.batch, entry.id!)
          inFlight.delete(entry.batch)
          result.acknowledged++
        }
      }
      result.inFlight += inFlight.size
      result.violations.push(...(await checkStore(path.join(dir, 'store'), sizes, acknowledgedIds, inFlight, result)).map((v) => `round ${round}: ${v}`))
      if (result.violations.length > 0) break
    }
  } finally {
    if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true })
  }
  return result
}

async function checkStore(
  dir: string,
  sizes: ReadonlyMap<number, number>,
  acknowledgedIds: ReadonlyMap<number, number>,
  inFlight: ReadonlySet<number>,
  result: BatchCrashResult,
): Promise<string[]> {
  const violations: string[] = []
  const store = await openStore({ dir, compactionIntervalMs: 0 })
  try {
    const found = new Map<number, number>()
    let afterId: number | undefined
    for (;;) {
      const page = await store.listProblems(afterId === undefined ? {} : { afterId })
      for (const id of page.ids) {
        const meta = (await store.getProblemMeta(id))!
        const n = Number(meta.batch)
        const k = sizes.get(n)
        if (k === undefined) {
          violations.push(`problem ${id} names batch ${meta.batch}, which no batch wrote`)
          continue
        }
        if (found.has(n)) violations.push(`batch ${n} is there twice: problems ${found.get(n)} and ${id}`)
        found.set(n, id)
        const html = await store.getProblemHtml(id)
        if (meta.size !== String(k) || !html!.startsWith(`<p>batch ${n}</p>`)) violations.push(`problem ${id} of batch ${n}: metadata or text not the batch's`)
        const testCases = (await store.getAllTestCases(id, { includeOutputs: true }))!.testCases
        const whole =
          testCases.length === k &&
          testCases.every(
            (testCase, index) =>
              testCase.value.type === 'int64' &&
              testCase.value.value === batchValue(n, index) &&
              testCase.output?.type === 'int64' &&
              testCase.output.value === batchValue(n, index) + outputOffset,
          )
        if (!whole) violations.push(`problem ${id} of batch ${n} holds ${testCases.length} test cases of ${k}, or not the batch's values and outputs: a batch applied in part`)
      }
      if (page.nextAfterId === undefined) break
      afterId = page.nextAfterId
    }
    for (const [n, id] of acknowledgedIds) {
      if (found.get(n) !== id) violations.push(`batch ${n} was acknowledged (problem ${id}) but is ${found.has(n) ? `problem ${found.get(n)}` : 'missing'}`)
    }
    for (const n of inFlight) if (found.has(n)) result.inFlightFound++
  } finally {
    await store.close()
  }
  return violations
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flag = (name: string, fallback: number): number => {
    const index = process.argv.indexOf(`--${name}`)
    return index === -1 ? fallback : Number(process.argv[index + 1])
  }
  const result = await runBatchCrashLoop({ kills: flag('kills', 100), seed: flag('seed', 1) })
  console.log(
    `batch crash: ${result.kills} kills, ${result.acknowledged} batches acknowledged (all found whole), ` +
      `${result.inFlight} in flight at a kill (${result.inFlightFound} of them found, whole; the rest absent), ${result.violations.length} violations`,
  )
  for (const violation of result.violations.slice(0, 20)) console.log(`  ${violation}`)
  process.exit(result.violations.length === 0 ? 0 : 1)
}
