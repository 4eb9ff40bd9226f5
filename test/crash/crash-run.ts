/**
 * The crash loop: start the writer (crash-writer.ts) on a store, kill it with SIGKILL at a random
 * moment, reopen the store here and check it against the writer's acknowledgement log
 * (checker.ts), then start the next round on top of the same, recovered store.
 *
 *   npm run crash -- --kills 1000 [--seed 42] [--verbose]
 *
 * Every round must find: the store opens; no damage is reported (a kill can only tear the tail);
 * every acknowledged write is there with its latest acknowledged value or a later one that was in
 * flight; no acknowledged deletion is undone; the state is a prefix of the write order; lists
 * and point reads agree, chains are in id order. Exits with status 1 on any violation.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { openStore } from '../../src/engine/store.ts'
import { isDeepStrictEqual } from 'node:util'
import { foldChanges, sortedPlain, watchRound, type WatchedRound } from './change-fold.ts'
import { checkRound, observeStore, type Snapshot } from './checker.ts'
import { opBaseOfRound, parseLog, seededRandom } from './ops.ts'
import type { WriterArgs } from './crash-writer.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '../..')
const writerPath = path.join(here, 'crash-writer.ts')

export interface CrashLoopOptions {
  kills: number
  seed?: number
  /** How long the writer runs once ready before it is killed: a random time in this range. */
  minRunMs?: number
  maxRunMs?: number
  segmentSizeBytes?: number
  /** When the store folder grows past this, the next round starts a new store. */
  maxStoreBytes?: number
  /**
   * Share of rounds in which the writer runs a background compactor that wakes every 20 ms (and
   * compacts at 10% garbage), run for 0.8 to 2 s instead, so that kills land inside compactions.
   */
  compactionShare?: number
  /** Share of rounds killed while the writer opens the store (during recovery) instead. */
  killDuringOpenShare?: number
  /**
   * A deliberate defect, to show that the check can fail: after each kill, cut this many bytes off
   * the newest segment, as a power cut would if the engine acknowledged writes before syncing them.
   */
  loseTailBytesAfterKill?: number
  /** Progress lines. */
  onProgress?: (line: string) => void
}

export interface CrashLoopResult {
  kills: number
  violations: string[]
  intents: number
  acknowledged: number
  failed: number
  inFlight: number
  inFlightApplied: number
  tornTails: number
  killsDuringOpen: number
  /** Rounds run with a background compactor, and compactions found finished by the next open. */
  compactingRounds: number
  compactionsFinishedByOpen: number
  /** Changes read back from the log after the kills, and watches a compaction's cut refused. */
  watchedChanges: number
  watchesReclaimed: number
  removedTemporaryFiles: number
  generations: number
  segmentsCreated: number
  documents: number
  inputNodes: number
  durationMs: number
  summary: string
  /** Where the store and logs were kept after a violation. */
  keptDir?: string
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface RunningWriter {
  /** Resolves true when the writer printed `line`, false when it exited first. */
  waitFor(line: string, timeoutMs: number): Promise<boolean>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  hasExited(): boolean
  kill(): void
  stderr(): string
}

/**
 * How to start the writer: bundled into one plain .mjs file with esbuild when it is available (a
 * child then starts in ~0.2 s instead of ~0.7 s with the tsx loader), else through tsx. The bundle
 * goes under node_modules/.cache so that its package imports resolve; `dispose` removes it.
 */
async function prepareWriter(): Promise<{ nodeArgs: string[]; dispose: () => void }> {
  const fallback = { nodeArgs: ['--import', 'tsx', writerPath], dispose: () => undefined }
  const outfile = path.join(repoRoot, 'node_modules', '.cache', 'stratum-crash', `crash-writer-${process.pid}-${Date.now()}.mjs`)
  try {
    // esbuild comes with tsx; it is imported by a computed name so that type checks do not need it.
    const name = 'esbuild'
    const esbuild = (await import(name)) as { build(options: Record<string, unknown>): Promise<unknown> }
    await esbuild.build({
      entryPoints: [writerPath],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'silent',
    })
  } catch {
    return fallback
  }
  return { nodeArgs: [outfile], dispose: () => fs.rmSync(outfile, { force: true }) }
}

function startWriter(nodeArgs: readonly string[], args: WriterArgs): RunningWriter {
  const child = spawn(process.execPath, [...nodeArgs, JSON.stringify(args)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let done = false
  const listeners = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const listener of listeners) listener()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true
      for (const listener of listeners) listener()
      resolve({ code, signal })
    })
  })
  return {
    waitFor: (line, timeoutMs) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), timeoutMs)
        const check = (): void => {
          if (stdout.split('\n').includes(line)) finish(true)
          else if (done) finish(false)
        }
        function finish(result: boolean): void {
          clearTimeout(timer)
          listeners.delete(check)
          resolve(result)
        }
        listeners.add(check)
        check()
      }),
    exited,
    hasExited: () => done,
    kill: () => child.kill('SIGKILL'),
    stderr: () => stderr,
  }
}

function folderBytes(dir: string): number {
  let total = 0
  for (const name of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, name)).size
  return total
}

function newestSegmentNumber(dir: string): number {
  let newest = 0
  for (const name of fs.readdirSync(dir)) {
    const match = /^(\d{12})\.seg$/.exec(name)
    if (match !== null) newest = Math.max(newest, Number(match[1]))
  }
  return newest
}

export async function runCrashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const started = performance.now()
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const random = seededRandom(seed)
  const minRunMs = options.minRunMs ?? 50
  const maxRunMs = options.maxRunMs ?? 400
  const segmentSizeBytes = options.segmentSizeBytes ?? 64 * 1024
  const maxStoreBytes = options.maxStoreBytes ?? 48 * 1024 * 1024
  const killDuringOpenShare = options.killDuringOpenShare ?? 0.08
  const compactionShare = options.compactionShare ?? 0.3
  const progress = options.onProgress ?? (() => undefined)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-crash-'))
  const result: CrashLoopResult = {
    kills: 0,
    violations: [],
    intents: 0,
    acknowledged: 0,
    failed: 0,
    inFlight: 0,
    inFlightApplied: 0,
    tornTails: 0,
    killsDuringOpen: 0,
    compactingRounds: 0,
    compactionsFinishedByOpen: 0,
    watchedChanges: 0,
    watchesReclaimed: 0,
    removedTemporaryFiles: 0,
    generations: 1,
    segmentsCreated: 0,
    documents: 0,
    inputNodes: 0,
    durationMs: 0,
    summary: '',
  }
  let generation = 1
  let dir = path.join(work, `store-${generation}`)
  let base: Snapshot = new Map()
  /** The store's revision when the round started: its changes are those after it. */
  let revisionBefore = 0
  let keepWork = false
  const writer = await prepareWriter()

  try {
    for (let round = 1; round <= options.kills; round++) {
      const logPath = path.join(work, `acks-${round}.jsonl`)
      const violation = (message: string): void => {
        result.violations.push(`round ${round} (seed ${seed}): ${message}`)
      }
      const roundStarted = performance.now()
      const compacting = random() < compactionShare
      if (compacting) result.compactingRounds++
      const child = startWriter(writer.nodeArgs, {
        dir,
        logPath,
        seed: Math.floor(random() * 2 ** 31),
        concurrency: 8 + Math.floor(random() * 9),
        opBase: opBaseOfRound(round),
        segmentSizeBytes,
        compactionIntervalMs: compacting ? 20 : 0,
      })
      const duringOpen = random() < killDuringOpenShare
      const marker = duringOpen ? 'opening' : 'ready'
      if (!(await child.waitFor(marker, 60_000))) {
        child.kill()
        const exit = await child.exited
        violation(`the writer did not get to "${marker}" (exit ${exit.code ?? exit.signal}): ${child.stderr().slice(0, 2000)}`)
        break
      }
      const startMs = performance.now() - roundStarted
      await sleep(duringOpen ? random() * 15 : compacting ? 800 + random() * 1200 : minRunMs + random() * (maxRunMs - minRunMs))
      if (child.hasExited()) {
        const exit = await child.exited
        violation(`the writer stopped by itself (exit ${exit.code ?? exit.signal}): ${child.stderr().slice(0, 2000)}`)
        break
      }
      child.kill()
      const exit = await child.exited
      if (exit.signal !== 'SIGKILL') {
        violation(`the writer ended with ${exit.code ?? exit.signal}, not by the kill: ${child.stderr().slice(0, 2000)}`)
        break
      }
      const killedAt = performance.now()
      result.kills++
      if (duringOpen) result.killsDuringOpen++

      if (options.loseTailBytesAfterKill !== undefined) {
        const newest = path.join(dir, `${String(newestSegmentNumber(dir)).padStart(12, '0')}.seg`)
        if (fs.existsSync(newest)) {
          // Cut before the end of the records, not of the file: the writer keeps zeros ahead of
          // its last record (see segment-writer.ts), and cutting those would lose nothing.
          const contents = fs.readFileSync(newest)
          let recordsEnd = contents.length
          while (recordsEnd > 16 && contents[recordsEnd - 1] === 0) recordsEnd--
          fs.truncateSync(newest, Math.max(16, recordsEnd - options.loseTailBytesAfterKill))
        }
      }
      const log = parseLog(fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '')
      let store
      try {
        // Damage is checked below from stats(); the warnings would only repeat it.
        store = await openStore({ dir, segmentSizeBytes, onWarning: () => undefined })
      } catch (error) {
        violation(`the store did not open after the kill: ${error instanceof Error ? error.stack : String(error)}`)
        break
      }
      const recovery = (await store.stats()).lastRecovery
      if (recovery.damagedRecordCount > 0 || recovery.damagedRangeCount > 0) {
        violation(
          `a kill can only tear the tail, but recovery reports damage: ${JSON.stringify({
            damagedRecords: recovery.damagedRecords.slice(0, 5),
            damagedRanges: recovery.damagedRanges.slice(0, 5),
          })}`,
        )
      }
      if (recovery.tornTail !== null) result.tornTails++
      result.removedTemporaryFiles += recovery.removedTemporaryFiles.length
      if (recovery.finishedCompaction !== null) result.compactionsFinishedByOpen++

      // Read by id everything the round could have touched, listed or not.
      const docIds = new Set(base.keys())
      const testCases: Array<[number, number]> = []
      for (const [docId, doc] of base) for (const tcId of doc.testCases.keys()) testCases.push([docId, tcId])
      const intentsByOp = new Map<number, { kind: string; doc?: number }>()
      for (const entry of log.entries) {
        if (entry.t === 'I') {
          intentsByOp.set(entry.op, entry)
          if (entry.doc !== undefined) docIds.add(entry.doc)
          if (entry.doc !== undefined && entry.tc !== undefined) testCases.push([entry.doc, entry.tc])
        } else if (entry.t === 'A' && entry.id !== undefined) {
          const intent = intentsByOp.get(entry.op)
          if (intent?.kind === 'createProblem') docIds.add(entry.id)
          else if (intent?.doc !== undefined) testCases.push([intent.doc, entry.id])
        }
      }
      let observation
      let watched: WatchedRound
      let revisionAfter: number
      try {
        observation = await observeStore(store, { docIds, testCases })
        // The round's changes, read back from the log (the history in memory is empty after an open).
        watched = await watchRound(store, revisionBefore + 1)
        revisionAfter = store.revision
      } finally {
        await store.close()
      }
      for (const problem of observation.problems) violation(problem)
      if (watched.kind === 'reclaimed') {
        // Only a compaction reclaims history, and a round without one cuts nothing of its own.
        if (!compacting) violation(`a watch from revision ${revisionBefore + 1} failed in a round without compaction: ${watched.why}`)
        result.watchesReclaimed++
      } else {
        try {
          const folded = foldChanges(base, watched.events)
          if (!isDeepStrictEqual(sortedPlain(folded), sortedPlain(observation.snapshot))) {
            violation(
              `the changes read back from the log (${watched.events.length} from revision ${revisionBefore + 1}) do not give the state recovery rebuilt: ` +
                `${JSON.stringify(sortedPlain(folded)).slice(0, 1000)} vs ${JSON.stringify(sortedPlain(observation.snapshot)).slice(0, 1000)}`,
            )
          }
        } catch (error) {
          violation(`the changes read back from the log do not fold onto the round's start: ${String(error)}`)
        }
        result.watchedChanges += watched.events.length
      }
      revisionBefore = revisionAfter
      const check = checkRound(base, log, observation.snapshot)
      for (const message of check.violations) violation(message)
      result.intents += check.intents
      result.acknowledged += check.acknowledged
      result.failed += check.failed
      result.inFlight += check.inFlight
      result.inFlightApplied += check.inFlightApplied
      base = observation.snapshot
      result.documents = base.size
      result.inputNodes = [...base.values()].reduce((sum, doc) => sum + doc.testCases.size, 0)
      const roundLine =
        `round ${round}: ${check.acknowledged}/${check.intents} writes acknowledged, ${check.inFlight} in flight ` +
        `(${check.inFlightApplied} applied), cut ${check.cut === undefined ? 'none' : `${check.cut.min}..${check.cut.max}`}, ` +
        `torn tail ${recovery.tornTail === null ? 'no' : `${recovery.tornTail.droppedBytes} bytes`}${duringOpen ? ', killed while opening' : ''}; ` +
        `writer start ${startMs.toFixed(0)} ms, check ${(performance.now() - killedAt).toFixed(0)} ms`
      progress(roundLine)
      if (result.violations.length > 0) {
        keepWork = true
        result.keptDir = work
        break
      }
      fs.rmSync(logPath)
      if (folderBytes(dir) > maxStoreBytes) {
        result.segmentsCreated += newestSegmentNumber(dir)
        fs.rmSync(dir, { recursive: true, force: true })
        generation++
        result.generations = generation
        dir = path.join(work, `store-${generation}`)
        base = new Map()
        revisionBefore = 0
      }
    }
    if (fs.existsSync(dir)) result.segmentsCreated += newestSegmentNumber(dir)
  } finally {
    writer.dispose()
    if (!keepWork) fs.rmSync(work, { recursive: true, force: true })
  }
  result.durationMs = performance.now() - started
  result.summary =
    `crash: ${result.kills} kills (${result.killsDuringOpen} while opening), ${result.violations.length} violations; ` +
    `writes: ${result.intents} issued, ${result.acknowledged} acknowledged, ${result.failed} refused, ` +
    `${result.inFlight} in flight at a kill (${result.inFlightApplied} of them found applied); ` +
    `torn tails truncated: ${result.tornTails}; temporary files removed: ${result.removedTemporaryFiles}; ` +
    `rounds with background compaction: ${result.compactingRounds} (${result.compactionsFinishedByOpen} compactions finished by the next open); ` +
    `changes read back from the log: ${result.watchedChanges} (${result.watchesReclaimed} rounds' reclaimed by a compaction); ` +
    `segments: ${result.segmentsCreated} in ${result.generations} store(s); final store: ${result.documents} documents, ` +
    `${result.inputNodes} input nodes; seed ${seed}; ${(result.durationMs / 1000).toFixed(1)} s`
  return result
}

function parseArgs(argv: string[]): { kills: number; seed: number | undefined; verbose: boolean } {
  let kills = 100
  let seed: number | undefined
  let verbose = false
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!
    if (arg === '--kills') kills = Number(argv[++index])
    else if (arg === '--seed') seed = Number(argv[++index])
    else if (arg === '--verbose') verbose = true
    else throw new Error(`unknown argument ${arg}; usage: crash-run.ts [--kills N] [--seed S] [--verbose]`)
  }
  if (!Number.isInteger(kills) || kills < 1) throw new Error('--kills needs a positive integer')
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error('--seed needs an integer')
  return { kills, seed, verbose }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = parseArgs(process.argv.slice(2))
  const result = await runCrashLoop({
    kills: args.kills,
    seed: args.seed,
    onProgress: (line) => {
      if (args.verbose || /round \d*(00|50):/.test(line)) console.log(line)
    },
  })
  for (const violation of result.violations) console.error(`VIOLATION ${violation}`)
  if (result.keptDir !== undefined) console.error(`the store and logs are kept in ${result.keptDir}`)
  console.log(result.summary)
  process.exit(result.violations.length === 0 ? 0 : 1)
}
