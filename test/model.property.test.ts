/**
 * Model-based property test of the Store API.
 *
 * fast-check generates random sequences of every operation of the API (with random values of all
 * six types, edge values included), of batches of writes made concurrently (so that they share
 * group commits; in some, every document is read in the same tick, which must show none of the
 * writes, and again as each write resolves, which must show it and every write called before it), of compactions (alone, or with writes made while they run; and in some runs
 * a background compactor waking every few milliseconds), and of close/reopen, and runs each against a real store and against a plain
 * in-memory model (Maps). Every read is compared with the model; every call that the model says
 * must fail (an unknown id, a node of another document, a deleted id, an output set twice or
 * missing, a malformed id, a foreign shard's afterId) must fail with the error code the model
 * predicts. After each sequence (and after each reopen) the whole store is compared with the
 * model, stats() included, and every id the store ever issued must have been fresh.
 *
 * Operations name ids indirectly ("a live node", "a deleted document", "an id of another shard",
 * with a number to pick one): the ids are resolved against the model when the operation runs, so
 * that shrinking keeps sequences meaningful.
 *
 * Reproducing a failure: fast-check prints the seed and path of the counterexample; run
 *   STRATUM_MODEL_SEED=<seed> STRATUM_MODEL_PATH=<path> node --import tsx --test test/model.property.test.ts
 * STRATUM_MODEL_RUNS sets the number of runs (default 100); STRATUM_MODEL_STATS=1 prints what the
 * runs exercised.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalValue } from './support/canonical-value.ts'
import {
  double,
  int64,
  int64List,
  limits,
  openStore,
  string,
  stringList,
  stringMap,
  StratumError,
  type ErrorCode,
  type Batch,
  type ChangeEvent,
  type Watch,
  type WatchEvent,
  type Store,
  type SyncMode,
  type TestCase,
  type TestCasePage,
  type Value,
} from '../src/engine/index.ts'

// ---------------------------------------------------------------- ids

const localIdSpan = 2 ** limits.localIdBits
const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/** Ids that are malformed whatever the store holds. */
const malformedIds = [0, -1, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 40)]

function isMalformed(id: number): boolean {
  return !(Number.isSafeInteger(id) && id > 0)
}

function shardOf(id: number): number {
  return Math.floor(id / localIdSpan)
}

// ---------------------------------------------------------------- the model

/** A change event as a watcher with values gets it, without its revision. */
type ExpectedEvent = Omit<ChangeEvent, 'kind' | 'revision'>

interface DocModel {
  html: string
  meta: Map<string, string>
  /** Input node ids in chain order. */
  chain: number[]
}

interface NodeModel {
  docId: number
  value: Value
  output: Value | undefined
}

class Model {
  readonly docs = new Map<number, DocModel>()
  readonly nodes = new Map<number, NodeModel>()
  /** Every id the store issued, in order. */
  readonly issued: number[] = []
  readonly issuedSet = new Set<number>()
  readonly deletedDocs: number[] = []
  /** Deleted nodes with the document they belonged to. */
  readonly deletedNodes: Array<{ docId: number; tcId: number }> = []
  /**
   * Ids the store took for a batch that was then refused: never returned, and not issued again
   * until a reopen (see `reopen`). The store issues ids in sequence, so the model knows which
   * (see `runBatch`).
   */
  readonly burned: number[] = []
  /**
   * The change events the writes applied since the last check must give a watcher, in order
   * (see `checkWatcher`). A copy starts with none: a batch's trial run gives no event.
   */
  readonly events: ExpectedEvent[] = []

  constructor(readonly shard: number) {}

  /** A deep copy, with every list in the same order (ids resolve the same against it). */
  clone(): Model {
    const copy = new Model(this.shard)
    for (const [id, doc] of this.docs) copy.docs.set(id, { html: doc.html, meta: new Map(doc.meta), chain: [...doc.chain] })
    for (const [id, node] of this.nodes) copy.nodes.set(id, { ...node })
    copy.issued.push(...this.issued)
    for (const id of this.issuedSet) copy.issuedSet.add(id)
    copy.deletedDocs.push(...this.deletedDocs)
    copy.deletedNodes.push(...this.deletedNodes.map((node) => ({ ...node })))
    copy.burned.push(...this.burned)
    return copy
  }

  /** Records an id the store just issued, which must be a fresh id of this store's shard. */
  issue(id: number): void {
    assert.ok(Number.isSafeInteger(id) && id > 0, `issued id ${id} is not a positive safe integer`)
    assert.equal(shardOf(id), this.shard, `issued id ${id} is not of shard ${this.shard}`)
    assert.ok(!this.issuedSet.has(id), `id ${id} was issued twice (issued before: ${this.issued.join(', ')})`)
    this.issued.push(id)
    this.issuedSet.add(id)
  }

  liveDocIds(): number[] {
    return [...this.docs.keys()].sort((left, right) => left - right)
  }

  liveNodeIds(): number[] {
    return [...this.nodes.keys()].sort((left, right) => left - right)
  }

  /** An id of this shard that has not been issued yet (nor is `localIdMax` ever reached here). */
  /** The local part of the newest id the store took, issued or burned; 0 for none. */
  newestLocal(): number {
    const taken = [...this.issued, ...this.burned]
    return taken.length === 0 ? 0 : Math.max(...taken) - this.shard * localIdSpan
  }

  /** The id the store issues next, and the ones after it. */
  nextId(after = 0): number {
    return this.shard * localIdSpan + this.newestLocal() + 1 + after
  }

  unissued(pick: number): number {
    const newestLocal = this.newestLocal()
    return pick % 7 === 6 ? this.shard * localIdSpan + limits.localIdMax : this.shard * localIdSpan + newestLocal + 1 + (pick % 50)
  }

  otherShard(pick: number): number {
    const shard = this.shard === 0 ? 1 : this.shard - 1
    return shard * localIdSpan + 1 + (pick % 100)
  }

  deleteDoc(docId: number): void {
    const doc = this.docs.get(docId)!
    for (const tcId of doc.chain) {
      this.nodes.delete(tcId)
      this.deletedNodes.push({ docId, tcId })
    }
    this.docs.delete(docId)
    this.deletedDocs.push(docId)
  }

  deleteNode(tcId: number): void {
    const node = this.nodes.get(tcId)!
    const doc = this.docs.get(node.docId)!
    doc.chain.splice(doc.chain.indexOf(tcId), 1)
    this.nodes.delete(tcId)
    this.deletedNodes.push({ docId: node.docId, tcId })
  }

  /** The error a write naming document `docId` must fail with, if any. */
  docWriteError(docId: number): ErrorCode | undefined {
    if (isMalformed(docId)) return 'INVALID_ARGUMENT'
    return this.docs.has(docId) ? undefined : 'NOT_FOUND'
  }

  /** The error a write naming node `tcId` of document `docId` must fail with, if any. */
  nodeWriteError(docId: number, tcId: number): ErrorCode | undefined {
    if (isMalformed(docId) || isMalformed(tcId)) return 'INVALID_ARGUMENT'
    if (!this.docs.has(docId)) return 'NOT_FOUND'
    return this.nodes.get(tcId)?.docId === docId ? undefined : 'NOT_FOUND'
  }

  /** The node a read of `tcId` with document `docId` finds (undefined when none). */
  readNode(docId: number, tcId: number): NodeModel | undefined {
    const node = this.nodes.get(tcId)
    return node !== undefined && node.docId === docId && this.docs.has(docId) ? node : undefined
  }

  /** The error a page request with `afterId` must fail with, if any. */
  afterIdError(afterId: number | undefined): ErrorCode | undefined {
    if (afterId === undefined) return undefined
    if (isMalformed(afterId) || shardOf(afterId) !== this.shard) return 'INVALID_ARGUMENT'
    return undefined
  }

  problemPage(afterId: number | undefined, limit: number | undefined): { ids: number[]; nextAfterId?: number } {
    const after = afterId ?? 0
    const ids = this.liveDocIds().filter((id) => id > after)
    const pageSize = limit ?? limits.listProblemsDefaultLimit
    const page = ids.slice(0, pageSize)
    return ids.length > pageSize ? { ids: page, nextAfterId: page[page.length - 1]! } : { ids: page }
  }

  testCasePage(docId: number, afterId: number | undefined, limit: number | undefined, includeOutputs: boolean): TestCasePage {
    const after = afterId ?? 0
    const chain = this.docs.get(docId)!.chain.filter((id) => id > after)
    const pageSize = limit ?? chain.length
    const testCases = chain.slice(0, pageSize).map((tcId): TestCase => {
      const node = this.nodes.get(tcId)!
      const testCase: TestCase = { tcId, value: node.value }
      if (includeOutputs && node.output !== undefined) testCase.output = node.output
      return testCase
    })
    return chain.length > pageSize ? { testCases, nextAfterId: testCases[testCases.length - 1]!.tcId } : { testCases }
  }
}

// ---------------------------------------------------------------- comparing

/** Tagged values are equal: doubles by Object.is (NaN, -0), lists and maps in order. */
function assertSameValue(actual: Value | undefined, expected: Value | undefined, what: string): void {
  if (expected === undefined || actual === undefined) {
    assert.equal(actual, expected, what)
    return
  }
  assert.deepStrictEqual(Object.keys(actual).sort(), ['type', 'value'], what)
  assert.equal(actual.type, expected.type, what)
  switch (expected.type) {
    case 'double':
      assert.ok(Object.is(actual.value, expected.value), `${what}: double ${String(actual.value)}, expected ${String(expected.value)}`)
      return
    case 'stringMap':
      assert.ok(actual.value instanceof Map, `${what}: a stringMap holds a Map`)
      assert.deepStrictEqual([...(actual.value as ReadonlyMap<string, string>)], [...expected.value], what)
      return
    default:
      assert.deepStrictEqual(actual, expected, what)
  }
}

function assertSamePage(actual: TestCasePage | undefined, expected: TestCasePage | undefined, what: string): void {
  if (expected === undefined || actual === undefined) {
    assert.equal(actual, expected, what)
    return
  }
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: page keys`)
  assert.equal(actual.nextAfterId, expected.nextAfterId, `${what}: nextAfterId`)
  assert.deepStrictEqual(
    actual.testCases.map((testCase) => [testCase.tcId, Object.keys(testCase).sort()]),
    expected.testCases.map((testCase) => [testCase.tcId, Object.keys(testCase).sort()]),
    `${what}: node ids and fields`,
  )
  for (const [index, testCase] of expected.testCases.entries()) {
    assertSameValue(actual.testCases[index]!.value, testCase.value, `${what}: value of ${testCase.tcId}`)
    assertSameValue(actual.testCases[index]!.output, testCase.output, `${what}: output of ${testCase.tcId}`)
  }
}

function assertSameMeta(actual: Record<string, string> | undefined, expected: Map<string, string> | undefined, what: string): void {
  if (expected === undefined || actual === undefined) {
    assert.equal(actual, expected, what)
    return
  }
  assert.equal(Object.getPrototypeOf(actual), Object.prototype, `${what}: a plain object`)
  assert.deepStrictEqual(Object.entries(actual).sort(), [...expected].sort(), what)
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

async function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Asserts the call failed with `code`, or succeeded when `code` is undefined; returns its value. */
async function expectOutcome<T>(promise: Promise<T>, code: ErrorCode | undefined, what: string): Promise<T | undefined> {
  return checkOutcome(await settle(promise), code, what)
}

function checkOutcome<T>(outcome: Outcome<T>, code: ErrorCode | undefined, what: string): T | undefined {
  if (code === undefined) {
    if (!outcome.ok) {
      throw new assert.AssertionError({ message: `${what}: expected success, got ${String(outcome.error)}`, actual: outcome.error })
    }
    return outcome.value
  }
  assert.ok(!outcome.ok, `${what}: expected ${code}, but it succeeded with ${fc.stringify(outcome.ok ? outcome.value : undefined)}`)
  const error = outcome.error
  assert.ok(error instanceof StratumError, `${what}: expected a StratumError ${code}, got ${String(error)}`)
  assert.equal(error.code, code, `${what}: ${error.message}`)
  assert.ok(error.message.length > 0, `${what}: the error has a message`)
  statistics.errorCodes.add(code)
  return undefined
}

// ---------------------------------------------------------------- generators

const textUnits = ['\u0000', '😀', '𝄞', '\uFFFF', '\uFEFF', '\u{10FFFF}', 'a', 'é', ' ', '"', '\\', '<']
const textArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...textUnits), { maxLength: 8 }).map((units) => units.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'constructor', 'toString') },
)
/** Text big enough that a few records fill a 4 KiB segment, or that one is bigger than a segment. */
const bigTextArb = fc.integer({ min: 500, max: 6000 }).map((length) => 'x😀\u0000'.repeat(Math.ceil(length / 4)))

const int64Arb = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: int64Min, max: int64Max }) },
  { weight: 1, arbitrary: fc.constantFrom(int64Min, int64Max, 0n, -1n, 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 32n) },
)
const doubleArb = fc.oneof(
  { weight: 3, arbitrary: fc.double() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      Number.NaN,
      -0,
      0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MIN_VALUE,
      -Number.MAX_VALUE,
      Number.EPSILON,
      2 ** 53 + 2,
    ),
  },
)

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  int64Arb.map((item) => int64(item)),
  doubleArb.map((item) => double(item)),
  fc.oneof({ weight: 5, arbitrary: textArb }, { weight: 1, arbitrary: bigTextArb }).map((item) => string(item)),
  fc.array(int64Arb, { maxLength: 6 }).map((items) => int64List(items)),
  fc.array(textArb, { maxLength: 5 }).map((items) => stringList(items)),
  fc.uniqueArray(fc.tuple(textArb, textArb), { selector: (entry) => entry[0], maxLength: 5 }).map((entries) => stringMap(new Map(entries))),
)

const columnNameArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'title', 'a\u0000b', '😀', '0', '17', 'hasOwnProperty') },
)
const metaArb = fc.uniqueArray(fc.tuple(columnNameArb, textArb), { selector: (entry) => entry[0], maxLength: 5 })
const htmlArb = fc.oneof({ weight: 5, arbitrary: textArb }, { weight: 1, arbitrary: bigTextArb })
const pickArb = fc.nat({ max: 1000 })
const limitArb = fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined })
const syncModeArb: fc.Arbitrary<SyncMode> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('none' as const) },
  { weight: 1, arbitrary: fc.constant('always' as const) },
  { weight: 1, arbitrary: fc.constant('interval' as const) },
)

type DocRefKind = 'live' | 'deleted' | 'nodeId' | 'unissued' | 'otherShard' | 'malformed'
interface DocRef {
  kind: DocRefKind
  pick: number
}
const docRefArb: fc.Arbitrary<DocRef> = fc.record({
  kind: fc.oneof(
    { weight: 12, arbitrary: fc.constant<DocRefKind>('live') },
    { weight: 1, arbitrary: fc.constantFrom<DocRefKind>('deleted', 'nodeId', 'unissued', 'otherShard', 'malformed') },
  ),
  pick: pickArb,
})

type NodeRefKind =
  | 'live'
  | 'withOutput'
  | 'withoutOutput'
  | 'ofOtherDoc'
  | 'deleted'
  | 'docId'
  | 'unissued'
  | 'unknownDoc'
  | 'otherShard'
  | 'malformed'
  | 'malformedDoc'
interface NodeRef {
  kind: NodeRefKind
  pick: number
}
const nodeRefArb: fc.Arbitrary<NodeRef> = fc.record({
  kind: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<NodeRefKind>('live', 'withOutput', 'withoutOutput') },
    {
      weight: 2,
      arbitrary: fc.constantFrom<NodeRefKind>('ofOtherDoc', 'deleted', 'docId', 'unissued', 'unknownDoc', 'otherShard', 'malformed', 'malformedDoc'),
    },
  ),
  pick: pickArb,
})

type AfterRefKind = 'none' | 'issued' | 'chain' | 'arbitrary' | 'otherShard' | 'malformed'
interface AfterRef {
  kind: AfterRefKind
  pick: number
}
const afterRefArb: fc.Arbitrary<AfterRef> = fc.record({
  kind: fc.oneof(
    { weight: 4, arbitrary: fc.constant<AfterRefKind>('none') },
    { weight: 4, arbitrary: fc.constantFrom<AfterRefKind>('issued', 'chain') },
    { weight: 1, arbitrary: fc.constantFrom<AfterRefKind>('arbitrary', 'otherShard', 'malformed') },
  ),
  pick: pickArb,
})

type Op =
  | { op: 'createProblem'; html: string; meta: Array<[string, string]>; asMap: boolean }
  | { op: 'updateProblemHtml'; doc: DocRef; html: string }
  | { op: 'updateProblemColumn'; doc: DocRef; column: string; value: string }
  | { op: 'deleteProblem'; doc: DocRef }
  | { op: 'getProblem'; doc: DocRef }
  | { op: 'listProblems'; after: AfterRef; limit: number | undefined }
  | { op: 'addTestCase'; doc: DocRef; value: Value }
  | { op: 'getTestCase'; node: NodeRef }
  | { op: 'getAllTestCases'; doc: DocRef; after: AfterRef; limit: number | undefined; includeOutputs: boolean }
  | { op: 'updateTestCase'; node: NodeRef; value: Value }
  | { op: 'deleteTestCase'; node: NodeRef }
  | { op: 'setExpectedOutput'; node: NodeRef; value: Value }
  | { op: 'getExpectedOutput'; node: NodeRef }
  | { op: 'updateExpectedOutput'; node: NodeRef; value: Value }
  | { op: 'deleteExpectedOutput'; node: NodeRef }
  /** Close and open again; then a watch from the `resumeAt`-th change seen (modulo their number) reads them back from the log. */
  | { op: 'reopen'; syncMode: SyncMode; resumeAt: number }
  /** compactNow(), with writes called in the same tick, so that they land while it runs. */
  | { op: 'compactNow'; writes: WriteOp[] }
  /** Writes called in one tick, so that they share group commits. */
  | { op: 'concurrently'; writes: WriteOp[] }
  /**
   * Writes called in one tick, often to the same document, with reads of every document made in
   * that tick (which must see none of the writes) and as each write's promise resolves (which
   * must see it and every write called before it, and may see later ones).
   */
  | { op: 'interleaved'; writes: WriteOp[] }
  /**
   * An atomic batch: writes (which may fail validation: then nothing of the batch is written) and
   * a new problem with its test cases and outputs made through BatchIds, before or after them.
   */
  | { op: 'batch'; writes: WriteOp[]; problem: BatchProblem | null; problemFirst: boolean }

interface BatchProblem {
  html: string
  meta: Array<[string, string]>
  nodes: Array<{ value: Value; output: Value | null }>
}

const createArb = fc.record({ op: fc.constant('createProblem' as const), html: htmlArb, meta: metaArb, asMap: fc.boolean() })

const writeOpArb: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 2, arbitrary: createArb },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('updateProblemHtml' as const), doc: docRefArb, html: htmlArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('updateProblemColumn' as const), doc: docRefArb, column: columnNameArb, value: textArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteProblem' as const), doc: docRefArb }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('addTestCase' as const), doc: docRefArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('updateTestCase' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteTestCase' as const), node: nodeRefArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('setExpectedOutput' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('updateExpectedOutput' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteExpectedOutput' as const), node: nodeRefArb }) },
)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: createArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('updateProblemHtml' as const), doc: docRefArb, html: htmlArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('updateProblemColumn' as const), doc: docRefArb, column: columnNameArb, value: textArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteProblem' as const), doc: docRefArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getProblem' as const), doc: docRefArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('listProblems' as const), after: afterRefArb, limit: limitArb }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('addTestCase' as const), doc: docRefArb, value: valueArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('getTestCase' as const), node: nodeRefArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('getAllTestCases' as const),
      doc: docRefArb,
      after: afterRefArb,
      limit: limitArb,
      includeOutputs: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('updateTestCase' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('deleteTestCase' as const), node: nodeRefArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('setExpectedOutput' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getExpectedOutput' as const), node: nodeRefArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('updateExpectedOutput' as const), node: nodeRefArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('deleteExpectedOutput' as const), node: nodeRefArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const), syncMode: syncModeArb, resumeAt: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('compactNow' as const), writes: fc.array(writeOpArb, { maxLength: 6 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('concurrently' as const), writes: fc.array(writeOpArb, { minLength: 2, maxLength: 8 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('interleaved' as const), writes: fc.array(writeOpArb, { minLength: 2, maxLength: 8 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('batch' as const),
      writes: fc.array(writeOpArb, { maxLength: 8 }),
      problem: fc.option(
        fc.record({
          html: htmlArb,
          meta: metaArb,
          nodes: fc.array(fc.record({ value: valueArb, output: fc.option(valueArb) }), { maxLength: 6 }),
        }),
      ),
      problemFirst: fc.boolean(),
    }),
  },
)

/** A sequence starts with a few creations so that most operations have something to act on. */
const opsArb: fc.Arbitrary<Op[]> = fc
  .tuple(fc.array(createArb, { minLength: 1, maxLength: 3 }), fc.array(opArb, { maxLength: 57, size: 'max' }))
  .map(([creates, rest]) => [...creates, ...rest])

interface RunConfig {
  syncMode: SyncMode
  shard: number
  segmentSizeBytes: number
  /** No read cache, one that holds a single 16 KiB block (so it evicts all the time), or the default. */
  cacheSizeBytes: number | undefined
  /** 0: compactions run only when the sequence asks; otherwise the background compactor's period. */
  compactionIntervalMs: number
  /** What the background compactor leaves in the log for watchers. */
  watchLogRetainChanges: number
}
const configArb: fc.Arbitrary<RunConfig> = fc.record({
  syncMode: fc.oneof({ weight: 5, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constant('always' as const) }),
  shard: fc.constantFrom(0, 0, 0, 5, limits.shardMax),
  segmentSizeBytes: fc.constantFrom(4096, 4096, 8192),
  cacheSizeBytes: fc.constantFrom(undefined, 0, 16 * 1024),
  compactionIntervalMs: fc.constantFrom(0, 0, 0, 5),
  watchLogRetainChanges: fc.constantFrom(0, 0, 20),
})

function storeOptions(dir: string, config: RunConfig, syncMode: SyncMode) {
  return {
    dir,
    syncMode,
    syncIntervalMs: 5,
    shard: config.shard,
    segmentSizeBytes: config.segmentSizeBytes,
    compactionIntervalMs: config.compactionIntervalMs,
    watchLogRetainChanges: config.watchLogRetainChanges,
    compactionDeadRatio: 0.1,
    ...(config.cacheSizeBytes === undefined ? {} : { cacheSizeBytes: config.cacheSizeBytes }),
  }
}

// ---------------------------------------------------------------- resolving references

function choose<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length]
}

function resolveDoc(model: Model, ref: DocRef): number {
  const fallback = (): number => model.unissued(ref.pick)
  switch (ref.kind) {
    case 'live':
      return choose(model.liveDocIds(), ref.pick) ?? fallback()
    case 'deleted':
      return choose(model.deletedDocs, ref.pick) ?? fallback()
    case 'nodeId':
      return choose([...model.liveNodeIds(), ...model.deletedNodes.map((node) => node.tcId)], ref.pick) ?? fallback()
    case 'unissued':
      return fallback()
    case 'otherShard':
      return model.otherShard(ref.pick)
    case 'malformed':
      return malformedIds[ref.pick % malformedIds.length]!
  }
}

/** A (document, node) pair of ids. */
function resolveNode(model: Model, ref: NodeRef): [number, number] {
  const live = model.liveNodeIds()
  const liveDocs = model.liveDocIds()
  const pair = (tcId: number): [number, number] => [model.nodes.get(tcId)!.docId, tcId]
  const fallback = (): [number, number] => [choose(liveDocs, ref.pick) ?? model.unissued(ref.pick), model.unissued(ref.pick + 1)]
  switch (ref.kind) {
    case 'live': {
      const tcId = choose(live, ref.pick)
      return tcId === undefined ? fallback() : pair(tcId)
    }
    case 'withOutput':
    case 'withoutOutput': {
      const wanted = ref.kind === 'withOutput'
      const tcId = choose(live.filter((id) => (model.nodes.get(id)!.output !== undefined) === wanted), ref.pick) ?? choose(live, ref.pick)
      return tcId === undefined ? fallback() : pair(tcId)
    }
    case 'ofOtherDoc': {
      const tcId = choose(live, ref.pick)
      if (tcId === undefined) return fallback()
      const others = liveDocs.filter((id) => id !== model.nodes.get(tcId)!.docId)
      return [choose(others, ref.pick) ?? model.unissued(ref.pick), tcId]
    }
    case 'deleted': {
      const deleted = choose(model.deletedNodes, ref.pick)
      return deleted === undefined ? fallback() : [deleted.docId, deleted.tcId]
    }
    case 'docId': {
      const docId = choose(liveDocs, ref.pick)
      return docId === undefined ? fallback() : [docId, choose(liveDocs, ref.pick + 1)!]
    }
    case 'unissued':
      return [choose(liveDocs, ref.pick) ?? model.unissued(ref.pick), model.unissued(ref.pick + 3)]
    case 'unknownDoc': {
      const tcId = choose(live, ref.pick)
      return [model.unissued(ref.pick), tcId ?? model.unissued(ref.pick + 1)]
    }
    case 'otherShard': {
      const docId = choose(liveDocs, ref.pick) ?? model.unissued(ref.pick)
      return ref.pick % 2 === 0 ? [docId, model.otherShard(ref.pick)] : [model.otherShard(ref.pick), choose(live, ref.pick) ?? docId]
    }
    case 'malformed':
      return [choose(liveDocs, ref.pick) ?? model.unissued(ref.pick), malformedIds[ref.pick % malformedIds.length]!]
    case 'malformedDoc': {
      const tcId = choose(live, ref.pick) ?? model.unissued(ref.pick)
      return [malformedIds[ref.pick % malformedIds.length]!, tcId]
    }
  }
}

function resolveAfter(model: Model, ref: AfterRef, docId?: number): number | undefined {
  switch (ref.kind) {
    case 'none':
      return undefined
    case 'issued':
      return choose(model.issued, ref.pick)
    case 'chain': {
      // A node of the document's chain (live or deleted), or a document id for listProblems.
      const doc = docId === undefined ? undefined : model.docs.get(docId)
      if (doc === undefined) return choose(model.liveDocIds(), ref.pick) ?? choose(model.issued, ref.pick)
      const deleted = model.deletedNodes.filter((node) => node.docId === docId).map((node) => node.tcId)
      return choose([...doc.chain, ...deleted], ref.pick) ?? choose(model.issued, ref.pick)
    }
    case 'arbitrary':
      return model.shard * localIdSpan + 1 + (ref.pick % (model.issued.length + 5))
    case 'otherShard':
      return model.otherShard(ref.pick)
    case 'malformed':
      return malformedIds[ref.pick % malformedIds.length]!
  }
}

// ---------------------------------------------------------------- running

/** What the runs exercised, checked at the end so that the generators cannot quietly go dull. */
const statistics = {
  runs: 0,
  reopens: 0,
  compactions: 0,
  maxSegmentCount: 0,
  errorCodes: new Set<ErrorCode>(),
  undefinedReads: 0,
  batches: 0,
  failedBatches: 0,
  /** Reads after a write resolved that already saw a later write of the same tick. */
  interleavedLaterStates: 0,
  /** Change events a watcher gave and the model checked. */
  watchedEvents: 0,
  /** Of those, values read after a compaction reclaimed them. */
  supersededValues: 0,
  /** Changes read back from the log by a watch after a reopen, and watches refused for a compacted revision. */
  resumedEvents: 0,
  resumesRefused: 0,
  ops: new Map<string, number>(),
}

interface Harness {
  store: Store
  dir: string
  config: RunConfig
  model: Model
  watcher: Watcher
  /** Every change the watchers gave and the model checked, with its revision, since the run began. */
  journal: ChangeEvent[]
  /** A compactNow of this run compacted something: only a compaction cuts the log's history. */
  compacted: boolean
}

/** A watcher of the store under test from its open on, with values, read by a loop of its own. */
interface Watcher {
  watch: Watch
  /** Events given and not yet checked. */
  seen: ChangeEvent[]
  lastRevision: number
  /** What ended its loop: an error of the store, or a failed check inside the loop. */
  error?: unknown
  ended: Promise<void>
}

function startWatcher(store: Store): Watcher {
  const watch = store.watch({ withValues: true, progressIntervalMs: 0 })
  const watcher: Watcher = { watch, seen: [], lastRevision: store.revision, ended: Promise.resolve() }
  watcher.ended = (async () => {
    try {
      for await (const event of watch) {
        assert.equal(event.kind, 'change', 'a progress event with progressIntervalMs 0')
        assert.ok(event.revision > watcher.lastRevision, `event revision ${event.revision} after ${watcher.lastRevision}`)
        assert.ok(event.revision <= store.revision, `event revision ${event.revision} beyond the store's ${store.revision}`)
        watcher.lastRevision = event.revision
        watcher.seen.push(event as ChangeEvent)
      }
    } catch (error) {
      watcher.error = error
    }
  })()
  return watcher
}

/** Whether a write later in `events` replaced the records of `event` (so a compaction may have reclaimed them). */
function replacedLater(event: ExpectedEvent, later: readonly ExpectedEvent[]): boolean {
  return later.some((next) => {
    if (next.problemId !== event.problemId) return false
    if (next.target === 'problem' && next.type === 'deleted') return true
    switch (event.target) {
      case 'problem':
        return next.target === 'problemText' || next.target === 'problemColumn'
      case 'problemText':
      case 'problemColumn':
        // A column's write rewrites the whole metadata record, whichever column it sets.
        return next.target === event.target
      case 'testCase':
        return next.testCaseId === event.testCaseId && next.target === 'testCase'
      case 'expectedOutput':
        return next.testCaseId === event.testCaseId && (next.target === 'expectedOutput' || (next.target === 'testCase' && next.type === 'deleted'))
    }
  })
}

/** An event with its value as a canonical text, for exact comparison (doubles by their bits). */
function comparable(event: ExpectedEvent): unknown {
  const value = event.value
  if (value?.kind !== 'value') return event
  return { ...event, value: { kind: 'value', value: canonicalValue(value.value) } }
}

/**
 * The watcher gave exactly the writes the model applied since the last check, in order, once
 * each, with their values (or `superseded`, only for a write replaced later on).
 */
async function checkWatcher(harness: Harness, when: string): Promise<void> {
  const { watcher, model } = harness
  const deadline = Date.now() + 10_000
  while (watcher.seen.length < model.events.length && watcher.error === undefined) {
    assert.ok(Date.now() < deadline, `${when}: the watcher gave ${watcher.seen.length} of ${model.events.length} events within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  if (watcher.error !== undefined) throw watcher.error
  const expected = model.events.splice(0)
  const seen = watcher.seen.splice(0)
  const actual = seen.map(({ kind: _kind, revision: _revision, ...event }): ExpectedEvent => event)
  assert.equal(actual.length, expected.length, `${when}: events given`)
  for (const [index, event] of actual.entries()) {
    const want = expected[index]!
    if (event.value?.kind === 'superseded' && want.value !== undefined && replacedLater(want, expected.slice(index + 1))) {
      assert.deepStrictEqual({ ...event, value: undefined }, { ...want, value: undefined }, `${when}: event ${index}`)
      statistics.supersededValues++
      continue
    }
    assert.deepStrictEqual(comparable(event), comparable(want), `${when}: event ${index} of ${actual.length}`)
  }
  statistics.watchedEvents += actual.length
  harness.journal.push(...seen)
}

/**
 * After a reopen, whose history in memory starts empty: a watch from the `resumeAt`-th change the
 * journal holds reads it and every later one back from the log, as they were given live (values
 * too, or `superseded` for a write replaced later, which a compaction may have reclaimed since).
 * Only a compaction cuts the log: a revision it reclaimed is refused naming the oldest held, and
 * the watch then starts there; a background compaction may end it midway.
 */
/** Progress interval of the resumed watch: its first progress event says it found nothing more. */
const resumeProgressMs = 20

async function checkResume(harness: Harness, resumeAt: number): Promise<void> {
  const { store, journal } = harness
  if (journal.length === 0) return
  const index = resumeAt % journal.length
  let from = journal[index]!.revision
  let watch: Watch
  try {
    watch = store.watch({ fromRevision: from, withValues: true, progressIntervalMs: resumeProgressMs })
  } catch (error) {
    assert.ok(error instanceof StratumError && error.code === 'REVISION_UNAVAILABLE', `a watch from ${from} failed with ${String(error)}`)
    assert.ok(harness.compacted || harness.config.compactionIntervalMs > 0, `revision ${from} refused, yet nothing was compacted: ${error.message}`)
    const oldest = Number(/the oldest revision a watch can start from is (\d+)/.exec(error.message)?.[1])
    assert.ok(oldest > from && oldest <= store.revision + 1, `oldest ${oldest} after refusing ${from}`)
    from = oldest
    watch = store.watch({ fromRevision: from, withValues: true, progressIntervalMs: resumeProgressMs })
    statistics.resumesRefused++
  }
  const expected = journal.filter((event) => event.revision >= from)
  /** The next event; undefined when a background compaction reclaimed what the watcher was reading. */
  const nextEvent = async (): Promise<IteratorResult<WatchEvent> | undefined> => {
    try {
      return await watch.next()
    } catch (error) {
      const cutMidway = error instanceof StratumError && error.code === 'LIMIT_EXCEEDED' && harness.config.compactionIntervalMs > 0
      if (cutMidway) return undefined
      throw error
    }
  }
  try {
    for (const [position, want] of expected.entries()) {
      const next = await nextEvent()
      if (next === undefined) return
      assert.equal(next.done, false)
      const event = next.value as ChangeEvent
      const when = `resumed from ${from}: event ${position} of ${expected.length}`
      if (event.value?.kind === 'superseded' && want.value !== undefined && want.value.kind !== 'superseded') {
        const { kind: _kind, revision: _revision, ...wanted } = want
        assert.ok(replacedLater(wanted, expected.slice(position + 1)), `${when}: superseded, yet never replaced`)
        assert.deepStrictEqual({ ...event, value: undefined }, { ...want, value: undefined }, when)
        continue
      }
      assert.deepStrictEqual(comparableChange(event), comparableChange(want), when)
    }
    // Nothing was written since the reopen: no other change is there, and once the log is read to
    // its end the watcher says so with a progress event.
    const after = await nextEvent()
    if (after === undefined) return
    assert.equal(after.done, false)
    assert.equal(after.value.kind, 'progress', `resumed from ${from}: a change beyond the journal: ${fc.stringify(after.value)}`)
    statistics.resumedEvents += expected.length
  } finally {
    watch.close()
  }
}

function comparableChange(event: ChangeEvent): unknown {
  const { kind, revision, ...rest } = event
  return { kind, revision, ...(comparable(rest) as object) }
}

type WriteOp = Extract<
  Op,
  {
    op:
      | 'createProblem'
      | 'updateProblemHtml'
      | 'updateProblemColumn'
      | 'deleteProblem'
      | 'addTestCase'
      | 'updateTestCase'
      | 'deleteTestCase'
      | 'setExpectedOutput'
      | 'updateExpectedOutput'
      | 'deleteExpectedOutput'
  }
>

/**
 * A write with its ids resolved: `start` makes the call; `expected` says which error the model
 * predicts for it, against the model as the writes before it left it (writes are validated when
 * they are called, in call order, so that this holds for writes made concurrently too); `apply`
 * applies it to the model (with the id it created, for createProblem and addTestCase); `batch`
 * adds it to an atomic batch; `finish` checks an outcome against `expected` and applies it.
 */
interface WritePlan {
  start(store: Store): Promise<unknown>
  expected(): ErrorCode | undefined
  apply(createdId: number | undefined): void
  batch(batch: Batch): void
  /** Whether it creates an id. */
  creates: boolean
  what: string
  finish(outcome: Outcome<unknown>): string
}

function planWrite(model: Model, op: WriteOp): WritePlan {
  statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
  const plan = planParts(model, op)
  return {
    ...plan,
    creates: op.op === 'createProblem' || op.op === 'addTestCase',
    finish(outcome) {
      const code = plan.expected()
      const value = checkOutcome(outcome, code, plan.what)
      if (code === undefined) plan.apply(value as number | undefined)
      return `${plan.what} -> ${code ?? (typeof value === 'number' ? value : 'ok')}`
    },
  }
}

function planParts(model: Model, op: WriteOp): Omit<WritePlan, 'finish' | 'creates'> {
  switch (op.op) {
    case 'createProblem': {
      const meta = op.asMap ? new Map(op.meta) : Object.fromEntries(op.meta)
      return {
        what: 'createProblem',
        start: (store) => store.createProblem(op.html, meta),
        batch: (batch) => void batch.createProblem(op.html, meta),
        expected: () => undefined,
        apply: (id) => {
          model.issue(id!)
          model.docs.set(id!, { html: op.html, meta: new Map(op.meta), chain: [] })
          model.events.push({ type: 'created', target: 'problem', problemId: id!, value: { kind: 'problem', html: op.html, columns: new Map(op.meta) } })
        },
      }
    }
    case 'addTestCase': {
      const docId = resolveDoc(model, op.doc)
      return {
        what: `addTestCase(${docId})`,
        start: (store) => store.addTestCase(docId, op.value),
        batch: (batch) => void batch.addTestCase(docId, op.value),
        expected: () => model.docWriteError(docId),
        apply: (tcId) => {
          model.issue(tcId!)
          model.nodes.set(tcId!, { docId, value: op.value, output: undefined })
          model.docs.get(docId)!.chain.push(tcId!)
          model.events.push({ type: 'created', target: 'testCase', problemId: docId, testCaseId: tcId!, value: { kind: 'value', value: op.value } })
        },
      }
    }
    case 'updateProblemHtml':
    case 'updateProblemColumn':
    case 'deleteProblem': {
      const docId = resolveDoc(model, op.doc)
      return {
        what: `${op.op}(${docId})`,
        start: (store) =>
          op.op === 'updateProblemHtml'
            ? store.updateProblemHtml(docId, op.html)
            : op.op === 'updateProblemColumn'
              ? store.updateProblemColumn(docId, op.column, op.value)
              : store.deleteProblem(docId),
        batch: (batch) => {
          if (op.op === 'updateProblemHtml') batch.updateProblemHtml(docId, op.html)
          else if (op.op === 'updateProblemColumn') batch.updateProblemColumn(docId, op.column, op.value)
          else batch.deleteProblem(docId)
        },
        expected: () => model.docWriteError(docId),
        apply: () => {
          if (op.op === 'updateProblemHtml') {
            model.docs.get(docId)!.html = op.html
            model.events.push({ type: 'updated', target: 'problemText', problemId: docId, value: { kind: 'text', html: op.html } })
          } else if (op.op === 'updateProblemColumn') {
            model.docs.get(docId)!.meta.set(op.column, op.value)
            model.events.push({ type: 'updated', target: 'problemColumn', problemId: docId, column: op.column, value: { kind: 'column', value: op.value } })
          } else {
            model.deleteDoc(docId)
            model.events.push({ type: 'deleted', target: 'problem', problemId: docId })
          }
        },
      }
    }
    case 'updateTestCase':
    case 'deleteTestCase':
    case 'setExpectedOutput':
    case 'updateExpectedOutput':
    case 'deleteExpectedOutput': {
      const [docId, tcId] = resolveNode(model, op.node)
      return {
        what: `${op.op}(${docId}, ${tcId})`,
        start: (store) => {
          switch (op.op) {
            case 'updateTestCase':
              return store.updateTestCase(docId, tcId, op.value)
            case 'deleteTestCase':
              return store.deleteTestCase(docId, tcId)
            case 'setExpectedOutput':
              return store.setExpectedOutput(docId, tcId, op.value)
            case 'updateExpectedOutput':
              return store.updateExpectedOutput(docId, tcId, op.value)
            case 'deleteExpectedOutput':
              return store.deleteExpectedOutput(docId, tcId)
          }
        },
        batch: (batch) => {
          switch (op.op) {
            case 'updateTestCase':
              return void batch.updateTestCase(docId, tcId, op.value)
            case 'deleteTestCase':
              return void batch.deleteTestCase(docId, tcId)
            case 'setExpectedOutput':
              return void batch.setExpectedOutput(docId, tcId, op.value)
            case 'updateExpectedOutput':
              return void batch.updateExpectedOutput(docId, tcId, op.value)
            case 'deleteExpectedOutput':
              return void batch.deleteExpectedOutput(docId, tcId)
          }
        },
        expected: () => {
          const code = model.nodeWriteError(docId, tcId)
          if (code !== undefined) return code
          const hasOutput = model.nodes.get(tcId)!.output !== undefined
          if (op.op === 'setExpectedOutput' && hasOutput) return 'ALREADY_EXISTS'
          if ((op.op === 'updateExpectedOutput' || op.op === 'deleteExpectedOutput') && !hasOutput) return 'NOT_FOUND'
          return undefined
        },
        apply: () => {
          const node = model.nodes.get(tcId)!
          const ids = { problemId: docId, testCaseId: tcId }
          if (op.op === 'updateTestCase') {
            node.value = op.value
            model.events.push({ type: 'updated', target: 'testCase', ...ids, value: { kind: 'value', value: op.value } })
          } else if (op.op === 'deleteTestCase') {
            model.deleteNode(tcId)
            model.events.push({ type: 'deleted', target: 'testCase', ...ids })
          } else if (op.op === 'deleteExpectedOutput') {
            node.output = undefined
            model.events.push({ type: 'deleted', target: 'expectedOutput', ...ids })
          } else {
            model.events.push({ type: node.output === undefined ? 'created' : 'updated', target: 'expectedOutput', ...ids, value: { kind: 'value', value: op.value } })
            node.output = op.value
          }
        },
      }
    }
  }
}

async function runOp(harness: Harness, op: Op): Promise<string> {
  const { model } = harness
  const store = harness.store
  switch (op.op) {
    case 'getProblem': {
      const docId = resolveDoc(model, op.doc)
      const code = isMalformed(docId) ? 'INVALID_ARGUMENT' : undefined
      const doc = model.docs.get(docId)
      const html = await expectOutcome(store.getProblemHtml(docId), code, `getProblemHtml(${docId})`)
      const meta = await expectOutcome(store.getProblemMeta(docId), code, `getProblemMeta(${docId})`)
      if (code === undefined) {
        assert.equal(html, doc?.html, `getProblemHtml(${docId})`)
        assertSameMeta(meta, doc?.meta, `getProblemMeta(${docId})`)
        if (doc === undefined) statistics.undefinedReads++
      }
      break
    }
    case 'listProblems': {
      const afterId = resolveAfter(model, op.after)
      const code = model.afterIdError(afterId)
      const options = { ...(afterId === undefined ? {} : { afterId }), ...(op.limit === undefined ? {} : { limit: op.limit }) }
      const page = await expectOutcome(store.listProblems(options), code, `listProblems(${fc.stringify(options)})`)
      if (code === undefined) assert.deepStrictEqual(page, model.problemPage(afterId, op.limit), `listProblems(${fc.stringify(options)})`)
      break
    }
    case 'getTestCase':
    case 'getExpectedOutput': {
      const [docId, tcId] = resolveNode(model, op.node)
      const code = isMalformed(docId) || isMalformed(tcId) ? 'INVALID_ARGUMENT' : undefined
      const node = model.readNode(docId, tcId)
      const read = op.op === 'getTestCase' ? store.getTestCase(docId, tcId) : store.getExpectedOutput(docId, tcId)
      const value = await expectOutcome(read, code, `${op.op}(${docId}, ${tcId})`)
      if (code === undefined) {
        const expected = op.op === 'getTestCase' ? node?.value : node?.output
        assertSameValue(value, expected, `${op.op}(${docId}, ${tcId})`)
        if (expected === undefined) statistics.undefinedReads++
      }
      break
    }
    case 'getAllTestCases': {
      const docId = resolveDoc(model, op.doc)
      const afterId = resolveAfter(model, op.after, docId)
      const code = isMalformed(docId) ? 'INVALID_ARGUMENT' : model.afterIdError(afterId)
      const options = {
        includeOutputs: op.includeOutputs,
        ...(afterId === undefined ? {} : { afterId }),
        ...(op.limit === undefined ? {} : { limit: op.limit }),
      }
      const what = `getAllTestCases(${docId}, ${fc.stringify(options)})`
      const page = await expectOutcome(store.getAllTestCases(docId, options), code, what)
      if (code === undefined) {
        const expected = model.docs.has(docId) ? model.testCasePage(docId, afterId, op.limit, op.includeOutputs) : undefined
        assertSamePage(page, expected, what)
        if (expected === undefined) statistics.undefinedReads++
      }
      break
    }
    case 'reopen':
      await reopen(harness, op.syncMode)
      await checkResume(harness, op.resumeAt)
      break
    case 'compactNow': {
      // The writes are called in the same tick as compactNow, so they land while it plans, copies
      // and switches over: the switch-over must leave every entry they changed alone.
      const plans = op.writes.map((write) => planWrite(model, write))
      const compaction = store.compactNow()
      const outcomes = await Promise.all(plans.map((plan) => settle(plan.start(store))))
      const result = await compaction
      const finished = plans.map((plan, index) => plan.finish(outcomes[index]!))
      const before = result.bytesBefore
      // Each segment written has a header, an idWatermark and a syncMark: that much it may add.
      const outputOverheadBytes = limits.segmentHeaderBytes + 2 * limits.recordHeaderBytes
      assert.ok(result.bytesAfter <= before + outputOverheadBytes * result.segmentsWritten, `compaction grew ${before} bytes to ${result.bytesAfter}`)
      assert.equal(result.bytesReclaimed, before - result.bytesAfter)
      if (result.segmentsCompacted > 0) {
        statistics.compactions++
        harness.compacted = true
      }
      await checkEverything(harness, 'after compactNow')
      statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
      return `compactNow ${fc.stringify(result)} with [${finished.join('; ')}]`
    }
    case 'concurrently': {
      // Every write is called in the same tick; then each outcome is checked in call order.
      statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
      const plans = op.writes.map((write) => planWrite(model, write))
      const outcomes = await Promise.all(plans.map((plan) => settle(plan.start(store))))
      return `concurrently [${plans.map((plan, index) => plan.finish(outcomes[index]!)).join('; ')}]`
    }
    case 'interleaved': {
      statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
      // The documents that exist before the writes, and those they delete, are read.
      const docIds = model.liveDocIds()
      const plans = op.writes.map((write) => planWrite(model, write))
      const sameTick = readDocs(store, docIds)
      // As each write resolves, in its own continuation, every document is read again.
      const afterEach = plans.map((plan) => {
        const outcome = settle(plan.start(store))
        return outcome.then(async (settled) => ({ settled, seen: await readDocs(store, docIds) }))
      })
      const results = await Promise.all(afterEach)
      // Apply the writes to the model in call order, keeping the state after each.
      const states = [snapshotDocs(model, docIds)]
      const finished = plans.map((plan, index) => {
        const line = plan.finish(results[index]!.settled)
        states.push(snapshotDocs(model, docIds))
        return line
      })
      assert.equal(await sameTick, states[0], 'a read made in the same tick as the writes saw one of them')
      for (const [index, { settled, seen }] of results.entries()) {
        // Writes are acknowledged in call order: once write `index` resolved, a read shows the
        // state after it or after a later write, never an earlier one. A refused write fails at
        // once, writes nothing and waits for nothing: a read then shows the state after some
        // prefix of the writes.
        const allowed = settled.ok ? states.slice(index + 1) : states
        assert.ok(allowed.includes(seen), `a read after write ${index} resolved saw a state before it:\n${seen}\nallowed:\n${allowed.join('\n')}`)
        if (seen !== allowed[0]) statistics.interleavedLaterStates++
      }
      return `interleaved [${finished.join('; ')}]`
    }
    case 'batch':
      return runBatch(store, model, op)
    default: {
      const plan = planWrite(model, op)
      return plan.finish(await settle(plan.start(store)))
    }
  }
  statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
  return op.op
}

/**
 * Runs an atomic batch and checks it against the model: tried first on a copy of the model, where
 * the first write the model refuses must be the operation the store names, with its code, and
 * nothing may change; otherwise every write applies, with the ids the commit returned in order.
 */
async function runBatch(store: Store, model: Model, op: Extract<Op, { op: 'batch' }>): Promise<string> {
  statistics.ops.set(op.op, (statistics.ops.get(op.op) ?? 0) + 1)
  // Resolved against the model before the batch, as a copy resolves them the same.
  const trial = model.clone()
  const plans = op.writes.map((write) => planWrite(model, write))
  const trialPlans = op.writes.map((write) => planParts(trial, write))
  const problemOperations = op.problem === null ? 0 : 1 + op.problem.nodes.reduce((sum, node) => sum + (node.output === null ? 1 : 2), 0)
  const batch = store.batch()
  const addProblem = (): void => {
    if (op.problem === null) return
    const doc = batch.createProblem(op.problem.html, Object.fromEntries(op.problem.meta))
    for (const node of op.problem.nodes) {
      const tc = batch.addTestCase(doc, node.value)
      if (node.output !== null) batch.setExpectedOutput(doc, tc, node.output)
    }
  }
  if (op.problemFirst) addProblem()
  for (const plan of plans) plan.batch(batch)
  if (!op.problemFirst) addProblem()
  assert.equal(batch.size, problemOperations + plans.length)
  const outcome = await settle(batch.commit())
  // Applies the problem to `target`, taking its ids from `ids`.
  const applyProblem = (target: Model, ids: number[]): void => {
    if (op.problem === null) return
    const docId = ids.shift()!
    target.issue(docId)
    const chain: number[] = []
    target.docs.set(docId, { html: op.problem.html, meta: new Map(op.problem.meta), chain })
    target.events.push({ type: 'created', target: 'problem', problemId: docId, value: { kind: 'problem', html: op.problem.html, columns: new Map(op.problem.meta) } })
    for (const node of op.problem.nodes) {
      const tcId = ids.shift()!
      target.issue(tcId)
      target.nodes.set(tcId, { docId, value: node.value, output: node.output ?? undefined })
      chain.push(tcId)
      // In the batch's order: the test case, then its output.
      target.events.push({ type: 'created', target: 'testCase', problemId: docId, testCaseId: tcId, value: { kind: 'value', value: node.value } })
      if (node.output !== null) {
        target.events.push({ type: 'created', target: 'expectedOutput', problemId: docId, testCaseId: tcId, value: { kind: 'value', value: node.output } })
      }
    }
  }
  // The dry run, with the ids the store issues: in sequence, after every id it took before.
  const predicted: number[] = []
  const fakeIds = (count: number): number[] => {
    const ids = Array.from({ length: count }, (_, index) => model.nextId(predicted.length + index))
    predicted.push(...ids)
    return ids
  }
  let failure: { index: number; code: ErrorCode } | undefined
  const problemIds = op.problem === null ? 0 : 1 + op.problem.nodes.length
  if (op.problemFirst) applyProblem(trial, fakeIds(problemIds))
  for (const [index, plan] of trialPlans.entries()) {
    const code = plan.expected()
    if (code !== undefined) {
      failure = { index: (op.problemFirst ? problemOperations : 0) + index, code }
      break
    }
    plan.apply(plans[index]!.creates ? fakeIds(1)[0] : undefined)
  }
  if (failure !== undefined) {
    checkOutcome(outcome, failure.code, `batch failing at operation ${failure.index}`)
    // The creations validated before the refusal took their ids.
    model.burned.push(...predicted)
    const message = (outcome as { error: Error }).error.message
    const position = `operation ${failure.index + 1} of ${batch.size} (`
    assert.ok(message.startsWith(position), `the batch's error names ${position}: ${message}`)
    statistics.failedBatches++
    return `batch of ${batch.size} -> ${failure.code} at ${failure.index}`
  }
  const ids = [...(checkOutcome(outcome, undefined, 'batch') as number[])]
  if (!op.problemFirst) fakeIds(problemIds)
  assert.deepStrictEqual(ids, predicted, 'the batch created the ids the store issues next, in operation order')
  const created = ids.length
  if (op.problemFirst) applyProblem(model, ids)
  for (const plan of plans) {
    assert.equal(plan.expected(), undefined, `${plan.what} in the batch`)
    plan.apply(plan.creates ? ids.shift() : undefined)
  }
  if (!op.problemFirst) applyProblem(model, ids)
  assert.equal(ids.length, 0, 'the batch returned one id for each operation that creates one')
  statistics.batches++
  return `batch of ${batch.size} -> ${created} ids`
}

/** The documents `docIds` as the store reads them, as one canonical text (see `snapshotDocs`). */
async function readDocs(store: Store, docIds: readonly number[]): Promise<string> {
  const docs = await Promise.all(
    docIds.map(async (docId) => {
      const [html, meta, page] = await Promise.all([
        store.getProblemHtml(docId),
        store.getProblemMeta(docId),
        store.getAllTestCases(docId, { includeOutputs: true }),
      ])
      return describeDoc(docId, html, meta === undefined ? undefined : Object.entries(meta), page?.testCases)
    }),
  )
  return docs.join('\n')
}

/** The documents `docIds` as the model holds them, in the same canonical text as `readDocs`. */
function snapshotDocs(model: Model, docIds: readonly number[]): string {
  return docIds
    .map((docId) => {
      const doc = model.docs.get(docId)
      if (doc === undefined) return describeDoc(docId, undefined, undefined, undefined)
      return describeDoc(docId, doc.html, [...doc.meta], model.testCasePage(docId, undefined, undefined, true).testCases)
    })
    .join('\n')
}

function describeDoc(docId: number, html: string | undefined, meta: Array<[string, string]> | undefined, testCases: TestCase[] | undefined): string {
  if (html === undefined) {
    assert.equal(meta, undefined, `document ${docId}: metadata without text`)
    assert.equal(testCases, undefined, `document ${docId}: nodes without text`)
    return `${docId}: none`
  }
  const columns = JSON.stringify(meta!.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)))
  const nodes = testCases!.map((testCase) => `${testCase.tcId}=${canonicalValue(testCase.value)}/${canonicalValue(testCase.output)}`)
  return `${docId}: ${JSON.stringify(html)} ${columns} [${nodes.join(' ')}]`
}

async function reopen(harness: Harness, syncMode: SyncMode): Promise<void> {
  const old = harness.store
  const before = await old.stats()
  await checkWatcher(harness, 'before close')
  await old.close()
  assert.equal(old.status, 'closed')
  // Closing ends the watcher with UNAVAILABLE; a new one watches the reopened store.
  await harness.watcher.ended
  assert.ok(harness.watcher.error instanceof StratumError && harness.watcher.error.code === 'UNAVAILABLE', `the watcher ended with ${String(harness.watcher.error)}`)
  await expectOutcome(old.getProblemHtml(1), 'UNAVAILABLE', 'a read after close')
  await expectOutcome(old.createProblem('late'), 'UNAVAILABLE', 'a write after close')
  harness.store = await openStore(storeOptions(harness.dir, harness.config, syncMode))
  harness.watcher = startWatcher(harness.store)
  // Ids a refused batch took were never written: the store resumes above the ids in its log, so
  // it may issue them again, harmlessly (nobody ever saw them).
  harness.model.burned.length = 0
  statistics.reopens++
  const after = await harness.store.stats()
  // Recovery rebuilds the same index the store kept while running: the same records, the same
  // bytes (unless a background compaction may have finished between stats() and close()).
  const keys = ['documents', 'inputNodes', 'outputNodes', 'segmentCount', 'liveBytes', 'activeSegmentNumber'] as const
  for (const key of harness.config.compactionIntervalMs === 0 ? keys : keys.slice(0, 3)) {
    assert.equal(after[key], before[key], `${key} after reopen`)
  }
  if (harness.config.compactionIntervalMs === 0) {
    // Closing appends a syncMark (one record header) when records follow the last one.
    assert.ok([0, limits.recordHeaderBytes].includes(after.diskBytes - before.diskBytes), `diskBytes after reopen: ${before.diskBytes} -> ${after.diskBytes}`)
  }
  const recovery = after.lastRecovery
  assert.equal(recovery.tornTail, null, 'a clean close leaves no torn tail')
  assert.equal(recovery.damagedRecordCount + recovery.damagedRangeCount, 0, 'a clean close leaves no damage')
  await checkEverything(harness, 'after reopen')
}

/** Compares the whole store with the model: listing, every document, node and output, and stats. */
async function checkEverything(harness: Harness, when: string): Promise<void> {
  const { store, model } = harness
  await checkWatcher(harness, when)
  assert.deepStrictEqual(await store.listProblems({ limit: limits.pageMaxItems }), { ids: model.liveDocIds() }, `${when}: listProblems`)
  for (const [docId, doc] of model.docs) {
    assert.equal(await store.getProblemHtml(docId), doc.html, `${when}: html of ${docId}`)
    assertSameMeta(await store.getProblemMeta(docId), doc.meta, `${when}: meta of ${docId}`)
    assertSamePage(
      await store.getAllTestCases(docId, { includeOutputs: true }),
      model.testCasePage(docId, undefined, undefined, true),
      `${when}: nodes of ${docId}`,
    )
    assertSamePage(await store.getAllTestCases(docId), model.testCasePage(docId, undefined, undefined, false), `${when}: nodes of ${docId}`)
    for (const tcId of doc.chain) {
      const node = model.nodes.get(tcId)!
      assertSameValue(await store.getTestCase(docId, tcId), node.value, `${when}: node ${tcId}`)
      assertSameValue(await store.getExpectedOutput(docId, tcId), node.output, `${when}: output of ${tcId}`)
    }
  }
  for (const docId of model.deletedDocs) {
    assert.equal(await store.getProblemHtml(docId), undefined, `${when}: deleted document ${docId}`)
    assert.equal(await store.getAllTestCases(docId), undefined, `${when}: nodes of deleted document ${docId}`)
  }
  for (const { docId, tcId } of model.deletedNodes) {
    assert.equal(await store.getTestCase(docId, tcId), undefined, `${when}: deleted node ${tcId}`)
    assert.equal(await store.getExpectedOutput(docId, tcId), undefined, `${when}: output of deleted node ${tcId}`)
  }
  const stats = await store.stats()
  let outputs = 0
  for (const node of model.nodes.values()) if (node.output !== undefined) outputs++
  assert.deepStrictEqual(
    { documents: stats.documents, inputNodes: stats.inputNodes, outputNodes: stats.outputNodes },
    { documents: model.docs.size, inputNodes: model.nodes.size, outputNodes: outputs },
    `${when}: stats counts`,
  )
  assert.equal(stats.status, 'open')
  assert.ok(stats.liveBytes <= stats.diskBytes && stats.deadBytes === stats.diskBytes - stats.liveBytes, `${when}: byte counts`)
  statistics.maxSegmentCount = Math.max(statistics.maxSegmentCount, stats.segmentCount)
}

async function runSequence(config: RunConfig, ops: readonly Op[]): Promise<void> {
  statistics.runs++
  const dir = mkdtempSync(join(tmpdir(), 'stratum-model-'))
  const store = await openStore(storeOptions(dir, config, config.syncMode))
  const harness: Harness = { dir, config, model: new Model(config.shard), store, watcher: startWatcher(store), journal: [], compacted: false }
  const done: string[] = []
  try {
    for (const [index, op] of ops.entries()) {
      try {
        done.push(await runOp(harness, op))
      } catch (error) {
        // Say which step failed and what the steps before it did with which ids.
        const steps = done.map((step, stepIndex) => `  #${stepIndex} ${step}`).join('\n')
        if (error instanceof Error) error.message = `at op #${index} ${fc.stringify(op)}\nsteps before it:\n${steps}\n${error.message}`
        throw error
      }
    }
    await checkEverything(harness, 'at the end')
    await reopen(harness, config.syncMode)
  } finally {
    await harness.store.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

function envNumber(name: string): number | undefined {
  const text = process.env[name]
  return text === undefined || text === '' ? undefined : Number(text)
}

describe('the store against an in-memory model', () => {
  it('model: random sequences of every operation, with close/reopen, match the model', async () => {
    const seed = envNumber('STRATUM_MODEL_SEED')
    const numRuns = envNumber('STRATUM_MODEL_RUNS') ?? 100
    const path = process.env.STRATUM_MODEL_PATH
    await fc.assert(
      fc.asyncProperty(configArb, opsArb, async (config, ops) => {
        await runSequence(config, ops)
      }),
      {
        numRuns,
        ...(seed === undefined ? {} : { seed }),
        ...(path === undefined || path === '' ? {} : { path }),
        // Keep shrinking bounded: a failing sequence is still printed with its seed and path.
        interruptAfterTimeLimit: 120_000,
        markInterruptAsFailure: true,
      },
    )
    if (process.env.STRATUM_MODEL_STATS === '1') console.log(statistics)
    // The runs exercised what they are meant to (not checked when replaying one counterexample).
    if ((path === undefined || path === '') && numRuns >= 50) {
      assert.ok(statistics.maxSegmentCount >= 3, `segments rotated: at most ${statistics.maxSegmentCount} segments in a run`)
      assert.ok(statistics.reopens > statistics.runs, `reopens: ${statistics.reopens} in ${statistics.runs} runs`)
      assert.ok(statistics.compactions >= statistics.runs / 4, `compactions: ${statistics.compactions} in ${statistics.runs} runs`)
      for (const code of ['INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'UNAVAILABLE'] as const) {
        assert.ok(statistics.errorCodes.has(code), `no operation was expected to fail with ${code}`)
      }
      assert.ok(statistics.undefinedReads > 0, 'no read of a missing id')
      assert.ok(statistics.batches > 0 && statistics.failedBatches > 0, `batches: ${statistics.batches} committed, ${statistics.failedBatches} refused`)
      assert.ok(statistics.interleavedLaterStates > 0, 'no read after a write resolved saw a later write of its tick')
      assert.ok(statistics.watchedEvents > statistics.runs, `watched events: ${statistics.watchedEvents} in ${statistics.runs} runs`)
      assert.ok(statistics.resumedEvents > statistics.runs, `changes read back from the log: ${statistics.resumedEvents} in ${statistics.runs} runs`)
      assert.equal(statistics.ops.size, 20, `operations run: ${[...statistics.ops.keys()].join(', ')}`)
    }
  })
})
