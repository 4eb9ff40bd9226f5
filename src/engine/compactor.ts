/**
 * The compactor: decides when and what to compact, plans the copy on the main thread, has the
 * worker (compaction-worker.ts) write the merged segments, then commits them and switches the
 * keydir over. See docs/format.md#compaction for the on-disk protocol and its crash analysis.
 *
 * A compaction, step by step (`CompactionStep` names the points between them):
 *   1. Choose the inputs: sealed, undamaged segments; all of them for `compactNow()` (which first
 *      seals the active segment), or those with the most garbage for a background run.
 *   2. Plan, a slice of the keydir at a time between requests: every live record in an input, in
 *      document order (blob, metadata, then each input node with its output), for locality.
 *   3. Reserve output numbers: the writer seals the active segment and skips the numbers, so that
 *      outputs sort below the new active segment, which recovery must find as the newest.
 *   4. The worker copies the live records (checking each checksum) and the tombstones still
 *      needed into `N.seg.tmp` files with their hints, synced; the folder is synced.
 *   5. Commit: the commit file is written (compaction-commit.ts). From here on the compaction
 *      is decided, and a crash is finished by the next open.
 *   6. The outputs are renamed into place; the keydir is switched over, a slice at a time, for
 *      each entry that still points where the plan found it (a write meanwhile moved the others).
 *   7. The inputs are removed, their hints first, and the commit file last.
 * A failure before 5 leaves the store as it was (the temporary files are removed); a failure
 * after it fails the store closed, to be reopened, which finishes the compaction from the commit.
 *
 * Tombstones: an input's tombstone is dropped only when every segment outside the compaction
 * holds only records newer than it (its `minSeq` is higher), so that no record it deletes can
 * remain anywhere: the inputs go, and the outputs hold only live records. A document's tombstone
 * deletes its nodes too, which were all written before it, so the same test covers them.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import {
  commitFileName,
  installOutputs,
  prepareCommitFile,
  publishCommitFile,
  removeCommitFile,
  removeSegmentFiles,
  type CompactionCommit,
} from './compaction-commit.ts'
import type { CompactionJob, WorkerReply } from './compaction-protocol.ts'
import type { CompactionResult, CompactionStats } from './compaction-result.ts'
import type { BlockCache } from './block-cache.ts'
import { compact } from './compaction-job.ts'
import { failureOf, StratumError } from './errors.ts'
import { nodeFileSystem, syncDirectoryAsync } from './file-system.ts'
import { hintFileName } from './hint-file.ts'
import type { Column, Keydir, Location } from './keydir.ts'
import {
  compactionInputMaxBytes,
  compactionSegmentDeadShareMin,
  compactionSmallSegmentShare,
  recordHeaderBytes,
  segmentHeaderBytes,
} from './limits.ts'
import { readUint53 } from './record.ts'
import { segmentFileName, segmentFormatVersion, segmentPath } from './segment-file.ts'
import type { SegmentFiles } from './segment-files.ts'
import type { SealedHints } from './sealed-hints.ts'
import type { SegmentStatsTable } from './segment-stats.ts'
import type { SegmentWriter } from './segment-writer.ts'
import type { ResolvedStoreOptions } from './store-options.ts'

/** The points between the steps of a compaction, in order (see the module comment). */
export type CompactionStep =
  | 'planned'
  | 'outputs-writing'
  | 'outputs-written'
  | 'outputs-synced'
  | 'committed'
  | 'outputs-installed'
  | 'switched'
  | 'input-removed'
  | 'inputs-removed'
  | 'done'

/** Time the main thread spends on one slice of planning or switching before it lets requests in. */
const sliceMs = 4

export interface CompactorDeps {
  options: ResolvedStoreOptions
  keydir: Keydir
  files: SegmentFiles
  writer: SegmentWriter
  cache: BlockCache
  segmentStats: SegmentStatsTable
  /** Hints being written for sealed segments: those of inputs must be done before inputs go. */
  sealedHints: SealedHints
  /**
   * Encodes an idWatermark record, taking a sequence number for it; `inputsMaxSeq` is the newest
   * write the compaction's inputs hold (0 when none), which it records as its history cut.
   */
  makeWatermark: (inputsMaxSeq: number) => Buffer
  /** A compaction is committed: the changes up to `revision` (its history cut) are no longer all in the log. */
  historyCut: (revision: number) => void
  warn: (message: string, details: Record<string, unknown>) => void
}

/**
 * The worker thread's entry, beside this module. Compiled, that is compaction-worker.js. Run from
 * the TypeScript sources (the tests, under tsx), a worker thread does not inherit the loader of
 * the thread that starts it, so its entry is compaction-worker.mjs, which registers tsx first.
 */
const compactionWorkerUrl = new URL(
  import.meta.url.endsWith('.ts') ? './compaction-worker.mjs' : './compaction-worker.js',
  import.meta.url,
)

/** Entries in one block of a `CopyPlan`. */
const planBlockEntries = 64 * 1024

/** A Float64Array over shared memory: posted to the worker without a copy. */
function sharedFloat64Array(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT))
}

/** One block of a plan: `planBlockEntries` records at most. */
interface PlanBlock {
  count: number
  /** Read by the worker: in shared memory, so that posting them copies nothing. */
  segments: Float64Array
  offsets: Float64Array
  sizes: Float64Array
  locals: Uint32Array
  /** 0 for column a, 1 for column b. */
  columns: Uint8Array
}

/**
 * The live records of the inputs to copy, in order, in blocks of fixed size: a plan of millions
 * of records grows without ever copying itself (a copy of tens of megabytes would block the event
 * loop for as long), and the blocks the worker reads are posted to it without a copy.
 */
class CopyPlan {
  readonly blocks: PlanBlock[] = []
  count = 0

  push(segmentNumber: number, offset: number, sizeBytes: number, local: number, column: Column): void {
    let block = this.blocks[this.blocks.length - 1]
    if (block === undefined || block.count === planBlockEntries) {
      block = {
        count: 0,
        segments: sharedFloat64Array(planBlockEntries),
        offsets: sharedFloat64Array(planBlockEntries),
        sizes: sharedFloat64Array(planBlockEntries),
        locals: new Uint32Array(planBlockEntries),
        columns: new Uint8Array(planBlockEntries),
      }
      this.blocks.push(block)
    }
    const index = block.count++
    block.segments[index] = segmentNumber
    block.offsets[index] = offset
    block.sizes[index] = sizeBytes
    block.locals[index] = local
    block.columns[index] = column === 'a' ? 0 : 1
    this.count++
  }
}

const emptyResult = (durationMs: number): CompactionResult => ({
  segmentsCompacted: 0,
  segmentsWritten: 0,
  bytesBefore: 0,
  bytesAfter: 0,
  bytesReclaimed: 0,
  recordsCopied: 0,
  tombstonesKept: 0,
  tombstonesDropped: 0,
  durationMs,
})

export class Compactor {
  private readonly deps: CompactorDeps
  private readonly timer: NodeJS.Timeout | undefined
  /** The compaction running now, if any; compactions never overlap. */
  private current: Promise<CompactionResult> | undefined
  private worker: Worker | undefined
  private workerReply: { resolve: (reply: Exclude<WorkerReply, { type: 'writing' }>) => void; reject: (error: Error) => void } | undefined
  private closing = false
  private readonly counters: CompactionStats = {
    running: false,
    runs: 0,
    bytesReclaimed: 0,
    failures: 0,
    lastError: undefined,
    last: undefined,
  }

  constructor(deps: CompactorDeps) {
    this.deps = deps
    const intervalMs = deps.options.compactionIntervalMs
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.wake(), intervalMs)
      this.timer.unref()
    }
  }

  stats(): CompactionStats {
    return { ...this.counters, running: this.current !== undefined }
  }

  /** Runs one full compaction, after the one running now (if any). */
  async compactNow(): Promise<CompactionResult> {
    // Bounded: each pass waits for one compaction; compactNow calls queue behind each other.
    while (this.current !== undefined) await this.current.catch(() => undefined)
    return this.track(this.run('full'))
  }

  /** Stops the timer and any compaction: one in the worker is abandoned, one committing finishes. */
  async close(): Promise<void> {
    this.closing = true
    if (this.timer !== undefined) clearInterval(this.timer)
    // The worker first: a job it is running fails (see `startWorker`), and once it has stopped,
    // the compaction removes the temporary files it wrote. A compaction past its commit does not
    // need the worker, and finishes.
    await this.worker?.terminate()
    await this.current?.catch(() => undefined)
  }

  /** The background check: compacts when the garbage is over a threshold. */
  private wake(): void {
    if (this.current !== undefined || this.closing || this.deps.writer.failed !== undefined) return
    const inputs = this.chooseBackgroundInputs()
    if (inputs.length === 0) return
    this.track(this.run(inputs)).catch((error: unknown) => {
      // Abandoned by close(): not a failure worth a warning.
      if (!this.closing) this.deps.warn('background compaction failed', { error: error instanceof Error ? error.message : String(error) })
    })
  }

  private track(run: Promise<CompactionResult>): Promise<CompactionResult> {
    const tracked = run.then(
      (result) => {
        if (result.segmentsCompacted > 0) {
          this.counters.runs++
          this.counters.bytesReclaimed += result.bytesReclaimed
          this.counters.last = result
        }
        return result
      },
      (error: unknown) => {
        if (this.closing) throw error
        this.counters.failures++
        this.counters.lastError = error instanceof Error ? error.message : String(error)
        throw error
      },
    )
    const settled = tracked.finally(() => {
      if (this.current === settled) this.current = undefined
    })
    this.current = settled
    settled.catch(() => undefined)
    return settled
  }

  /**
   * Segments that may be compacted: sealed and settled (a segment the tail has left may still
   * have writes in flight, and one sealed in the middle of a pass holds records not yet published
   * to the keydir: only those below both are whole on disk and fully indexed), and not damaged.
   */
  private sealedSegments(): number[] {
    const unsettled = this.deps.writer.firstUnsettledSegmentNumber
    return this.deps.files.segmentNumbers().filter((n) => n < unsettled && !this.deps.segmentStats.get(n).damaged)
  }

  /**
   * The segments holding any of the newest `watchLogRetainChanges` changes, for watchers to read
   * back from the log: counted in changes, not in revisions, which jump after a crash.
   * Compactions' outputs hold no history and are never among them.
   */
  private retainedForWatchers(): Set<number> {
    const { options, files, segmentStats } = this.deps
    const retained = new Set<number>()
    if (options.watchLogRetainChanges === 0) return retained
    let newerChanges = 0
    for (const segmentNumber of files.segmentNumbers().reverse()) {
      const stats = segmentStats.get(segmentNumber)
      if (stats.compacted) continue
      if (newerChanges < options.watchLogRetainChanges) retained.add(segmentNumber)
      newerChanges += stats.changes
    }
    return retained
  }

  /** Dead bytes of a segment: what neither the keydir points to nor is a tombstone, nor its header. */
  private deadBytes(segmentNumber: number): number {
    const sizeBytes = this.deps.files.sizesBytes.get(segmentNumber) ?? 0
    const liveBytes = this.deps.keydir.liveBytesOf(segmentNumber)
    const tombstoneBytes = this.deps.segmentStats.get(segmentNumber).tombstoneBytes
    return Math.max(0, sizeBytes - segmentHeaderBytes - liveBytes - tombstoneBytes)
  }

  /**
   * The segments a background compaction takes, among the sealed segments that hold none of the
   * newest `watchLogRetainChanges` changes: none unless their dead bytes are over
   * `compactionDeadRatio` of them or over `compactionDeadBytes`; then those with the largest
   * share of garbage, at least `compactionSegmentDeadShareMin`, up to `compactionInputMaxBytes`,
   * and with them the small segments (cheap to merge, and left by rotations and earlier
   * compactions).
   */
  private chooseBackgroundInputs(): number[] {
    const { options, files } = this.deps
    const retained = this.retainedForWatchers()
    const eligible = this.sealedSegments().filter((segmentNumber) => !retained.has(segmentNumber))
    const candidates = eligible.map((segmentNumber) => {
      const sizeBytes = files.sizesBytes.get(segmentNumber) ?? 0
      const deadBytes = this.deadBytes(segmentNumber)
      return { segmentNumber, sizeBytes, deadBytes, share: sizeBytes === 0 ? 0 : deadBytes / sizeBytes }
    })
    let sealedBytes = 0
    let deadBytes = 0
    for (const candidate of candidates) {
      sealedBytes += candidate.sizeBytes
      deadBytes += candidate.deadBytes
    }
    const due = deadBytes > 0 && (deadBytes >= options.compactionDeadRatio * sealedBytes || deadBytes >= options.compactionDeadBytes)
    if (!due) return []
    candidates.sort((left, right) => right.share - left.share)
    const chosen: number[] = []
    let inputBytes = 0
    for (const candidate of candidates) {
      if (candidate.share < compactionSegmentDeadShareMin) break
      if (chosen.length > 0 && inputBytes + candidate.sizeBytes > compactionInputMaxBytes) break
      chosen.push(candidate.segmentNumber)
      inputBytes += candidate.sizeBytes
    }
    if (chosen.length === 0) return []
    const smallBytes = compactionSmallSegmentShare * options.segmentSizeBytes
    for (const candidate of candidates) {
      if (candidate.sizeBytes >= smallBytes || chosen.includes(candidate.segmentNumber)) continue
      if (inputBytes + candidate.sizeBytes > compactionInputMaxBytes) break
      chosen.push(candidate.segmentNumber)
      inputBytes += candidate.sizeBytes
    }
    return chosen.sort((left, right) => left - right)
  }

  private step(step: CompactionStep): void {
    this.deps.options.onCompactionStep?.(step)
  }

  private checkGoingOn(): void {
    if (this.closing) throw new StratumError('UNAVAILABLE', 'the store is closing; the compaction was abandoned')
    const failure = this.deps.writer.failed
    if (failure !== undefined) throw failure
  }

  /**
   * Runs one compaction of `chosen` (a background run's choice), or, for 'full', of every sealed
   * segment once the active one is sealed.
   */
  private async run(chosen: 'full' | number[]): Promise<CompactionResult> {
    const started = performance.now()
    const { files, writer, segmentStats, options } = this.deps
    this.checkGoingOn()
    if (chosen === 'full') await writer.rotate()
    const inputs = chosen === 'full' ? this.sealedSegments() : chosen
    if (inputs.length === 0) return emptyResult(performance.now() - started)
    const inputSet = new Set(inputs)
    const plan = await this.plan(inputSet)
    this.checkGoingOn()
    this.step('planned')

    // Tombstones newer than every record outside the compaction can go (see the module comment).
    let oldestSeqOutside = Number.POSITIVE_INFINITY
    for (const segmentNumber of files.segmentNumbers()) {
      if (inputSet.has(segmentNumber)) continue
      const stats = segmentStats.get(segmentNumber)
      // What a damaged segment's damaged stretches held is unknown: it may be anything.
      oldestSeqOutside = Math.min(oldestSeqOutside, stats.damaged ? 0 : stats.minSeq)
    }
    let bytesBefore = 0
    let tombstoneBytes = 0
    for (const segmentNumber of inputs) {
      bytesBefore += files.sizesBytes.get(segmentNumber) ?? 0
      tombstoneBytes += segmentStats.get(segmentNumber).tombstoneBytes
    }
    const outputNumbersMax = countOutputs(plan, tombstoneBytes, options.segmentSizeBytes)
    const firstOutputNumber = await writer.rotate(outputNumbersMax)
    const outputNumbers = Array.from({ length: outputNumbersMax }, (_, index) => firstOutputNumber + index)

    // The newest write the inputs hold: their history ends with this compaction (see historyCut).
    let inputsMaxSeq = 0
    for (const segmentNumber of inputs) inputsMaxSeq = Math.max(inputsMaxSeq, segmentStats.get(segmentNumber).maxSeq)
    const watermark = this.deps.makeWatermark(inputsMaxSeq)
    // What the outputs' history was cut at: as the watermark records it, for the next open too.
    const historyCut = readUint53(watermark, 32)
    let reply: Extract<WorkerReply, { type: 'done' }>
    try {
      this.checkGoingOn()
      reply = await this.runWorker({
        dir: options.dir,
        inputs,
        copyBlocks: plan.blocks.map((block) => ({
          count: block.count,
          segments: block.segments,
          offsets: block.offsets,
          sizes: block.sizes,
        })),
        firstOutputNumber,
        outputNumbersMax,
        segmentSizeBytes: options.segmentSizeBytes,
        oldestSeqOutside,
        watermark,
      })
      this.step('outputs-written')
      this.checkGoingOn()
      await syncDirectoryAsync(options.fileSystem, options.dir)
      this.step('outputs-synced')
      this.checkGoingOn()
      await prepareCommitFile(options.fileSystem, options.dir, { inputs, outputs: reply.outputs.map((output) => output.segmentNumber) })
    } catch (error) {
      this.removeTemporaryOutputs(outputNumbers)
      throw error
    }

    const commit: CompactionCommit = { inputs, outputs: reply.outputs.map((output) => output.segmentNumber) }
    try {
      await publishCommitFile(options.fileSystem, options.dir)
    } catch (error) {
      // The commit file may or may not be in place: only reopening can tell, and finish or drop it.
      writer.failWith(error)
      throw writer.failed!
    }
    this.step('committed')
    try {
      return await this.finishCommitted(commit, reply, plan, bytesBefore, started, historyCut)
    } catch (error) {
      // Decided but not finished: whatever failed (an I/O error, or a bug), only reopening the
      // store, which finishes the compaction from its commit file, can make it whole again.
      writer.failWith(error)
      throw writer.failed!
    }
  }

  /** Steps 6 and 7: from the commit on, the compaction goes through. */
  private async finishCommitted(
    commit: CompactionCommit,
    reply: Extract<WorkerReply, { type: 'done' }>,
    plan: CopyPlan,
    bytesBefore: number,
    started: number,
    historyCut: number,
  ): Promise<CompactionResult> {
    const { files, keydir, cache, segmentStats, options, writer } = this.deps
    const { fileSystem, dir } = options
    await installOutputs(fileSystem, dir, commit)
    for (const output of reply.outputs) {
      const format = { version: segmentFormatVersion, headerBytes: segmentHeaderBytes, seeds: output.seeds, headerDamaged: false }
      files.add(output.segmentNumber, output.sizeBytes, fileSystem.openSync(segmentPath(dir, output.segmentNumber), 'r'), format)
      segmentStats.set(output.segmentNumber, {
        minSeq: output.minSeq,
        maxSeq: historyCut,
        tombstoneBytes: output.tombstoneBytes,
        damaged: false,
        changes: 0,
        compacted: true,
      })
    }
    // The inputs' history goes with them: watchers reading it from the log stop before they do.
    this.deps.historyCut(historyCut)
    this.step('outputs-installed')

    let sliceStart = performance.now()
    let copied = 0
    const to: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }
    // Bounded by the plan; a slice at a time so that requests are served in between.
    for (const block of plan.blocks) {
      for (let index = 0; index < block.count; index++, copied++) {
        to.segmentNumber = reply.newSegments[copied]!
        to.offset = reply.newOffsets[copied]!
        to.sizeBytes = block.sizes[index]!
        const column: Column = block.columns[index] === 0 ? 'a' : 'b'
        keydir.moveIfAt(block.locals[index]!, column, block.segments[index]!, block.offsets[index]!, to)
        if ((index & 1023) === 1023 && performance.now() - sliceStart > sliceMs) {
          await new Promise((resolve) => setImmediate(resolve))
          sliceStart = performance.now()
        }
      }
    }
    this.step('switched')

    const stillLive = commit.inputs.filter((segmentNumber) => keydir.liveBytesOf(segmentNumber) > 0)
    if (stillLive.length > 0) {
      // Never expected: the plan walks every live record. Keep the inputs (their records are
      // also in the outputs, which is harmless) rather than lose one.
      await removeCommitFile(fileSystem, dir)
      assert.fail(`compaction left live records in segments ${stillLive.join(', ')}; they were kept`)
    }
    // A hint being written for an input must land before the input goes, or it would be orphaned.
    await this.deps.sealedHints.whenWritten()
    for (const segmentNumber of commit.inputs) {
      files.remove(segmentNumber)
      cache.dropSegment(segmentNumber)
      keydir.releaseSegment(segmentNumber)
      segmentStats.delete(segmentNumber)
      await removeSegmentFiles(fileSystem, dir, segmentNumber)
      this.step('input-removed')
    }
    await syncDirectoryAsync(fileSystem, dir)
    this.step('inputs-removed')
    await removeCommitFile(fileSystem, dir)
    this.step('done')

    let bytesAfter = 0
    for (const output of reply.outputs) bytesAfter += output.sizeBytes
    return {
      segmentsCompacted: commit.inputs.length,
      segmentsWritten: reply.outputs.length,
      bytesBefore,
      bytesAfter,
      bytesReclaimed: bytesBefore - bytesAfter,
      recordsCopied: reply.recordsCopied,
      tombstonesKept: reply.tombstonesKept,
      tombstonesDropped: reply.tombstonesDropped,
      durationMs: performance.now() - started,
    }
  }

  /**
   * Step 2: every live record in an input, document by document: its blob and metadata, then
   * each input node of its chain with its output. Records may move or die between slices;
   * none can move into an input (they are sealed), so the walk misses none.
   */
  private async plan(inputs: ReadonlySet<number>): Promise<CopyPlan> {
    const keydir = this.deps.keydir
    const plan = new CopyPlan()
    const location: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }
    const add = (local: number, column: Column): void => {
      if (keydir.locationInto(local, column, location) && inputs.has(location.segmentNumber)) {
        plan.push(location.segmentNumber, location.offset, location.sizeBytes, local, column)
      }
    }
    let afterLocal = 0
    let sliceStart = performance.now()
    // Bounded: each pass moves past up to 256 documents, and the list only grows past its end.
    for (;;) {
      const docs = keydir.listDocs(afterLocal, 256)
      if (docs.length === 0) break
      for (const doc of docs) {
        add(doc, 'a')
        add(doc, 'b')
        for (let node = keydir.firstInput(doc); node !== 0; node = keydir.nextInput(node)) {
          add(node, 'a')
          add(node, 'b')
        }
      }
      afterLocal = docs[docs.length - 1]!
      if (performance.now() - sliceStart > sliceMs) {
        await new Promise((resolve) => setImmediate(resolve))
        this.checkGoingOn()
        sliceStart = performance.now()
      }
    }
    return plan
  }

  private runWorker(job: CompactionJob): Promise<Extract<WorkerReply, { type: 'done' }>> {
    return this.postJob(job).then((reply) => {
      if (reply.type === 'done') return reply
      if (reply.code === 'CORRUPTION' && reply.segmentNumber !== undefined) {
        // Damaged since it was opened: left out of compactions from now on.
        this.deps.segmentStats.get(reply.segmentNumber).damaged = true
      }
      const error = new StratumError(reply.code, `compaction failed: ${reply.message}`)
      if (reply.code === 'INTERNAL') {
        // A bug in the worker: the store fails closed, with the worker's stack for the log.
        if (reply.stack !== undefined) error.stack = `${error.stack ?? ''}\nworker stack: ${reply.stack}`
        this.deps.writer.failWith(error)
      }
      throw error
    })
  }

  /**
   * Runs a job in the worker thread; or, when the store was given a file system other than the
   * real one (a test's, which injects faults or simulates power cuts), on this thread through it,
   * so that every file operation of a compaction goes through the same seam.
   */
  private postJob(job: CompactionJob): Promise<Exclude<WorkerReply, { type: 'writing' }>> {
    const fileSystem = this.deps.options.fileSystem
    if (fileSystem !== nodeFileSystem) {
      return new Promise((resolve) => setImmediate(resolve)).then(() => {
        try {
          return compact(job, fileSystem, () => this.step('outputs-writing'))
        } catch (error) {
          return { type: 'failed', ...failureOf(error) }
        }
      })
    }
    const worker = this.startWorker()
    return new Promise<Exclude<WorkerReply, { type: 'writing' }>>((resolve, reject) => {
      this.workerReply = { resolve, reject }
      worker.ref()
      worker.postMessage(job)
    }).finally(() => {
      this.workerReply = undefined
      this.worker?.unref()
    })
  }

  /** The worker thread, started on first use and kept (without holding the process open). */
  private startWorker(): Worker {
    if (this.worker !== undefined) return this.worker
    const worker = new Worker(compactionWorkerUrl)
    worker.unref()
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'writing') this.step('outputs-writing')
      else this.workerReply?.resolve(reply)
    })
    worker.on('error', (error) => this.workerReply?.reject(error))
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined
      this.workerReply?.reject(
        this.closing
          ? new StratumError('UNAVAILABLE', 'the store is closing; the compaction was abandoned')
          : new StratumError('IO_ERROR', `the compaction worker stopped (exit code ${code})`),
      )
    })
    this.worker = worker
    return worker
  }

  /** Removes what a compaction that did not commit left behind. */
  private removeTemporaryOutputs(outputNumbers: readonly number[]): void {
    const { fileSystem, dir } = this.deps.options
    const names = [`${commitFileName}.tmp`]
    for (const segmentNumber of outputNumbers) names.push(`${segmentFileName(segmentNumber)}.tmp`, `${hintFileName(segmentNumber)}.tmp`)
    for (const name of names) {
      const path = join(dir, name)
      try {
        if (fileSystem.existsSync(path)) fileSystem.unlinkSync(path)
      } catch {
        // The next open removes it.
      }
    }
  }
}

/**
 * How many output segments a compaction needs at most: the outputs are packed as the worker
 * packs them (a watermark first, then the live records in plan order, then the tombstones, which
 * are counted as if all were kept), plus one for the tombstones' rounding.
 */
function countOutputs(plan: CopyPlan, tombstoneBytes: number, segmentSizeBytes: number): number {
  let outputs = 1
  let sizeBytes = segmentHeaderBytes + recordHeaderBytes
  for (const block of plan.blocks) {
    for (let index = 0; index < block.count; index++) {
      const recordBytes = block.sizes[index]!
      if (sizeBytes + recordBytes > segmentSizeBytes && sizeBytes > segmentHeaderBytes + recordHeaderBytes) {
        outputs++
        sizeBytes = segmentHeaderBytes + recordHeaderBytes
      }
      sizeBytes += recordBytes
    }
  }
  // Tombstones are 40 bytes each: at most one output more than their bytes fill.
  const perOutputBytes = segmentSizeBytes - segmentHeaderBytes - recordHeaderBytes
  return outputs + Math.ceil(tombstoneBytes / perOutputBytes) + 1
}
