/**
 * The public API of the engine: `openStore()` and the `Store` it returns.
 *
 * Every write is validated here, at the edge, against the keydir with the writes still pending
 * laid over it (`PendingWrites`), then appended to the log and noted as pending, in one
 * synchronous stretch: writes are ordered by when they are called. When its group commit is
 * acknowledged, the write is published to the keydir and only then does its promise resolve.
 * Readers read the keydir alone: they never wait on a sync and never see a write a crash could
 * still undo. See docs/format.md, *The write path*.
 *
 * Missing is a value on reads and an error on writes: reading an unknown id resolves to
 * `undefined`; a write naming an unknown document or node fails with NOT_FOUND. A node named with
 * a document it does not belong to is unknown.
 *
 * Example:
 *   const store = await openStore({ dir: './data' })
 *   const docId = await store.createProblem('<p>Add two numbers</p>', { title: 'A+B' })
 *   const tcId = await store.addTestCase(docId, int64List([1, 2]))
 *   await store.setExpectedOutput(docId, tcId, int64(3))
 *   await store.close()
 */
import assert from 'node:assert/strict'
import type { MetaInput } from './document-meta.ts'
import { asStratumError, CorruptionError, invalidArgument, limitExceeded, notFound, StratumError } from './errors.ts'
import { localIdOf, makeId } from './ids.ts'
import { Keydir, SlotKind, type Column, type Location } from './keydir.ts'
import { batchMaxBytes, chainMaxNodes, listProblemsDefaultLimit, pageMaxBytes, pageMaxItems } from './limits.ts'
import { LockFile } from './lock-file.ts'
import { BlockCache } from './block-cache.ts'
import { RecordReader, type CheckedRecord } from './record-reader.ts'
import { encodeRecord, markBatchContinues, RecordKind } from './record.ts'
import { recover, type RecoveryReport } from './recovery.ts'
import type { CompactionResult, CompactionStats } from './compaction-result.ts'
import { Compactor } from './compactor.ts'
import { SegmentStatsTable } from './segment-stats.ts'
import { SealedHints } from './sealed-hints.ts'
import { SegmentFiles } from './segment-files.ts'
import { Batch, BatchId, batchOperationError, type BatchOperation, type IdOrBatchId, type WriteCondition } from './batch.ts'
import { KeydirView, PendingWrites } from './pending-writes.ts'
import { docVersion, WritePlanner, type WriteCounters, type WritePlan } from './write-plans.ts'
import { SegmentWriter, type DiskFullState, type SyncMode } from './segment-writer.ts'
import { guardedObserver } from './store-observer.ts'
import { resolveStoreOptions, type ResolvedStoreOptions, type StoreOptions } from './store-options.ts'
import { decodeValue, type Value } from './values.ts'
import { ChangeFeed } from './change-feed.ts'
import type { LogEnd } from './change-log.ts'
import type { WatchOptions } from './change-events.ts'
import type { Watch } from './watch.ts'

/**
 * - `open`: serving reads and writes;
 * - `disk-full`: serving reads; writes are refused with DISK_FULL until the disk has room again,
 *   which the next write finds out by itself;
 * - `failed`: an I/O error (or a bug) stopped the store; every call is refused until it is reopened;
 * - `closing`, `closed`.
 */
export type StoreStatus = 'open' | 'disk-full' | 'failed' | 'closing' | 'closed'

export interface TestCase {
  tcId: number
  value: Value
  /** The expected output, when asked for with `includeOutputs` and one is set. */
  output?: Value
  /** The test case's version, when asked for with `includeVersions`. */
  version?: number
  /** The output's version, when asked for with `includeVersions` and the output is included. */
  outputVersion?: number
}

/** Options of `getAllTestCases`. */
export interface TestCasePageOptions extends PageOptions {
  /** Also read each test case's expected output, when it has one. */
  includeOutputs?: boolean
  /** Also give each test case's version (and its output's, with includeOutputs). */
  includeVersions?: boolean
}

export interface PageOptions {
  /** Start after this id (exclusive); from the beginning when absent. */
  afterId?: number
  /**
   * Most items to return, 1 to `pageMaxItems` (100,000). Default: 1,000 documents for
   * `listProblems`, `pageMaxItems` nodes for `getAllTestCases`, whose pages also end once they
   * hold `pageMaxBytes` of records.
   */
  limit?: number
}

export interface ProblemPage {
  ids: number[]
  /** Pass as `afterId` for the next page; absent on the last page. */
  nextAfterId?: number
}

export interface TestCasePage {
  testCases: TestCase[]
  nextAfterId?: number
}

export interface StoreStats {
  status: StoreStatus
  /** The store's revision: the sequence number of the newest acknowledged write (see `Store.revision`). */
  revision: number
  documents: number
  inputNodes: number
  outputNodes: number
  segmentCount: number
  activeSegmentNumber: number
  activeSegmentBytes: number
  /**
   * Bytes of every segment file up to its last record. The active segment also holds up to
   * 1 MiB of zeros ahead of that (see docs/format.md), not counted here.
   */
  diskBytes: number
  /** Bytes of the records the index points to. */
  liveBytes: number
  /** `diskBytes - liveBytes`: superseded records, tombstones and file headers. */
  deadBytes: number
  /** Bytes of the index's typed-array table (metadata maps not counted). */
  indexBytes: number
  /** Bytes of segment blocks held in the read cache, and its hits and misses since open. */
  cacheBytes: number
  cacheHits: number
  cacheMisses: number
  syncMode: SyncMode
  /** fdatasync/fsync calls made on segments since open. */
  syncCount: number
  /** While writes are refused for a full disk: the file being written and the bytes it needed. */
  diskFull: DiskFullState | null
  /** What opening the store found and how long it took (`durationMs`), hints versus scans included. */
  lastRecovery: RecoveryReport
  /** The compactor: runs, bytes reclaimed, the last compaction's result. */
  compaction: CompactionStats
}

/**
 * Opens (or creates) the store in `options.dir`. Throws LOCKED if another process has it open;
 * an error of the operating system while opening is IO_ERROR (DISK_FULL when the disk is full),
 * naming what was being done.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const resolved = resolveStoreOptions(options)
  try {
    return await openResolved(resolved)
  } catch (error) {
    throw asStratumError(error, `opening the store in ${resolved.dir}`)
  }
}

async function openResolved(resolved: ResolvedStoreOptions): Promise<Store> {
  const { fileSystem, dir } = resolved
  if (!fileSystem.existsSync(dir)) {
    if (!resolved.createIfMissing) throw notFound(`store folder ${dir} does not exist and createIfMissing is false`)
    fileSystem.mkdirSync(dir)
  }
  const lock = await LockFile.acquire(fileSystem, dir)
  const files = new SegmentFiles(fileSystem, dir)
  try {
    const keydir = new Keydir()
    const segmentStats = new SegmentStatsTable()
    const recovered = await recover({ fileSystem, dir, shard: resolved.shard, keydir, files, segmentStats, closedCleanly: !lock.tookOverStale })
    const sealedHints = new SealedHints(
      files,
      fileSystem,
      dir,
      (segmentNumber, offset) => {
        segmentStats.get(segmentNumber).damaged = true
        warn(resolved, 'a segment just sealed fails its checksums; it is left out of compactions', { segmentNumber, offset })
      },
      (segmentNumber, error) =>
        warn(resolved, 'could not write a hint file; the next open scans that segment instead', { segmentNumber, error: String(error) }),
    )
    // The store, once made: the writer's failure callback wakes its watchers.
    let opened: Store | undefined
    const writer = new SegmentWriter({
      fileSystem,
      dir,
      files,
      syncMode: resolved.syncMode,
      syncIntervalMs: resolved.syncIntervalMs,
      segmentSizeBytes: resolved.segmentSizeBytes,
      activeSegmentNumber: recovered.activeSegmentNumber,
      activeFd: recovered.activeFd,
      activeSizeBytes: recovered.activeSizeBytes,
      // Recovery cuts any zero-filled tail, so the file ends at its last record.
      activeFileBytes: recovered.activeSizeBytes,
      activeSeeds: recovered.activeSeeds,
      activeLastGroupTag: recovered.activeLastGroupTag,
      activeProven: recovered.activeProven,
      segmentStats,
      segmentSlots: { reserve: (segmentNumber) => keydir.reserveSegment(segmentNumber), release: (segmentNumber) => keydir.releaseSegment(segmentNumber) },
      onSealed: (segmentNumber, sizeBytes) => sealedHints.sealed(segmentNumber, sizeBytes),
      // The writer reports these from inside an append, between a write's validation and its
      // queueing: the user's callbacks run after that stretch, so that a write they make comes
      // after the one that found the disk full or with room again, as it was called.
      onDiskFull: (state) =>
        queueMicrotask(() => {
          if (state !== undefined) warn(resolved, 'the disk is full: writes are refused until it has room again; reads go on', { ...state })
          else warn(resolved, 'the disk has room again: writes are accepted', {})
          resolved.onStatusChange?.(state === undefined ? 'open' : 'disk-full')
        }),
      onFailed: (error) =>
        queueMicrotask(() => {
          opened?.wakeWatchers()
          resolved.onStatusChange?.('failed', error)
        }),
      observer: guardedObserver(resolved.observer, (error) => warn(resolved, 'the store observer threw; the event is dropped', { error: String(error) })),
    })
    const store = new Store(resolved, lock, keydir, files, writer, segmentStats, sealedHints, recovered.report, recovered.nextLocalId, recovered.nextSeq, {
      historyFloor: recovered.historyFloor,
      logEnd: { segmentNumber: recovered.activeSegmentNumber, offset: recovered.activeSizeBytes },
    })
    opened = store
    store.reportRecovery()
    return store
  } catch (error) {
    try {
      files.closeAll() // the segments recovery opened
    } finally {
      lock.release()
    }
    throw error
  }
}

function warn(options: ResolvedStoreOptions, message: string, details: Record<string, unknown>): void {
  if (options.onWarning !== undefined) options.onWarning(message, details)
  else process.emitWarning(`${message}: ${JSON.stringify(details)}`, { code: 'STRATUM_DAMAGE' })
}

/** Largest span of a page's records read at once (see `Store.chainSpan`), in bytes. */
const chainSpanMaxBytes = 256 * 1024

export class Store {
  private statusValue: StoreStatus = 'open'
  private readonly cache: BlockCache
  private readonly reader: RecordReader
  private readonly compactor: Compactor
  /** The view writes validate against: the keydir and the writes not yet published to it. */
  private readonly pending: PendingWrites
  private readonly planner: WritePlanner
  /** The revision of the newest write published (see `revision`). */
  private revisionValue: number
  private readonly feed: ChangeFeed
  /** The local part of the newest id a published write created, or that the log held at open. */
  private newestWrittenLocal: number
  private closing: Promise<void> | undefined

  /** @internal Use `openStore`. */
  constructor(
    private readonly options: ResolvedStoreOptions,
    private readonly lock: LockFile,
    private readonly keydir: Keydir,
    private readonly files: SegmentFiles,
    private readonly writer: SegmentWriter,
    segmentStats: SegmentStatsTable,
    private readonly sealedHints: SealedHints,
    private readonly recovery: RecoveryReport,
    nextLocalId: number,
    nextSeq: number,
    /** What recovery found of the log's history for watchers (change-log.ts). */
    history: { historyFloor: number; logEnd: LogEnd },
  ) {
    const counters: WriteCounters = { nextLocalId, nextSeq }
    this.newestWrittenLocal = nextLocalId - 1
    this.revisionValue = nextSeq - 1
    this.planner = new WritePlanner(keydir, options.shard, counters, (local, id) => this.metaOf(local, id))
    this.cache = new BlockCache(files, options.cacheSizeBytes)
    this.pending = new PendingWrites(new KeydirView(keydir))
    this.reader = new RecordReader(this.cache, files)
    this.feed = new ChangeFeed(
      {
        keydir,
        files,
        segmentStats,
        reader: this.reader,
        revision: () => this.revisionValue,
        checkOpen: () => this.checkOpen(),
        isProblemId: (id) => {
          try {
            return this.localOf(id, 'problemId') !== undefined
          } catch {
            return false
          }
        },
      },
      options.watchHistoryMaxChanges,
      this.revisionValue,
      history.historyFloor,
      history.logEnd,
    )
    this.compactor = new Compactor({
      options,
      keydir,
      files,
      writer,
      cache: this.cache,
      segmentStats,
      sealedHints,
      makeWatermark: (inputsMaxSeq) => {
        const seq = counters.nextSeq++
        // parentId: the history cut (RecordKind.idWatermark), 0 when the inputs held no write.
        const historyCut = inputsMaxSeq
        // The newest id written: the inputs' records are all published. An id a refused write took
        // (never written, never returned) is left out, so that, as without a compaction, a
        // reopen may issue it again.
        return encodeRecord({ kind: RecordKind.idWatermark, flags: 0, seq, id: makeId(options.shard, this.newestWrittenLocal), parentId: historyCut }, 0)
      },
      historyCut: (revision) => this.feed.historyCut(revision),
      warn: (message, details) => this.warn(message, details),
    })
  }

  /**
   * The store's revision: the sequence number of the newest acknowledged write, the version it
   * gave what it wrote. It only grows, across reopens and compactions; it may skip numbers.
   */
  get revision(): number {
    return this.revisionValue
  }

  get status(): StoreStatus {
    if (this.statusValue !== 'open') return this.statusValue
    if (this.writer.failed !== undefined) return 'failed'
    return this.writer.diskFull === undefined ? 'open' : 'disk-full'
  }

  /** @internal Reports what recovery found through `onWarning`. */
  reportRecovery(): void {
    const report = this.recovery
    if (report.tornTail !== null) {
      this.warn('truncated a torn write at the end of the log', { ...report.tornTail })
    }
    if (report.damagedRecordCount > 0 || report.damagedRangeCount > 0) {
      this.warn('the store holds damaged records; reads of them fail with CORRUPTION', {
        damagedRecordCount: report.damagedRecordCount,
        damagedRecords: report.damagedRecords,
        damagedRangeCount: report.damagedRangeCount,
        damagedRanges: report.damagedRanges,
      })
    }
  }

  // ---------------------------------------------------------------- documents

  /** Creates a document with its text/HTML and metadata columns; resolves to its id. */
  async createProblem(html: string, meta?: MetaInput): Promise<number> {
    this.checkOpen()
    const plan = this.planner.createProblem(this.pending, html, meta)
    await this.commitPlans([plan])
    return plan.createdId!
  }

  /** The document's text/HTML, or undefined when there is no such document. */
  getProblemHtml(id: number): Promise<string | undefined> {
    return this.readNow(() => {
      const local = this.docNow(id)
      if (local === undefined) return undefined
      const record = this.readColumn(local, id, 'a', RecordKind.docBlob)
      return record.bytes.toString('utf8', record.payloadStart, record.payloadEnd)
    })
  }

  /** The document's metadata columns (held in memory: no disk read), or undefined. */
  getProblemMeta(id: number): Promise<Record<string, string> | undefined> {
    return this.readNow(() => {
      const local = this.docNow(id)
      return local === undefined ? undefined : Object.fromEntries(this.metaOf(local, id))
    })
  }

  /**
   * The document's version: the revision of the write that last changed its text or metadata
   * (not its test cases); undefined when there is no such document. Read in the same tick as
   * the text or metadata, it is theirs.
   */
  getProblemVersion(id: number): Promise<number | undefined> {
    return this.readNow(() => {
      const local = this.docNow(id)
      return local === undefined ? undefined : docVersion(new KeydirView(this.keydir), local)
    })
  }

  /**
   * Replaces the document's text/HTML. Its metadata and nodes are not rewritten. Resolves to the
   * document's new version. With `expectedVersion`, VERSION_MISMATCH unless the document is at it.
   */
  async updateProblemHtml(id: number, html: string, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.updateProblemHtml(this.pending, id, html, condition.expectedVersion)])
  }

  /** Sets one metadata column (adding it if new). Only the metadata record is rewritten. Resolves to the new version. */
  async updateProblemColumn(id: number, column: string, value: string, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.updateProblemColumn(this.pending, id, column, value, condition.expectedVersion)])
  }

  /** Deletes the document with all its input nodes and their outputs. Resolves to the revision of the delete. */
  async deleteProblem(id: number, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.deleteProblem(this.pending, id, condition.expectedVersion)])
  }

  /** Live document ids in increasing order, a page at a time (default 1,000). */
  async listProblems(options: PageOptions = {}): Promise<ProblemPage> {
    this.checkOpen()
    const { afterLocal, limit } = this.pageBounds(options, listProblemsDefaultLimit)
    // One more than asked tells whether another page follows.
    const locals = this.keydir.listDocs(afterLocal, limit + 1)
    const ids = locals.slice(0, limit).map((local) => makeId(this.options.shard, local))
    return locals.length > limit ? { ids, nextAfterId: ids[ids.length - 1]! } : { ids }
  }

  // ---------------------------------------------------------------- input nodes

  /** Appends an input node to the document's chain; resolves to its id. */
  async addTestCase(docId: number, value: Value): Promise<number> {
    this.checkOpen()
    const plan = this.planner.addTestCase(this.pending, docId, value)
    await this.commitPlans([plan])
    return plan.createdId!
  }

  /** The input node's value, or undefined when the document has no such node. */
  getTestCase(docId: number, tcId: number): Promise<Value | undefined> {
    return this.readNow(() => {
      const local = this.inputNow(docId, tcId)
      return local === undefined ? undefined : this.decodeColumnValue(local, tcId, 'a', RecordKind.inputPut)
    })
  }

  /**
   * The document's input nodes in chain order, a page at a time (all of them by default), with
   * their expected outputs when `includeOutputs` is set. Undefined when there is no such document.
   */
  getAllTestCases(docId: number, options: TestCasePageOptions = {}): Promise<TestCasePage | undefined> {
    return this.readNow(() => this.testCasePage(docId, options))
  }

  private testCasePage(docId: number, options: TestCasePageOptions): TestCasePage | undefined {
    const { afterLocal, limit } = this.pageBounds(options, pageMaxItems)
    const docLocal = this.docNow(docId)
    if (docLocal === undefined) return undefined
    const keydir = this.keydir
    const includeOutputs = options.includeOutputs === true
    const locals: number[] = []
    let pageBytes = 0
    let node = this.firstInputAfter(docLocal, afterLocal)
    // Bounded by `limit`, at most pageMaxItems, and by pageMaxBytes.
    while (node !== 0 && locals.length < limit && (locals.length === 0 || pageBytes < pageMaxBytes)) {
      locals.push(node)
      pageBytes += keydir.location(node, 'a')?.sizeBytes ?? 0
      if (includeOutputs) pageBytes += keydir.location(node, 'b')?.sizeBytes ?? 0
      node = keydir.nextInput(node)
    }
    const more = node !== 0
    const shard = this.options.shard
    const span = this.chainSpan(locals, includeOutputs)
    const decode = (local: number, tcId: number, column: Column, kind: RecordKind): Value => {
      if (span === undefined) return this.decodeColumnValue(local, tcId, column, kind)
      keydir.locationInto(local, column, span.location)
      const { segmentNumber, offset, sizeBytes } = span.location
      const record = this.reader.check(span.bytes, offset - span.offset, segmentNumber, offset, sizeBytes, tcId, kind)
      return decodeValue(record.bytes, record.payloadStart, record.payloadEnd)
    }
    const testCases: TestCase[] = []
    for (const local of locals) {
      const tcId = makeId(shard, local)
      const testCase: TestCase = { tcId, value: decode(local, tcId, 'a', RecordKind.inputPut) }
      if (options.includeVersions === true) testCase.version = keydir.seqOf(local, 'a')
      if (includeOutputs && keydir.hasOutput(local)) {
        testCase.output = decode(local, tcId, 'b', RecordKind.outputPut)
        if (options.includeVersions === true) testCase.outputVersion = keydir.seqOf(local, 'b')
      }
      testCases.push(testCase)
    }
    return more ? { testCases, nextAfterId: testCases[testCases.length - 1]!.tcId } : { testCases }
  }

  /**
   * The bytes of a page's records, read at once, when they lie side by side in one segment (as a
   * compaction writes them) and none is damaged; undefined otherwise, and they are read one by one.
   */
  private chainSpan(locals: readonly number[], includeOutputs: boolean): { bytes: Buffer; offset: number; location: Location } | undefined {
    const keydir = this.keydir
    const location: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }
    let segmentNumber = 0
    let start = Number.POSITIVE_INFINITY
    let end = 0
    let recordBytes = 0
    for (const local of locals) {
      for (const column of includeOutputs ? (['a', 'b'] as const) : (['a'] as const)) {
        if (!keydir.locationInto(local, column, location)) continue
        if (keydir.isCorrupt(local, column)) return undefined
        if (segmentNumber === 0) segmentNumber = location.segmentNumber
        else if (location.segmentNumber !== segmentNumber) return undefined
        start = Math.min(start, location.offset)
        end = Math.max(end, location.offset + location.sizeBytes)
        recordBytes += location.sizeBytes
      }
    }
    // Worth one read only when the records fill most of the span, and the span is small.
    if (segmentNumber === 0 || end - start > chainSpanMaxBytes || end - start > 2 * recordBytes) return undefined
    return { bytes: this.reader.readSpan(segmentNumber, start, end - start), offset: start, location }
  }

  /** The input node's version (the revision of the write of its value; its output has its own), or undefined. */
  getTestCaseVersion(docId: number, tcId: number): Promise<number | undefined> {
    return this.readNow(() => {
      const local = this.inputNow(docId, tcId)
      return local === undefined ? undefined : this.keydir.seqOf(local, 'a')
    })
  }

  /** Replaces the input node's value (its output is kept); resolves to its new version. */
  async updateTestCase(docId: number, tcId: number, value: Value, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.updateTestCase(this.pending, docId, tcId, value, condition.expectedVersion)])
  }

  /** Deletes the input node and its output; resolves to the revision of the delete. */
  async deleteTestCase(docId: number, tcId: number, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.deleteTestCase(this.pending, docId, tcId, condition.expectedVersion)])
  }

  // ---------------------------------------------------------------- output nodes

  /** Sets the input node's expected output (ALREADY_EXISTS when it has one); resolves to its version. */
  async setExpectedOutput(docId: number, tcId: number, value: Value): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.setExpectedOutput(this.pending, docId, tcId, value)])
  }

  /** The version of the input node's expected output, or undefined when the node or its output does not exist. */
  getExpectedOutputVersion(docId: number, tcId: number): Promise<number | undefined> {
    return this.readNow(() => {
      const local = this.inputNow(docId, tcId)
      return local === undefined || !this.keydir.hasOutput(local) ? undefined : this.keydir.seqOf(local, 'b')
    })
  }

  /** The input node's expected output, or undefined when the node or its output does not exist. */
  getExpectedOutput(docId: number, tcId: number): Promise<Value | undefined> {
    return this.readNow(() => {
      const local = this.inputNow(docId, tcId)
      if (local === undefined || !this.keydir.hasOutput(local)) return undefined
      return this.decodeColumnValue(local, tcId, 'b', RecordKind.outputPut)
    })
  }

  /** Replaces the input node's expected output (NOT_FOUND when it has none); resolves to its new version. */
  async updateExpectedOutput(docId: number, tcId: number, value: Value, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.updateExpectedOutput(this.pending, docId, tcId, value, condition.expectedVersion)])
  }

  /** Deletes the input node's expected output (NOT_FOUND when it has none); resolves to the revision of the delete. */
  async deleteExpectedOutput(docId: number, tcId: number, condition: WriteCondition = {}): Promise<number> {
    this.checkOpen()
    return this.commitPlans([this.planner.deleteExpectedOutput(this.pending, docId, tcId, condition.expectedVersion)])
  }

  // ---------------------------------------------------------------- batches

  /**
   * Starts an atomic batch of writes: add its operations, then `commit()` it; all of them are
   * written, or none (see batch.ts).
   */
  batch(): Batch {
    return new Batch((operations) => this.commitBatch(operations))
  }

  private async commitBatch(operations: readonly BatchOperation[]): Promise<{ createdIds: number[]; revision: number }> {
    this.checkOpen()
    if (operations.length === 0) return { createdIds: [], revision: this.revisionValue }
    // Validated and noted one by one in a scratch view over the pending writes, then dropped: the
    // store's view learns of them only once all are valid and appended.
    // Conditions are on the versions before the batch, the only ones a client can have read.
    const scratch = new PendingWrites(this.pending, this.pending)
    const createdIds: Array<number | undefined> = []
    const plans: WritePlan[] = []
    let batchBytes = 0
    for (const [index, operation] of operations.entries()) {
      let plan: WritePlan
      try {
        plan = this.planBatchOperation(scratch, operation, createdIds)
      } catch (error) {
        throw batchOperationError(error, index, operations.length, operation)
      }
      plan.note(scratch)
      createdIds.push(plan.createdId)
      plans.push(plan)
      for (const record of plan.records) batchBytes += record.length
      if (batchBytes > batchMaxBytes) {
        throw limitExceeded(`the batch writes more than ${batchMaxBytes} bytes (batchMaxBytes) by operation ${index + 1} of ${operations.length}; nothing was written: split it`)
      }
    }
    // One unit of the log: every record but the batch's last continues it.
    const last = plans[plans.length - 1]!.records
    for (const plan of plans) {
      for (const record of plan.records) if (record !== last[last.length - 1]) markBatchContinues(record)
    }
    const revision = await this.commitPlans(plans)
    return { createdIds: createdIds.filter((id): id is number => id !== undefined), revision }
  }

  private planBatchOperation(view: PendingWrites, operation: BatchOperation, createdIds: ReadonlyArray<number | undefined>): WritePlan {
    const planner = this.planner
    const id = (ref: IdOrBatchId): number => (ref instanceof BatchId ? createdIds[ref.operation]! : ref)
    switch (operation.op) {
      case 'createProblem':
        return planner.createProblem(view, operation.html, operation.meta)
      case 'updateProblemHtml':
        return planner.updateProblemHtml(view, id(operation.docId), operation.html, operation.expectedVersion)
      case 'updateProblemColumn':
        return planner.updateProblemColumn(view, id(operation.docId), operation.column, operation.value, operation.expectedVersion)
      case 'deleteProblem':
        return planner.deleteProblem(view, id(operation.docId), operation.expectedVersion)
      case 'addTestCase':
        return planner.addTestCase(view, id(operation.docId), operation.value)
      case 'updateTestCase':
        return planner.updateTestCase(view, id(operation.docId), id(operation.tcId), operation.value, operation.expectedVersion)
      case 'deleteTestCase':
        return planner.deleteTestCase(view, id(operation.docId), id(operation.tcId), operation.expectedVersion)
      case 'setExpectedOutput':
        return planner.setExpectedOutput(view, id(operation.docId), id(operation.tcId), operation.value)
      case 'updateExpectedOutput':
        return planner.updateExpectedOutput(view, id(operation.docId), id(operation.tcId), operation.value, operation.expectedVersion)
      case 'deleteExpectedOutput':
        return planner.deleteExpectedOutput(view, id(operation.docId), id(operation.tcId), operation.expectedVersion)
    }
  }

  // ---------------------------------------------------------------- admin

  async stats(): Promise<StoreStats> {
    const keydir = this.keydir
    let liveBytes = 0
    for (const bytes of keydir.liveBytesBySegment.values()) liveBytes += bytes
    const diskBytes = this.files.totalBytes()
    return {
      status: this.status,
      revision: this.revisionValue,
      documents: keydir.documentCount,
      inputNodes: keydir.inputCount,
      outputNodes: keydir.outputCount,
      segmentCount: this.files.sizesBytes.size,
      activeSegmentNumber: this.writer.activeSegmentNumber,
      activeSegmentBytes: this.files.sizesBytes.get(this.writer.activeSegmentNumber) ?? 0,
      diskBytes,
      liveBytes,
      deadBytes: diskBytes - liveBytes,
      indexBytes: keydir.tableBytes(),
      cacheBytes: this.cache.sizeBytes,
      cacheHits: this.cache.hits,
      cacheMisses: this.cache.misses,
      syncMode: this.options.syncMode,
      syncCount: this.writer.syncCount,
      diskFull: this.writer.diskFull ?? null,
      lastRecovery: this.recovery,
      compaction: this.compactor.stats(),
    }
  }

  /**
   * Runs one full compaction now: seals the active segment and merges every sealed segment,
   * keeping only live records (and the tombstones still needed). Resolves when the merged
   * segments are removed. Waits for a background compaction that is running first.
   */
  async compactNow(): Promise<CompactionResult> {
    this.checkOpen()
    try {
      return await this.compactor.compactNow()
    } catch (error) {
      throw asStratumError(error, 'compacting')
    }
  }

  /**
   * Watches the store's changes: an async iterator of one event per acknowledged write, in
   * revision order (from `fromRevision`, inclusive, or from now), optionally of one problem and
   * with the values written, and a progress event after each `progressIntervalMs` without one.
   * The store keeps the last `watchHistoryMaxChanges` changes in memory and reads older ones
   * back from the log until a compaction reclaims them: an older `fromRevision` is
   * REVISION_UNAVAILABLE, and a watcher that falls behind what a compaction reclaimed ends with
   * LIMIT_EXCEEDED. Closing the store ends every watcher with UNAVAILABLE; `close()` on the
   * watch (or leaving a `for await` loop) ends it. See docs/format.md, *Watching changes*.
   */
  watch(options?: WatchOptions): Watch {
    return this.feed.watch(options)
  }

  /** @internal The store failed: watchers waiting for a change learn it now. */
  wakeWatchers(): void {
    this.feed.wake()
  }

  /** Writes and syncs every write made so far, whatever the sync mode. */
  async flush(): Promise<void> {
    this.checkOpen()
    await this.writer.flush()
  }

  /**
   * Finishes the writes in flight, syncs them, closes the files and releases the lock.
   * Later calls fail with UNAVAILABLE. Idempotent: a second call resolves when the first is done.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    this.statusValue = 'closing'
    this.feed.close()
    try {
      await this.compactor.close()
      await this.writer.close()
      // After the writer, which seals nothing more; the hint of a segment sealed just now is
      // finished rather than left to the next open's scan.
      await this.sealedHints.whenWritten()
    } finally {
      try {
        this.files.closeAll()
      } finally {
        // Released whatever closing the files did: a store this process cannot reopen is worse.
        this.lock.release()
        this.statusValue = 'closed'
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private checkOpen(): void {
    if (this.statusValue !== 'open') throw new StratumError('UNAVAILABLE', `the store is ${this.statusValue}`)
    const failure = this.writer.failed
    if (failure !== undefined) throw failure
  }

  private warn(message: string, details: Record<string, unknown>): void {
    warn(this.options, message, details)
  }

  /** The local id of `id` if it is of this store's shard; undefined otherwise. Bad ids throw. */
  private localOf(id: number, what: string): number | undefined {
    return this.planner.localOf(id, what)
  }

  /**
   * Runs `read` now, against the keydir: acknowledged writes only, whatever is pending. Errors
   * (a closed store, a malformed id) reject the promise rather than throw.
   */
  private readNow<T>(read: () => T): Promise<T> {
    try {
      this.checkOpen()
      return Promise.resolve(read())
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Appends the records of `plans` (one write, or a batch) as one unit, then notes each in the
   * pending view; once their group commit is acknowledged, publishes them to the keydir in order
   * and releases their notes, before the promise resolves. Nothing is noted when the append
   * throws (a full disk, a failed store): the write then leaves nothing behind.
   */
  private async commitPlans(plans: readonly WritePlan[]): Promise<number> {
    const records = plans.length === 1 ? plans[0]!.records : plans.flatMap((plan) => plan.records)
    let releases: Array<() => void> = []
    const version = plans[plans.length - 1]!.version
    const placement = this.writer.append(records, (at) => {
      let offset = at.offset
      for (const plan of plans) {
        const placed = { segmentNumber: at.segmentNumber, offset }
        plan.publish(placed)
        if (plan.createdId !== undefined) this.newestWrittenLocal = Math.max(this.newestWrittenLocal, localIdOf(plan.createdId))
        // In append order, as published: the change history only grows in revision order.
        this.feed.published(plan, placed)
        for (const record of plan.records) offset += record.length
      }
      this.feed.publishedThrough(at.segmentNumber, offset)
      for (const release of releases) release()
      // Published in append order, so revisions only grow.
      this.revisionValue = version
      this.feed.wake()
    })
    releases = plans.map((plan) => plan.note(this.pending))
    await placement.durable
    return version
  }

  /** The local id of document `id` if it exists now. */
  private docNow(id: number): number | undefined {
    const local = this.localOf(id, 'document id')
    return local !== undefined && this.keydir.kind(local) === SlotKind.doc ? local : undefined
  }

  /** The local id of input `tcId` if it exists now and belongs to document `docId`. */
  private inputNow(docId: number, tcId: number): number | undefined {
    const local = this.localOf(tcId, 'test case id')
    const docLocal = this.docNow(docId)
    if (docLocal === undefined || local === undefined) return undefined
    const keydir = this.keydir
    return keydir.kind(local) === SlotKind.input && keydir.parent(local) === docLocal ? local : undefined
  }

  private metaOf(local: number, id: number): Map<string, string> {
    if (this.keydir.isCorrupt(local, 'b')) throw this.damaged(local, id, 'b', 'the metadata of document')
    const columns = this.keydir.meta(local)
    assert(columns !== undefined, `document ${id} has its metadata in memory`)
    return columns
  }

  /**
   * The error for a damaged or lost record: damaged when recovery found it with a bad checksum
   * (its place is known), lost when it sat in a stretch of the log whose headers were damaged.
   */
  private damaged(local: number, id: number, column: Column, what: string): CorruptionError {
    const location = this.keydir.location(local, column)
    return location === undefined
      ? new CorruptionError(`${what} ${id} was lost in a damaged part of the log (see the recovery report)`)
      : new CorruptionError(`${what} ${id} is damaged on disk and cannot be read`, location)
  }

  /** Reads and checks the record in column `column` of `local`; a damaged one is CORRUPTION. */
  private readColumn(local: number, id: number, column: Column, kind: RecordKind): CheckedRecord {
    if (this.keydir.isCorrupt(local, column)) throw this.damaged(local, id, column, 'the record of id')
    const location = this.keydir.location(local, column)
    assert(location !== undefined, `id ${id} has a record in column ${column}`)
    return this.reader.read(location.segmentNumber, location.offset, location.sizeBytes, id, kind)
  }

  private decodeColumnValue(local: number, id: number, column: Column, kind: RecordKind): Value {
    const record = this.readColumn(local, id, column, kind)
    return decodeValue(record.bytes, record.payloadStart, record.payloadEnd)
  }

  private pageBounds(options: PageOptions, defaultLimit: number): { afterLocal: number; limit: number } {
    if (typeof options !== 'object' || options === null) throw invalidArgument('page options must be an object')
    const limit = options.limit ?? defaultLimit
    if (!Number.isInteger(limit) || limit < 1 || limit > pageMaxItems) {
      throw invalidArgument(`limit must be an integer from 1 to ${pageMaxItems}, got ${String(options.limit)}`)
    }
    if (options.afterId === undefined) return { afterLocal: 0, limit }
    const afterLocal = this.localOf(options.afterId, 'afterId')
    if (afterLocal === undefined) throw invalidArgument(`afterId ${options.afterId} is of another shard`)
    return { afterLocal, limit }
  }

  /** The first input of the document's chain with a local id above `afterLocal`. */
  private firstInputAfter(docLocal: number, afterLocal: number): number {
    const keydir = this.keydir
    // The usual case: `afterLocal` is a live node of this chain, so its successor is next.
    if (afterLocal !== 0 && keydir.kind(afterLocal) === SlotKind.input && keydir.parent(afterLocal) === docLocal) {
      return keydir.nextInput(afterLocal)
    }
    let node = keydir.firstInput(docLocal)
    for (let visited = 0; node !== 0 && node <= afterLocal; visited++) {
      assert(visited < chainMaxNodes, 'a chain walk hit chainMaxNodes')
      node = keydir.nextInput(node)
    }
    return node
  }
}

export type { Location }
