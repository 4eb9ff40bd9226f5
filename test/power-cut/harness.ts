/**
 * One power-cut run and its check, shared by test/power-cut.test.ts (short mode, in CI) and
 * test/power-cut/run.ts (`npm run powercut -- --cuts 5000`).
 *
 * A run: a store on a PowerCutFileSystem with tiny segments (so that rotations, sealed-segment
 * hints and compactions happen within a few hundred calls), several writers each making
 * sequential writes of every kind to documents of their own, concurrently (so that writes share
 * group commits), in some runs `compactNow()` calls alongside and a close and reopen in the
 * middle. The power goes off at call `cutAtCall` of the file system, wherever that falls (inside
 * a sync, a rename, a hint write, a compaction, a recovery); the folder is rewritten to one state
 * the cut may leave, and reopened with the real file system.
 *
 * The property: the reopened store holds exactly the acknowledged state plus, at most, whole
 * unacknowledged operations. A writer has at most one operation in flight (the one the cut
 * failed), so for each writer the check is: every document reads as the acknowledged model, or
 * (the in-flight operation's document only) as the model with that operation applied whole. Ids
 * of acknowledged creates read back as what was created; a document that no acknowledged create
 * made is allowed only as the whole result of a create in flight. Every read must succeed: a
 * CORRUPTION or DATA_LOSS read is a violation. The store is then closed and opened once more,
 * and must read the same.
 *
 * Compaction runs in a worker thread that uses node:fs directly, so its own file writes do not
 * go through the simulator (they count as durable when the simulator first sees them); its
 * commit file, renames and removals do. Once the compaction job runs through the store's
 * FileSystem, these runs cover its writes too, with no change here.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type Store } from '../../src/engine/store.ts'
import type { StoreOptions } from '../../src/engine/store-options.ts'
import { isStratumError } from '../../src/engine/errors.ts'
import { int64 } from '../../src/engine/values.ts'
import { PowerCutFileSystem, type PowerCutMutant } from '../../src/engine/testing/power-cut-file-system.ts'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'

export interface CutRunOptions {
  seed: number
  sectorBytes: 512 | 4096
  /** The file-system call at which the power goes off. */
  cutAtCall: number
  writerCount: number
  /** Call `compactNow()` while the writers run. */
  compaction: boolean
  /** Close and reopen the store (same simulated disk) at this call, if set. */
  reopenAtCall: number | undefined
  mutant?: PowerCutMutant
}

export interface CutRunResult {
  options: CutRunOptions
  /** Calls made before the cut (the cut call excluded), or all of them if the workload ended first. */
  callsBeforeCut: number
  violations: string[]
  acknowledged: number
  inFlightApplied: number
  inFlightNotApplied: number
  /** What recovery warned about (torn tails, damaged records), for the report. */
  warnings: string[]
  /** Unsynced sectors and directory operations the cut found. */
  cutStats: { cutCall: string; dirtySectors: number; pendingDirectoryOps: number }
}

/** Upper bound of `cutAtCall` in the derived plans: enough calls for many rotations. */
export const cutCallsMax = 1200

/** The plan of run `seed`: everything derived from the seed, so that a run can be replayed. */
export function planOfSeed(seed: number, mutant?: PowerCutMutant): CutRunOptions {
  const random = seededRandom(seed * 7919 + 17)
  const cutAtCall = 1 + Math.floor(random() * cutCallsMax)
  const reopen = random() < 0.25
  const options: CutRunOptions = {
    seed,
    sectorBytes: seed % 2 === 0 ? 512 : 4096,
    cutAtCall,
    writerCount: 4 + Math.floor(random() * 9),
    compaction: random() < 0.3,
    reopenAtCall: reopen ? Math.floor(cutAtCall * random()) : undefined,
  }
  if (mutant !== undefined) options.mutant = mutant
  return options
}

// ---------------------------------------------------------------- the workload and its model

interface NodeModel {
  value: bigint
  output: bigint | undefined
}

interface DocModel {
  html: string
  meta: Record<string, string>
  /** In chain order (a Map keeps insertion order; adds go to the end). */
  nodes: Map<number, NodeModel>
}

type Op =
  | { kind: 'create'; html: string; meta: Record<string, string> }
  | { kind: 'add'; docId: number; value: bigint }
  | { kind: 'update'; docId: number; tcId: number; value: bigint }
  | { kind: 'setOutput'; docId: number; tcId: number; value: bigint }
  | { kind: 'updateOutput'; docId: number; tcId: number; value: bigint }
  | { kind: 'deleteNode'; docId: number; tcId: number }
  | { kind: 'html'; docId: number; html: string }
  | { kind: 'deleteDoc'; docId: number }

/**
 * An html text, short: its words and its length. Enough to tell texts apart, since every text is
 * "w<writer> html <unique number>" with or without a run of 'x's.
 */
function shortHtml(html: string): string {
  return html.length <= 40 ? JSON.stringify(html) : `${JSON.stringify(html.slice(0, 24))}…(${html.length} chars)`
}

function describeOp(op: Op): string {
  const { kind, ...fields } = op
  const described = Object.entries(fields).map(([key, value]) => `${key}=${key === 'html' ? shortHtml(String(value)) : JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? String(inner) : inner))}`)
  return `${kind}(${described.join(', ')})`
}

class Writer {
  /** Acknowledged state of the documents this writer created. */
  readonly docs = new Map<number, DocModel>()
  readonly deletedDocs = new Set<number>()
  /** Node ids acknowledged by this writer, live or deleted. */
  readonly nodeIds = new Set<number>()
  inFlight: Op | undefined
  busy = false
  acknowledged = 0
  private counter = 0

  constructor(
    readonly index: number,
    private readonly random: () => number,
  ) {}

  /** A value no other write of any writer uses, so that every value read names its write. */
  private fresh(): number {
    return this.index * 1_000_000 + ++this.counter
  }

  /**
   * An html text naming its write, padded to 200-1,200 bytes now and then: records that span
   * several sectors are what out-of-order writeback can tear in the middle. Not often: with
   * 4 KiB segments, big records make rotations (and their calls) the most of a run.
   */
  private html(): string {
    const text = `w${this.index} html ${this.fresh()}`
    return this.random() < 0.6 ? text : `${text} ${'x'.repeat(200 + Math.floor(this.random() * 1000))}`
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!
  }

  choose(): Op {
    const docIds = [...this.docs.keys()]
    const roll = this.random()
    if (docIds.length === 0 || roll < 0.06) {
      return { kind: 'create', html: this.html(), meta: { writer: String(this.index), n: String(this.counter) } }
    }
    const docId = this.pick(docIds)
    const doc = this.docs.get(docId)!
    const tcIds = [...doc.nodes.keys()]
    if (roll < 0.08 && docIds.length > 1) return { kind: 'deleteDoc', docId }
    if (roll < 0.2) return { kind: 'html', docId, html: this.html() }
    if (tcIds.length === 0 || roll < 0.5) return { kind: 'add', docId, value: BigInt(this.fresh()) }
    const tcId = this.pick(tcIds)
    if (roll < 0.65) return { kind: 'update', docId, tcId, value: BigInt(this.fresh()) }
    if (roll < 0.85) {
      const kind = doc.nodes.get(tcId)!.output === undefined ? 'setOutput' : 'updateOutput'
      return { kind, docId, tcId, value: BigInt(this.fresh()) }
    }
    return { kind: 'deleteNode', docId, tcId }
  }

  /** Makes `op` against `store`; resolves to the id a create or add returned. */
  async perform(store: Store, op: Op): Promise<number | undefined> {
    switch (op.kind) {
      case 'create':
        return store.createProblem(op.html, op.meta)
      case 'add':
        return store.addTestCase(op.docId, int64(op.value))
      case 'update':
        return void (await store.updateTestCase(op.docId, op.tcId, int64(op.value)))
      case 'setOutput':
        return void (await store.setExpectedOutput(op.docId, op.tcId, int64(op.value)))
      case 'updateOutput':
        return void (await store.updateExpectedOutput(op.docId, op.tcId, int64(op.value)))
      case 'deleteNode':
        return void (await store.deleteTestCase(op.docId, op.tcId))
      case 'html':
        return void (await store.updateProblemHtml(op.docId, op.html))
      case 'deleteDoc':
        return void (await store.deleteProblem(op.docId))
    }
  }

  acknowledge(op: Op, id: number | undefined): void {
    this.acknowledged++
    if (op.kind === 'create') {
      this.docs.set(id!, { html: op.html, meta: { ...op.meta }, nodes: new Map() })
      return
    }
    if (op.kind === 'deleteDoc') {
      this.docs.delete(op.docId)
      this.deletedDocs.add(op.docId)
      return
    }
    const next = applyToDoc(this.docs.get(op.docId)!, op, id)
    this.docs.set(op.docId, next)
    if (op.kind === 'add') this.nodeIds.add(id!)
  }
}

/** `doc` with `op` applied (a copy); for an add, `tcId` is the new node's id. */
function applyToDoc(doc: DocModel, op: Exclude<Op, { kind: 'create' | 'deleteDoc' }>, tcId: number | undefined): DocModel {
  const next: DocModel = { html: doc.html, meta: doc.meta, nodes: new Map([...doc.nodes].map(([id, node]) => [id, { ...node }])) }
  switch (op.kind) {
    case 'add':
      next.nodes.set(tcId!, { value: op.value, output: undefined })
      break
    case 'update':
      next.nodes.get(op.tcId)!.value = op.value
      break
    case 'setOutput':
    case 'updateOutput':
      next.nodes.get(op.tcId)!.output = op.value
      break
    case 'deleteNode':
      next.nodes.delete(op.tcId)
      break
    case 'html':
      next.html = op.html
      break
  }
  return next
}

/** A document as read back, or as the model says it should read, in one comparable string. */
function renderDoc(doc: DocModel | Unreadable | undefined): string {
  if (doc === undefined) return 'absent'
  if (doc === unreadable) return 'unreadable'
  const nodes = [...doc.nodes].map(([id, node]) => `${id}=${node.value}/${node.output ?? '-'}`)
  return `${shortHtml(doc.html)} meta=${JSON.stringify(doc.meta)} [${nodes.join(' ')}]`
}

// ---------------------------------------------------------------- reading a store back

/** A document a read of failed (the failure is a violation of its own). */
const unreadable = Symbol('unreadable')
type Unreadable = typeof unreadable

interface Observed {
  /** Every document by id, read with every read the API has for it. */
  docs: Map<number, DocModel | Unreadable | undefined>
  /** Why each unreadable document could not be read. */
  readErrors: Map<number, string>
  listed: number[]
  problems: string[]
}

async function readDoc(store: Store, docId: number, problems: string[], readErrors: Map<number, string>): Promise<DocModel | Unreadable | undefined> {
  try {
    const html = await store.getProblemHtml(docId)
    const meta = await store.getProblemMeta(docId)
    const page = await store.getAllTestCases(docId, { includeOutputs: true })
    if (html === undefined && meta === undefined && page === undefined) return undefined
    if (html === undefined || meta === undefined || page === undefined) {
      problems.push(`document ${docId}: html, metadata and node reads disagree on whether it exists`)
      return unreadable
    }
    const nodes = new Map<number, NodeModel>()
    for (const testCase of page.testCases) {
      if (testCase.value.type !== 'int64' || (testCase.output !== undefined && testCase.output.type !== 'int64')) {
        problems.push(`document ${docId}: node ${testCase.tcId} holds a value no writer wrote`)
        continue
      }
      nodes.set(testCase.tcId, { value: testCase.value.value, output: testCase.output?.value as bigint | undefined })
    }
    if (page.nextAfterId !== undefined) problems.push(`document ${docId}: more nodes than one page`)
    return { html, meta, nodes }
  } catch (error) {
    const code = isStratumError(error) ? error.code : 'non-Stratum error'
    readErrors.set(docId, `${code}: ${error instanceof Error ? error.message : String(error)}`)
    return unreadable
  }
}

async function observe(store: Store, knownDocIds: Iterable<number>): Promise<Observed> {
  const problems: string[] = []
  const listed: number[] = []
  try {
    let afterId: number | undefined
    // Bounded: each page moves past its last id.
    for (;;) {
      const page = await store.listProblems(afterId === undefined ? { limit: 50 } : { limit: 50, afterId })
      listed.push(...page.ids)
      if (page.nextAfterId === undefined) break
      afterId = page.nextAfterId
    }
  } catch (error) {
    problems.push(`listing documents failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  const docs = new Map<number, DocModel | Unreadable | undefined>()
  const readErrors = new Map<number, string>()
  for (const docId of new Set([...knownDocIds, ...listed])) docs.set(docId, await readDoc(store, docId, problems, readErrors))
  for (const [docId, doc] of docs) {
    if (doc === unreadable || (doc !== undefined) === listed.includes(docId)) continue
    problems.push(`document ${docId} is ${doc === undefined ? '' : 'not '}listed but reads as ${renderDoc(doc)}`)
  }
  return { docs, readErrors, listed, problems }
}

function renderObserved(observed: Observed): string {
  return [...observed.docs].map(([id, doc]) => `${id}: ${renderDoc(doc)}`).sort().join('\n')
}

// ---------------------------------------------------------------- the check

interface CheckOutcome {
  violations: string[]
  inFlightApplied: number
  inFlightNotApplied: number
}

function check(writers: readonly Writer[], observed: Observed, label: string): CheckOutcome {
  const violations = observed.problems.map((problem) => `${label}: ${problem}`)
  let inFlightApplied = 0
  let inFlightNotApplied = 0
  const knownDocs = new Set<number>()
  const allNodeIds = new Set<number>()
  for (const writer of writers) {
    for (const docId of [...writer.docs.keys(), ...writer.deletedDocs]) knownDocs.add(docId)
    for (const tcId of writer.nodeIds) allNodeIds.add(tcId)
  }
  const extraDocs = new Set(observed.listed.filter((docId) => !knownDocs.has(docId)))

  for (const writer of writers) {
    const op = writer.inFlight
    let applied = false
    for (const docId of [...writer.docs.keys(), ...writer.deletedDocs]) {
      const expected = writer.docs.get(docId)
      const found = observed.docs.get(docId)
      const inFlight = op === undefined ? '' : `, in flight ${describeOp(op)}`
      if (found === unreadable) {
        violations.push(`${label}: writer ${writer.index}, document ${docId}: read failed (${observed.readErrors.get(docId)}); acknowledged ${renderDoc(expected)}${inFlight}`)
        continue
      }
      const foundText = renderDoc(found)
      if (foundText === renderDoc(expected)) continue
      if (op !== undefined && op.kind !== 'create' && op.docId === docId) {
        if (op.kind === 'deleteDoc' && found === undefined) {
          applied = true
          continue
        }
        if (op.kind === 'add' && expected !== undefined && found !== undefined) {
          // The new node's id was never returned: accept any id no acknowledged node has.
          const newIds = [...found.nodes.keys()].filter((id) => !expected.nodes.has(id))
          const newId = newIds[0]
          if (newIds.length === 1 && !allNodeIds.has(newId!) && foundText === renderDoc(applyToDoc(expected, op, newId))) {
            applied = true
            continue
          }
        } else if (op.kind !== 'deleteDoc' && op.kind !== 'add' && expected !== undefined && foundText === renderDoc(applyToDoc(expected, op, undefined))) {
          applied = true
          continue
        }
      }
      violations.push(`${label}: writer ${writer.index}, document ${docId} reads ${foundText}; acknowledged ${renderDoc(expected)}${inFlight}`)
    }
    if (op?.kind === 'create') {
      // A create in flight may have made one document, whole, under an id nobody was given.
      for (const docId of extraDocs) {
        if (renderDoc(observed.docs.get(docId)) === renderDoc({ html: op.html, meta: op.meta, nodes: new Map() })) {
          extraDocs.delete(docId)
          applied = true
          break
        }
      }
    }
    if (op !== undefined) {
      if (applied) inFlightApplied++
      else inFlightNotApplied++
    }
  }
  const creates = writers.flatMap((writer) => (writer.inFlight?.kind === 'create' ? [`writer ${writer.index}: ${describeOp(writer.inFlight)}`] : []))
  for (const docId of extraDocs) {
    if (observed.docs.get(docId) === unreadable) {
      violations.push(
        `${label}: document ${docId}, made by no acknowledged create: read failed (${observed.readErrors.get(docId)}); ` +
          `creates in flight: ${creates.length === 0 ? 'none' : creates.join('; ')}`,
      )
      continue
    }
    violations.push(`${label}: document ${docId} reads ${renderDoc(observed.docs.get(docId))}, which no create made`)
  }
  return { violations, inFlightApplied, inFlightNotApplied }
}

// ---------------------------------------------------------------- one run

/** A pid no process can have: above Linux's largest pid_max (2^22). */
const deadPid = 2 ** 22 + 1

/**
 * The LOCK the cut left names this test process, which is alive, so the engine would rightly
 * refuse it ("already open in this process"); a real power cut kills the holder. Give it a pid
 * that cannot be running, so that the engine must take it over as stale. A torn LOCK (one that
 * does not parse) is left as it is: the engine must treat it as stale itself.
 */
function markLockHolderGone(dir: string): void {
  const path = join(dir, 'LOCK')
  if (!existsSync(path)) return
  let holder: { pid?: unknown }
  try {
    holder = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown }
  } catch {
    return
  }
  if (holder.pid === process.pid) writeFileSync(path, `${JSON.stringify({ ...holder, pid: deadPid })}\n`)
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Where runs make their folders: /dev/shm when there is one. The reopens use the real file system,
 * whose syncs are not what is tested, and on a disk they would be most of a run's time.
 */
function runsFolder(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
}

export async function runCut(options: CutRunOptions): Promise<CutRunResult> {
  const dir = mkdtempSync(join(runsFolder(), 'stratum-powercut-'))
  try {
    return await runCutIn(dir, options)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function runCutIn(dir: string, options: CutRunOptions): Promise<CutRunResult> {
  const storeDir = join(dir, 'store')
  const fileSystem = new PowerCutFileSystem({
    dir: storeDir,
    sectorBytes: options.sectorBytes,
    cutAtCall: options.cutAtCall,
    ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
  })
  const warnings: string[] = []
  const storeOptions: StoreOptions = {
    dir: storeDir,
    segmentSizeBytes: 4096,
    compactionIntervalMs: 0,
    cacheSizeBytes: 64 * 1024,
    onWarning: (message, details) => warnings.push(`${message} ${JSON.stringify(details)}`),
  }
  const violations: string[] = []
  const writers = Array.from({ length: options.writerCount }, (_, index) => new Writer(index, seededRandom(options.seed * 1009 + index)))
  let store: Store | undefined
  let paused = false
  let resume: () => void = () => undefined
  let resumed = Promise.resolve()
  const writerDone = new Set<Writer>()
  const running = (): boolean => !fileSystem.isCut && writers.some((writer) => !writerDone.has(writer))

  const writerLoop = async (writer: Writer): Promise<void> => {
    // Bounded: a cut ends it far sooner in any plan.
    for (let step = 0; step < 20_000; step++) {
      // Bounded: the reopen resumes the writers or the cut stops them.
      while (paused) await resumed
      if (store === undefined || fileSystem.isCut) return
      const op = writer.choose()
      writer.inFlight = op
      writer.busy = true
      try {
        const id = await writer.perform(store, op)
        writer.acknowledge(op, id)
        writer.inFlight = undefined
      } catch (error) {
        if (!fileSystem.isCut) {
          violations.push(`writer ${writer.index}: ${describeOp(op)} failed before the cut: ${error instanceof Error ? error.message : String(error)}`)
        }
        return
      } finally {
        writer.busy = false
      }
    }
  }

  const compactionLoop = async (): Promise<void> => {
    const random = seededRandom(options.seed * 31 + 5)
    // Bounded: each pass waits for writes, which the cut ends.
    while (running()) {
      const acknowledged = (): number => writers.reduce((sum, writer) => sum + writer.acknowledged, 0)
      const target = acknowledged() + 20 + Math.floor(random() * 80)
      while (running() && acknowledged() < target) await nextTurn()
      if (!running() || paused || store === undefined) continue
      await store.compactNow().catch(() => undefined) // fails with the cut, or when closed for the reopen
    }
  }

  const reopenLoop = async (reopenAtCall: number): Promise<void> => {
    while (running() && fileSystem.callCount < reopenAtCall) await nextTurn()
    if (!running()) return
    resumed = new Promise((resolve) => (resume = resolve))
    paused = true
    while (writers.some((writer) => writer.busy)) await nextTurn()
    try {
      await store!.close()
      store = await openStore({ ...storeOptions, fileSystem })
    } catch {
      store = undefined // the cut came during the close or the reopen
    }
    paused = false
    resume()
  }

  try {
    store = await openStore({ ...storeOptions, fileSystem })
  } catch {
    store = undefined // the cut came during the first open
  }
  if (store !== undefined) {
    const tasks = writers.map((writer) => writerLoop(writer).finally(() => writerDone.add(writer)))
    if (options.compaction) tasks.push(compactionLoop())
    if (options.reopenAtCall !== undefined) tasks.push(reopenLoop(options.reopenAtCall))
    await Promise.all(tasks)
  }
  const callsBeforeCut = fileSystem.isCut ? Math.min(fileSystem.callCount, options.cutAtCall - 1) : fileSystem.callCount
  fileSystem.cut()
  // Stops the compaction worker; the rest of the close fails, the power being off.
  await store?.close().catch(() => undefined)
  fileSystem.materialize(seededRandom(options.seed * 65_537 + 3))
  markLockHolderGone(storeDir)

  let inFlightApplied = 0
  let inFlightNotApplied = 0
  const knownDocIds = writers.flatMap((writer) => [...writer.docs.keys(), ...writer.deletedDocs])
  let firstView: string | undefined
  for (const label of ['reopen after the cut', 'second reopen']) {
    let reopened: Store
    try {
      reopened = await openStore({ ...storeOptions })
    } catch (error) {
      violations.push(`${label} failed: ${error instanceof Error ? error.message : String(error)}`)
      break
    }
    try {
      const observed = await observe(reopened, knownDocIds)
      if (firstView === undefined) {
        const outcome = check(writers, observed, label)
        violations.push(...outcome.violations)
        inFlightApplied = outcome.inFlightApplied
        inFlightNotApplied = outcome.inFlightNotApplied
        firstView = renderObserved(observed)
      } else if (renderObserved(observed) !== firstView) {
        violations.push(`${label}: reads differently from the first reopen:\n${renderObserved(observed)}\nversus\n${firstView}`)
      }
    } finally {
      await reopened.close()
    }
  }
  return {
    options,
    callsBeforeCut,
    violations,
    acknowledged: writers.reduce((sum, writer) => sum + writer.acknowledged, 0),
    inFlightApplied,
    inFlightNotApplied,
    warnings,
    cutStats: { ...fileSystem.cutStats },
  }
}

/** The command that replays one run. */
export function describeRun(options: CutRunOptions): string {
  return (
    `seed ${options.seed} (cut at call ${options.cutAtCall}, ${options.sectorBytes}-byte sectors, ${options.writerCount} writers` +
    `${options.compaction ? ', compactions' : ''}${options.reopenAtCall === undefined ? '' : `, reopen at call ${options.reopenAtCall}`}` +
    `${options.mutant === undefined ? '' : `, mutant ${options.mutant}`})`
  )
}
