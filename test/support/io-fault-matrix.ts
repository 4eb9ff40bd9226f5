/**
 * The I/O fault matrix: one fixed workload, run once per (operation, k, errno) with the k-th call
 * of that file-system operation failing, and a checker of what the store did and left on disk.
 *
 * The property, per run:
 *   - Every call either resolves with data the model allows, or rejects with a StratumError of a
 *     documented code. While a store serves, a rejection may be IO_ERROR or the disk-full code
 *     (when the engine has one); UNAVAILABLE or INTERNAL mean the store failed closed, and every
 *     call issued after that must reject with UNAVAILABLE or INTERNAL. A raw system error (ENOSPC,
 *     EIO without a StratumError code) reaching the caller, or any other code, is a violation.
 *   - After the store is closed and the folder reopened with the real file system, every
 *     acknowledged write is there with its exact value; a rejected write is there whole or not at
 *     all (a document's create is two records: both or neither); a write rejected with the
 *     disk-full code is not there at all (it failed before anything was queued); nothing else is.
 *   - An open through the faulty file system may fail, but only with a StratumError code.
 *   - The final reopen succeeds; a reopen refused with a StratumError code (LOCKED when the fault hit
 *     the lock's release) is counted and listed, and the folder is then checked with the stale
 *     lock file removed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { errorCodes, isStratumError } from '../../src/engine/errors.ts'
import { openStore, type Store } from '../../src/engine/store.ts'
import type { StoreOptions } from '../../src/engine/store-options.ts'
import {
  CountingFaultFileSystem,
  fileSystemOperations,
  writeOperations,
  type Fault,
  type FaultErrno,
  type FileSystemOperation,
} from '../../src/engine/testing/counting-fault-file-system.ts'
import { int64 } from '../../src/engine/values.ts'

/**
 * The engine's disk-full code, if it has one yet (being added separately): a write rejected with it
 * failed before anything was queued, so it must leave no trace, and the store keeps serving.
 */
const engineCodes: readonly string[] = errorCodes
export const diskFullCode: string | undefined = ['DISK_FULL', 'RESOURCE_EXHAUSTED'].find((code) => engineCodes.includes(code))

/** Codes a call may reject with while its store keeps serving. */
const servingCodes = new Set<string>(['IO_ERROR', ...(diskFullCode === undefined ? [] : [diskFullCode])])
/** Codes that mean the store failed closed. */
const closedCodes = new Set<string>(['UNAVAILABLE', 'INTERNAL'])

/** Where in the engine a raw error came from: its innermost engine frames, for the report. */
function engineFrames(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? '') : ''
  const frames = stack
    .split('\n')
    .filter((line) => line.includes('/src/engine/') && !line.includes('/testing/'))
    .slice(0, 3)
    .map((line) => line.trim().replace(/^at /, '').replace(/\(.*\/src\/engine\//, '(').replace(/^.*\/src\/engine\//, ''))
  return frames.length === 0 ? '' : ` [${frames.join(' < ')}]`
}

// ------------------------------------------------------------------------------------- model

interface NodeState {
  value: bigint
  output: bigint | undefined
}

interface DocState {
  html: string
  meta: Record<string, string>
  /** By node id, or `?VALUE` for a node whose add was never acknowledged (its id is unknown). */
  nodes: Map<string, NodeState>
}

/** What a write does to its document; null when the write cannot apply (its target is gone). */
type Effect = (state: DocState | undefined) => DocState | undefined | null

type Read<T> = { ok: true; value: T } | { ok: false; code: string }

/** `refused`: rejected for a precondition (NOT_FOUND, ALREADY_EXISTS), so nothing was written. */
type WriteStatus = 'pending' | 'acked' | 'rejected' | 'refused'

const noCodes: ReadonlySet<string> = new Set()
const preconditionCodes: ReadonlySet<string> = new Set(['NOT_FOUND', 'ALREADY_EXISTS'])

interface WriteEntry {
  what: string
  effect: Effect
  status: WriteStatus
  code: string | undefined
}

/** One document of the workload and every write made to it, in issue order. */
interface Slot {
  name: string
  /** Known once its create is acknowledged. */
  id: number | undefined
  /** Unique, so that a document whose create was not acknowledged can be recognised. */
  createHtml: string
  /** Node ids learnt from acknowledged adds, that later writes may target. */
  nodeIds: number[]
  /** Every node id learnt, deleted ones too: what the check knows by id. */
  everNodeIds: Set<number>
  writes: WriteEntry[]
}

function cloneDoc(state: DocState): DocState {
  return { html: state.html, meta: { ...state.meta }, nodes: new Map([...state.nodes].map(([key, node]) => [key, { ...node }])) }
}

function render(state: DocState | undefined): string {
  if (state === undefined) return 'none'
  const meta = Object.keys(state.meta)
    .sort()
    .map((key) => `${key}=${state.meta[key]}`)
  const nodes = [...state.nodes].map(([key, node]) => `${key}:${node.value}/${node.output ?? '-'}`).sort()
  return `${state.html.slice(0, 24)}…(${state.html.length})|${meta.join(',')}|${nodes.join(',')}`
}

/**
 * The renderings a document may show: every acknowledged write applied, each rejected or
 * in-flight write either applied whole or not at all, disk-full rejections never.
 */
function candidates(slot: Slot): Set<string> {
  return new Set(candidateStates(slot).map(render))
}

function candidateStates(slot: Slot): (DocState | undefined)[] {
  let states: (DocState | undefined)[] = [undefined]
  for (const write of slot.writes) {
    if (write.status === 'refused') continue
    if (write.status === 'rejected' && diskFullCode !== undefined && write.code === diskFullCode) continue
    const applied = states.map((state) => write.effect(state)).filter((state): state is DocState | undefined => state !== null)
    if (write.status === 'acked') states = applied
    else states = [...states, ...applied]
    const byRendering = new Map(states.map((state) => [render(state), state]))
    states = [...byRendering.values()]
  }
  return states
}

// ---------------------------------------------------------------------------------- results

/** `open failed`: an open through the faulty file system (the first or the middle one) was refused. */
export type Outcome = 'not fired' | 'kept serving' | 'failed closed' | 'open failed' | 'reopen refused'

export interface RunResult {
  fault: Fault | undefined
  outcome: Outcome
  /** Calls that rejected, by code (a run's error profile). */
  rejections: Map<string, number>
  /** Notable but allowed events (INTERNAL from an I/O fault, an open that failed mid-workload). */
  notes: string[]
  violations: string[]
  /** Calls per operation made through the faulty file system. */
  counts: Map<FileSystemOperation, number>
}

export function describeFault(fault: Fault | undefined): string {
  if (fault === undefined) return 'no fault'
  return `${fault.operation} #${fault.k} ${fault.errno}${fault.shortWrite === true ? ' (short write)' : ''}`
}

// --------------------------------------------------------------------------------- the run

/** One store's life in the workload: the failure state callers have observed. */
interface StoreSession {
  store: Store
  failedClosed: boolean
  /** Set once the probes of a failed-closed store were made. */
  probed: boolean
}

class Run {
  readonly slots: Slot[] = []
  readonly violations: string[] = []
  readonly notes: string[] = []
  readonly rejections = new Map<string, number>()
  failedClosedSeen = false
  private valueCounter = 0n
  session: StoreSession | undefined

  constructor(readonly fileSystem: CountingFaultFileSystem) {}

  nextValue(): bigint {
    return ++this.valueCounter
  }

  /**
   * Makes one call and judges how it settled: resolution after the store failed closed,
   * a raw system error, or an undocumented code is a violation.
   */
  async observe<T>(what: string, call: (store: Store) => Promise<T>, tolerated: ReadonlySet<string> = noCodes): Promise<Read<T>> {
    const session = this.session
    if (session === undefined) return { ok: false, code: 'NO_STORE' }
    const issuedAfterFailure = session.failedClosed
    try {
      const value = await call(session.store)
      if (issuedAfterFailure) this.violations.push(`${what} resolved although the store had failed closed`)
      return { ok: true, value }
    } catch (error) {
      if (!isStratumError(error)) {
        const code = (error as NodeJS.ErrnoException | undefined)?.code
        this.violations.push(`${what} rejected with a raw ${code ?? 'error'} (no StratumError code): ${String(error)}${engineFrames(error)}`)
        this.count(`raw ${code ?? 'error'}`)
        return { ok: false, code: `raw ${code ?? 'error'}` }
      }
      this.count(error.code)
      if (closedCodes.has(error.code)) {
        if (error.code === 'INTERNAL') this.notes.push(`${what} rejected INTERNAL after an I/O fault: ${error.message}`)
        session.failedClosed = true
        this.failedClosedSeen = true
      } else if (tolerated.has(error.code)) {
        // A precondition the model could not promise (an earlier write's fate is unknown).
      } else if (servingCodes.has(error.code)) {
        if (issuedAfterFailure) this.violations.push(`${what} rejected ${error.code} after the store failed closed (want UNAVAILABLE or INTERNAL)`)
      } else {
        this.violations.push(`${what} rejected with unexpected code ${error.code}: ${error.message}`)
      }
      return { ok: false, code: error.code }
    }
  }

  private count(code: string): void {
    this.rejections.set(code, (this.rejections.get(code) ?? 0) + 1)
  }

  /** A write to `slot`, recorded in the model before it is issued (so in-flight writes count). */
  async write<T>(slot: Slot, what: string, effect: Effect, call: (store: Store) => Promise<T>): Promise<T | undefined> {
    // When an earlier write's fate is unknown, the target may be missing (or an output already
    // set): the engine then rightly refuses the write, having written nothing.
    const uncertain = candidateStates(slot).some((state) => effect(state) === null)
    const entry: WriteEntry = { what, effect, status: 'pending', code: undefined }
    slot.writes.push(entry)
    const result = await this.observe(`${slot.name}: ${what}`, call, uncertain ? preconditionCodes : noCodes)
    if (result.ok) {
      entry.status = 'acked'
      return result.value
    }
    entry.status = uncertain && preconditionCodes.has(result.code) ? 'refused' : 'rejected'
    entry.code = result.code
    return undefined
  }

  // ------------------------------------------------------------------ the workload's writes

  async create(name: string, htmlBytes: number): Promise<Slot> {
    const createHtml = `${name} `.padEnd(htmlBytes, name.slice(-1))
    const meta = { title: `title of ${name}`, level: String(htmlBytes) }
    const slot: Slot = { name, id: undefined, createHtml, nodeIds: [], everNodeIds: new Set(), writes: [] }
    this.slots.push(slot)
    const id = await this.write(
      slot,
      'createProblem',
      () => ({ html: createHtml, meta: { ...meta }, nodes: new Map() }),
      (store) => store.createProblem(createHtml, meta),
    )
    if (id !== undefined) slot.id = id
    return slot
  }

  async add(slot: Slot): Promise<void> {
    const docId = slot.id
    if (docId === undefined) return
    const value = this.nextValue()
    const entry = await this.write(
      slot,
      `addTestCase ${value}`,
      (state) => {
        if (state === undefined) return null
        const next = cloneDoc(state)
        next.nodes.set(`?${value}`, { value, output: undefined })
        return next
      },
      (store) => store.addTestCase(docId, int64(value)),
    )
    if (entry !== undefined) {
      // Acknowledged: the node's id is known from now on; rewrite the model's placeholder key.
      slot.nodeIds.push(entry)
      slot.everNodeIds.add(entry)
      const write = slot.writes.find((candidate) => candidate.what === `addTestCase ${value}`)!
      write.effect = (state) => {
        if (state === undefined) return null
        const next = cloneDoc(state)
        next.nodes.set(String(entry), { value, output: undefined })
        return next
      }
    }
  }

  /** The `index`-th known node of `slot`, if it has that many. */
  node(slot: Slot, index: number): number | undefined {
    return slot.nodeIds[index % Math.max(1, slot.nodeIds.length)]
  }

  async updateNode(slot: Slot, index: number): Promise<void> {
    const docId = slot.id
    const tcId = this.node(slot, index)
    if (docId === undefined || tcId === undefined) return
    const value = this.nextValue()
    await this.write(
      slot,
      `updateTestCase ${tcId}=${value}`,
      (state) => {
        const node = state?.nodes.get(String(tcId))
        if (state === undefined || node === undefined) return null
        const next = cloneDoc(state)
        next.nodes.set(String(tcId), { ...node, value })
        return next
      },
      (store) => store.updateTestCase(docId, tcId, int64(value)),
    )
  }

  async setOutput(slot: Slot, index: number, kind: 'set' | 'update'): Promise<void> {
    const docId = slot.id
    const tcId = this.node(slot, index)
    if (docId === undefined || tcId === undefined) return
    const value = this.nextValue()
    await this.write(
      slot,
      `${kind}ExpectedOutput ${tcId}=${value}`,
      (state) => {
        const node = state?.nodes.get(String(tcId))
        if (state === undefined || node === undefined) return null
        // A set needs no output yet, an update needs one: the other branch cannot be acknowledged.
        if ((kind === 'set') !== (node.output === undefined)) return null
        const next = cloneDoc(state)
        next.nodes.set(String(tcId), { ...node, output: value })
        return next
      },
      (store) =>
        kind === 'set' ? store.setExpectedOutput(docId, tcId, int64(value)) : store.updateExpectedOutput(docId, tcId, int64(value)),
    )
  }

  async deleteOutput(slot: Slot, index: number): Promise<void> {
    const docId = slot.id
    const tcId = this.node(slot, index)
    if (docId === undefined || tcId === undefined) return
    await this.write(
      slot,
      `deleteExpectedOutput ${tcId}`,
      (state) => {
        const node = state?.nodes.get(String(tcId))
        if (state === undefined || node === undefined || node.output === undefined) return null
        const next = cloneDoc(state)
        next.nodes.set(String(tcId), { ...node, output: undefined })
        return next
      },
      (store) => store.deleteExpectedOutput(docId, tcId),
    )
  }

  async deleteNode(slot: Slot, index: number): Promise<void> {
    const docId = slot.id
    const tcId = this.node(slot, index)
    if (docId === undefined || tcId === undefined) return
    // Later writes of the workload must not target it, whatever this one's fate.
    slot.nodeIds = slot.nodeIds.filter((id) => id !== tcId)
    await this.write(
      slot,
      `deleteTestCase ${tcId}`,
      (state) => {
        if (state === undefined || !state.nodes.has(String(tcId))) return null
        const next = cloneDoc(state)
        next.nodes.delete(String(tcId))
        return next
      },
      (store) => store.deleteTestCase(docId, tcId),
    )
  }

  async updateHtml(slot: Slot, htmlBytes: number): Promise<void> {
    const docId = slot.id
    if (docId === undefined) return
    const html = `${slot.name} v${this.nextValue()} `.padEnd(htmlBytes, '+')
    await this.write(
      slot,
      `updateProblemHtml (${htmlBytes} bytes)`,
      (state) => (state === undefined ? null : { ...cloneDoc(state), html }),
      (store) => store.updateProblemHtml(docId, html),
    )
  }

  async updateColumn(slot: Slot, column: string): Promise<void> {
    const docId = slot.id
    if (docId === undefined) return
    const value = `v${this.nextValue()}`
    await this.write(
      slot,
      `updateProblemColumn ${column}=${value}`,
      (state) => {
        if (state === undefined) return null
        const next = cloneDoc(state)
        next.meta[column] = value
        return next
      },
      (store) => store.updateProblemColumn(docId, column, value),
    )
  }

  async deleteDoc(slot: Slot): Promise<void> {
    const docId = slot.id
    if (docId === undefined) return
    slot.id = undefined // no later write targets it
    slot.nodeIds = []
    // Keep the id for the check: the document must be gone (or, if not acknowledged, may remain).
    this.deletedIds.set(slot, docId)
    await this.write(
      slot,
      'deleteProblem',
      (state) => (state === undefined ? null : undefined),
      (store) => store.deleteProblem(docId),
    )
  }

  /** Documents deleted by the workload, with their ids (the slot no longer writes to them). */
  readonly deletedIds = new Map<Slot, number>()

  // -------------------------------------------------------------------------- the checks

  /** The id a slot's document has, if it was ever known. */
  idOf(slot: Slot): number | undefined {
    return slot.id ?? this.deletedIds.get(slot)
  }

  /**
   * Reads every document the store lists, and checks each against the model. `where` names the
   * checkpoint in messages. Reads through `read`, which is either `observe` (a live store whose
   * failures are judged) or a direct call (the reopened store, which must simply work).
   */
  async checkContents(where: string, read: <T>(what: string, call: (store: Store) => Promise<T>) => Promise<Read<T>>): Promise<void> {
    const ids: number[] = []
    let afterId: number | undefined
    for (;;) {
      const listed = await read('listProblems', (store) => store.listProblems(afterId === undefined ? {} : { afterId }))
      if (!listed.ok) return // a failure the caller has judged already
      const page = listed.value
      ids.push(...page.ids)
      if (page.nextAfterId === undefined) break
      afterId = page.nextAfterId
    }
    const observed = new Map<number, DocState>()
    /** Documents a read of which failed (allowed on a live store: judged by the caller). */
    const unreadable = new Set<number>()
    for (const id of ids) {
      const htmlRead = await read(`getProblemHtml ${id}`, (store) => store.getProblemHtml(id))
      const metaRead = await read(`getProblemMeta ${id}`, (store) => store.getProblemMeta(id))
      const nodesRead = await read(`getAllTestCases ${id}`, (store) => store.getAllTestCases(id, { includeOutputs: true }))
      if (!htmlRead.ok || !metaRead.ok || !nodesRead.ok) {
        unreadable.add(id)
        continue
      }
      const [html, meta, nodes] = [htmlRead.value, metaRead.value, nodesRead.value]
      if (html === undefined || meta === undefined || nodes === undefined) {
        this.violations.push(`${where}: document ${id} is listed but a read of it found nothing`)
        continue
      }
      if (nodes.nextAfterId !== undefined) this.violations.push(`${where}: document ${id} has more nodes than one page`)
      const state: DocState = { html, meta: { ...meta }, nodes: new Map() }
      for (const node of nodes.testCases) {
        const value = node.value.type === 'int64' ? node.value.value : -1n
        const output = node.output === undefined ? undefined : node.output.type === 'int64' ? node.output.value : -1n
        state.nodes.set(`${node.tcId}`, { value, output })
      }
      observed.set(id, state)
    }
    const claimed = new Set<number>()
    for (const slot of this.slots) {
      const id = this.idOf(slot)
      let state: DocState | undefined
      if (id !== undefined) {
        if (unreadable.has(id)) continue
        state = observed.get(id)
        claimed.add(id)
      } else {
        // An unreadable document could be this one: nothing to check then.
        if (unreadable.size > 0) continue
        // Never acknowledged: recognised by its unique text, if it is there at all.
        const match = [...observed].find(([otherId, other]) => !claimed.has(otherId) && other.html === slot.createHtml)
        if (match !== undefined) {
          claimed.add(match[0])
          state = match[1]
        }
      }
      if (state !== undefined) state = this.withModelKeys(slot, state)
      const allowed = candidates(slot)
      const found = render(state)
      if (!allowed.has(found)) {
        this.violations.push(`${where}: ${slot.name} (id ${id ?? '?'}) reads ${found}; allowed: ${[...allowed].join(' or ')}`)
      }
    }
    for (const [id, state] of observed) {
      if (!claimed.has(id) && !unreadable.has(id)) this.violations.push(`${where}: unexpected document ${id}: ${render(state)}`)
    }
  }

  /** Renames the observed nodes whose ids the model does not know to the model's `?VALUE` keys. */
  private withModelKeys(slot: Slot, state: DocState): DocState {
    const next: DocState = { html: state.html, meta: state.meta, nodes: new Map() }
    for (const [key, node] of state.nodes) next.nodes.set(slot.everNodeIds.has(Number(key)) ? key : `?${node.value}`, node)
    return next
  }
}

// ------------------------------------------------------------------------------- workload

export interface WorkloadOptions {
  /** A fresh folder, removed by the caller. */
  dir: string
  fault: Fault | undefined
}

/** Store options of every open in the workload: small segments, no background compaction. */
function storeOptions(dir: string, fileSystem: CountingFaultFileSystem | undefined): StoreOptions {
  return {
    dir,
    ...(fileSystem === undefined ? {} : { fileSystem }),
    segmentSizeBytes: 4096,
    // Background compaction would run at times that depend on the clock; compactNow() is explicit.
    compactionIntervalMs: 0,
    onWarning: () => undefined,
  }
}

/**
 * Runs the workload on a store whose file system fails as `fault` says, then checks the folder
 * with the real file system. Deterministic apart from the thread pool's timing of async calls.
 */
export async function runWorkload({ dir, fault }: WorkloadOptions): Promise<RunResult> {
  const fileSystem = new CountingFaultFileSystem(fault)
  const run = new Run(fileSystem)
  let reopenRefused = false
  let openFailed = false

  const openSession = async (what: string): Promise<boolean> => {
    try {
      run.session = { store: await openStore(storeOptions(dir, fileSystem)), failedClosed: false, probed: false }
      return true
    } catch (error) {
      run.session = undefined
      openFailed = true
      if (!isStratumError(error)) {
        run.violations.push(`${what}: openStore rejected with a raw ${(error as NodeJS.ErrnoException).code ?? 'error'}: ${String(error)}${engineFrames(error)}`)
      } else {
        run.notes.push(`${what}: openStore rejected ${error.code}: ${error.message}`)
      }
      return false
    }
  }

  /** Whether to go on with the phase; makes the probes once when the store failed closed. */
  const serving = async (): Promise<boolean> => {
    const session = run.session
    if (session === undefined) return false
    if (!session.failedClosed) return true
    if (!session.probed) {
      session.probed = true
      // Every later call must reject with UNAVAILABLE or INTERNAL: one of each kind.
      const anyId = run.slots.map((slot) => slot.id).find((id) => id !== undefined) ?? 1
      await run.observe('probe getProblemHtml', (store) => store.getProblemHtml(anyId))
      await run.observe('probe listProblems', (store) => store.listProblems())
      await run.observe('probe compactNow', (store) => store.compactNow())
      await run.create(`probe-${run.slots.length}`, 64)
    }
    return false
  }

  const closeSession = async (): Promise<void> => {
    const session = run.session
    run.session = undefined
    if (session === undefined) return
    // A failed store may reject its close; what matters is the folder it leaves.
    await session.store.close().catch(() => undefined)
  }

  const checkpoint = async (where: string): Promise<void> => {
    if (!(await serving())) return
    await run.checkContents(where, (what, call) => run.observe(`${where} ${what}`, call))
  }

  if (await openSession('first open')) {
    // Phase 1: documents created in one tick (one group commit holds several creates).
    const docs = await Promise.all(['a', 'b', 'c', 'd'].map((name, index) => run.create(`doc-${name}`, 300 + 200 * index)))
    const [a, b, c, d] = docs as [Slot, Slot, Slot, Slot]
    // Phase 2: nodes, several per tick, then outputs and updates.
    if (await serving()) await Promise.all(docs.flatMap((slot) => [run.add(slot), run.add(slot), run.add(slot)]))
    if (await serving()) {
      await Promise.all([
        run.setOutput(a, 0, 'set'),
        run.setOutput(a, 1, 'set'),
        run.setOutput(b, 0, 'set'),
        run.updateNode(c, 2),
        run.updateHtml(d, 1500),
        run.updateColumn(a, 'title'),
      ])
    }
    await checkpoint('after phase 2')
    // Phase 3: deletes and a new document, with a rotation or two from the large texts.
    if (await serving()) {
      await Promise.all([
        run.deleteNode(a, 2),
        run.deleteOutput(b, 0),
        run.deleteDoc(c),
        run.create('doc-e', 900),
        run.updateHtml(b, 2500),
        run.setOutput(d, 0, 'set'),
      ])
    }
    // Phase 4: a compaction with writes issued alongside it.
    if (await serving()) {
      const [compaction] = await Promise.all([
        run.observe('compactNow', (store) => store.compactNow()),
        run.updateNode(a, 0),
        run.setOutput(a, 0, 'update'),
        run.add(b),
        run.updateHtml(d, 700),
        run.updateColumn(b, 'level'),
      ])
      void compaction
    }
    if (await serving()) await Promise.all([run.add(d), run.add(a), run.updateNode(b, 1)])
    await checkpoint('after compaction')
    await serving()
  }
  // A close and a reopen in the middle, through the same file system: recovery's calls count too.
  await closeSession()
  if (await openSession('reopen in the middle')) {
    await checkpoint('after the reopen in the middle')
    // The first open may have failed, or stopped early: slots that were never created are skipped.
    const named = (name: string): Slot[] => run.slots.filter((slot) => slot.name === name)
    const [a, b, d, e] = ['doc-a', 'doc-b', 'doc-d', 'doc-e'].map(named) as [Slot[], Slot[], Slot[], Slot[]]
    if (await serving()) {
      await Promise.all([
        ...a.map((slot) => run.add(slot)),
        ...b.map((slot) => run.add(slot)),
        ...d.flatMap((slot) => [run.updateNode(slot, 0), run.setOutput(slot, 1, 'set')]),
        run.create('doc-f', 1200),
        ...e.flatMap((slot) => [run.add(slot), run.updateHtml(slot, 1800)]),
      ])
    }
    if (await serving()) {
      await Promise.all([
        ...b.map((slot) => run.deleteNode(slot, 0)),
        ...a.flatMap((slot) => [run.deleteOutput(slot, 0), run.updateHtml(slot, 2200)]),
        ...d.map((slot) => run.updateColumn(slot, 'extra')),
      ])
    }
    await checkpoint('at the end')
    await serving()
  }
  await closeSession()

  // The verdict on disk: reopen with the real file system.
  let reopened: Store | undefined
  try {
    reopened = await openStore(storeOptions(dir, undefined))
  } catch (error) {
    if (isStratumError(error)) {
      reopenRefused = true
      run.notes.push(`final reopen refused with ${error.code}: ${error.message}`)
      if (error.code === 'LOCKED') {
        // A LOCK left by a failed release; this process is the only one here, so it is stale.
        fs.rmSync(path.join(dir, 'LOCK'), { force: true })
        reopened = await openStore(storeOptions(dir, undefined)).catch((second: unknown) => {
          run.violations.push(`final reopen failed even without the stale LOCK: ${String(second)}`)
          return undefined
        })
      }
    } else {
      run.violations.push(`final reopen failed with a raw ${(error as NodeJS.ErrnoException).code ?? 'error'}: ${String(error)}`)
    }
  }
  if (reopened !== undefined) {
    const store = reopened
    await run.checkContents('after the final reopen', async (what, call) => {
      try {
        return { ok: true, value: await call(store) }
      } catch (error) {
        run.violations.push(`after the final reopen: ${what} failed: ${String(error)}`)
        return { ok: false, code: isStratumError(error) ? error.code : String(error) }
      }
    })
    await store.close()
  }

  const outcome: Outcome = !fileSystem.fired
    ? 'not fired'
    : reopenRefused
      ? 'reopen refused'
      : run.failedClosedSeen
        ? 'failed closed'
        : openFailed
          ? 'open failed'
          : 'kept serving'
  return { fault, outcome, rejections: run.rejections, notes: run.notes, violations: run.violations, counts: fileSystem.counts }
}

// --------------------------------------------------------------------------------- matrix

export interface MatrixOptions {
  /** Every k of every operation, when true; a deterministic spread otherwise. */
  long: boolean
  /** Called after each run, for progress. */
  onRun?: (result: RunResult, index: number, total: number) => void
}

export interface MatrixSummary {
  baseline: Map<FileSystemOperation, number>
  runs: number
  runsPerOperation: Map<FileSystemOperation, number>
  outcomes: Map<Outcome, number>
  violations: { fault: string; messages: string[] }[]
  notes: { fault: string; messages: string[] }[]
}

/** The k to try for an operation called `calls` times: all of them, or first, last and a stride. */
export function ksFor(calls: number, long: boolean): number[] {
  const all = Array.from({ length: calls }, (_, index) => index + 1)
  if (long || calls <= 12) return all
  const chosen = new Set<number>([1, 2, 3, calls - 2, calls - 1, calls])
  const stride = Math.ceil(calls / 8)
  for (let k = 1; k <= calls; k += stride) chosen.add(k)
  return [...chosen].sort((x, y) => x - y)
}

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-io-faults-'))
}

export function planMatrix(baseline: Map<FileSystemOperation, number>, long: boolean): Fault[] {
  const faults: Fault[] = []
  const errnos: FaultErrno[] = ['ENOSPC', 'EIO']
  for (const operation of fileSystemOperations) {
    const calls = baseline.get(operation) ?? 0
    for (const k of ksFor(calls, long)) {
      for (const errno of errnos) faults.push({ operation, k, errno })
      // A write that runs out of space part way, as a real writev on a full disk can.
      if (writeOperations.includes(operation)) faults.push({ operation, k, errno: 'ENOSPC', shortWrite: true })
    }
  }
  return faults
}

export async function runMatrix({ long, onRun }: MatrixOptions): Promise<MatrixSummary> {
  const baselineDir = makeTempDir()
  let baselineResult: RunResult
  try {
    baselineResult = await runWorkload({ dir: baselineDir, fault: undefined })
  } finally {
    fs.rmSync(baselineDir, { recursive: true, force: true })
  }
  const summary: MatrixSummary = {
    baseline: new Map(baselineResult.counts),
    runs: 0,
    runsPerOperation: new Map(),
    outcomes: new Map(),
    violations: [],
    notes: [],
  }
  if (baselineResult.violations.length > 0) summary.violations.push({ fault: 'no fault', messages: baselineResult.violations })
  const faults = planMatrix(summary.baseline, long)
  for (const [index, fault] of faults.entries()) {
    const dir = makeTempDir()
    let result: RunResult
    try {
      result = await runWorkload({ dir, fault })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    summary.runs++
    summary.runsPerOperation.set(fault.operation, (summary.runsPerOperation.get(fault.operation) ?? 0) + 1)
    summary.outcomes.set(result.outcome, (summary.outcomes.get(result.outcome) ?? 0) + 1)
    if (result.violations.length > 0) summary.violations.push({ fault: describeFault(fault), messages: result.violations })
    if (result.notes.length > 0) summary.notes.push({ fault: describeFault(fault), messages: result.notes })
    onRun?.(result, index, faults.length)
  }
  return summary
}

export function formatSummary(summary: MatrixSummary): string {
  const lines: string[] = []
  lines.push(`baseline calls: ${[...summary.baseline].filter(([, n]) => n > 0).map(([op, n]) => `${op}=${n}`).join(' ')}`)
  lines.push(`runs: ${summary.runs}`)
  lines.push(`runs per operation: ${[...summary.runsPerOperation].map(([op, n]) => `${op}=${n}`).join(' ')}`)
  lines.push(`outcomes: ${[...summary.outcomes].map(([outcome, n]) => `${outcome}=${n}`).join(', ')}`)
  lines.push(`violations: ${summary.violations.length}`)
  for (const { fault, messages } of summary.violations) lines.push(`  ${fault}: ${messages.join(' | ')}`)
  return lines.join('\n')
}
