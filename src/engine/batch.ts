/**
 * An atomic batch of writes: `store.batch()`, then its operations, then `commit()`.
 *
 * All or nothing: every operation is validated (against the store as the writes before it, those
 * of the batch included, leave it) before anything is appended; the batch is then appended as one
 * unit of the log (its records flagged BATCH_CONTINUES but the last, in one group commit), so that
 * recovery applies it whole or not at all, and published to the index at once when acknowledged.
 * A batch that fails validation writes nothing, and its promise rejects with the error of the
 * first operation that failed, its position (counted from 1) and kind named in the message.
 *
 * Ids created in the batch are not known before it commits: `createProblem` and `addTestCase`
 * return a `BatchId`, which later operations of the same batch take in place of an id.
 *
 *   const batch = store.batch()
 *   const doc = batch.createProblem('<p>A+B</p>', { title: 'A+B' })
 *   const tc = batch.addTestCase(doc, int64List([1, 2]))
 *   batch.setExpectedOutput(doc, tc, int64(3))
 *   const [docId, tcId] = await batch.commit()   // the ids created, in order
 */
import type { MetaInput } from './document-meta.ts'
import { invalidArgument, limitExceeded, StratumError } from './errors.ts'
import { batchMaxOperations } from './limits.ts'
import type { Value } from './values.ts'

/** Stands for the id that an earlier operation of the same batch creates. */
export class BatchId {
  /** @internal */
  constructor(
    readonly batch: Batch,
    /** The index (from 0) of the operation that creates it. */
    readonly operation: number,
    readonly kind: 'document' | 'test case',
  ) {}
}

/** An id, or the placeholder of one created earlier in the same batch. */
export type IdOrBatchId = number | BatchId

/**
 * A condition on a write: `expectedVersion`, the version its target must be at (as a read
 * returned it), or the write fails VERSION_MISMATCH and writes nothing.
 */
export interface WriteCondition {
  expectedVersion?: number
}

export type BatchOperation =
  | { op: 'createProblem'; html: string; meta: MetaInput | undefined }
  | { op: 'updateProblemHtml'; docId: IdOrBatchId; html: string; expectedVersion?: number }
  | { op: 'updateProblemColumn'; docId: IdOrBatchId; column: string; value: string; expectedVersion?: number }
  | { op: 'deleteProblem'; docId: IdOrBatchId; expectedVersion?: number }
  | { op: 'addTestCase'; docId: IdOrBatchId; value: Value }
  | { op: 'updateTestCase'; docId: IdOrBatchId; tcId: IdOrBatchId; value: Value; expectedVersion?: number }
  | { op: 'deleteTestCase'; docId: IdOrBatchId; tcId: IdOrBatchId; expectedVersion?: number }
  | { op: 'setExpectedOutput'; docId: IdOrBatchId; tcId: IdOrBatchId; value: Value }
  | { op: 'updateExpectedOutput'; docId: IdOrBatchId; tcId: IdOrBatchId; value: Value; expectedVersion?: number }
  | { op: 'deleteExpectedOutput'; docId: IdOrBatchId; tcId: IdOrBatchId; expectedVersion?: number }

export class Batch {
  private readonly operations: BatchOperation[] = []
  private committed = false
  private revisionValue: number | undefined

  /** @internal Use `store.batch()`. */
  constructor(private readonly commitOperations: (operations: readonly BatchOperation[]) => Promise<{ createdIds: number[]; revision: number }>) {}

  /** Once committed, the store's revision at the batch: the version of what its last operation wrote. */
  get revision(): number | undefined {
    return this.revisionValue
  }

  /** Operations added so far. */
  get size(): number {
    return this.operations.length
  }

  createProblem(html: string, meta?: MetaInput): BatchId {
    return new BatchId(this, this.add({ op: 'createProblem', html, meta }), 'document')
  }

  updateProblemHtml(docId: IdOrBatchId, html: string, condition: WriteCondition = {}): this {
    this.add({ op: 'updateProblemHtml', docId: this.checkRef(docId, 'document'), html, expectedVersion: condition.expectedVersion })
    return this
  }

  updateProblemColumn(docId: IdOrBatchId, column: string, value: string, condition: WriteCondition = {}): this {
    this.add({ op: 'updateProblemColumn', docId: this.checkRef(docId, 'document'), column, value, expectedVersion: condition.expectedVersion })
    return this
  }

  deleteProblem(docId: IdOrBatchId, condition: WriteCondition = {}): this {
    this.add({ op: 'deleteProblem', docId: this.checkRef(docId, 'document'), expectedVersion: condition.expectedVersion })
    return this
  }

  addTestCase(docId: IdOrBatchId, value: Value): BatchId {
    return new BatchId(this, this.add({ op: 'addTestCase', docId: this.checkRef(docId, 'document'), value }), 'test case')
  }

  updateTestCase(docId: IdOrBatchId, tcId: IdOrBatchId, value: Value, condition: WriteCondition = {}): this {
    this.add({ op: 'updateTestCase', docId: this.checkRef(docId, 'document'), tcId: this.checkRef(tcId, 'test case'), value, expectedVersion: condition.expectedVersion })
    return this
  }

  deleteTestCase(docId: IdOrBatchId, tcId: IdOrBatchId, condition: WriteCondition = {}): this {
    this.add({ op: 'deleteTestCase', docId: this.checkRef(docId, 'document'), tcId: this.checkRef(tcId, 'test case'), expectedVersion: condition.expectedVersion })
    return this
  }

  setExpectedOutput(docId: IdOrBatchId, tcId: IdOrBatchId, value: Value): this {
    this.add({ op: 'setExpectedOutput', docId: this.checkRef(docId, 'document'), tcId: this.checkRef(tcId, 'test case'), value })
    return this
  }

  updateExpectedOutput(docId: IdOrBatchId, tcId: IdOrBatchId, value: Value, condition: WriteCondition = {}): this {
    this.add({ op: 'updateExpectedOutput', docId: this.checkRef(docId, 'document'), tcId: this.checkRef(tcId, 'test case'), value, expectedVersion: condition.expectedVersion })
    return this
  }

  deleteExpectedOutput(docId: IdOrBatchId, tcId: IdOrBatchId, condition: WriteCondition = {}): this {
    this.add({ op: 'deleteExpectedOutput', docId: this.checkRef(docId, 'document'), tcId: this.checkRef(tcId, 'test case'), expectedVersion: condition.expectedVersion })
    return this
  }

  /**
   * Validates every operation, then writes them all as one unit; resolves, once durable, to the
   * ids the batch created (by createProblem and addTestCase), in the order of their operations.
   * A batch commits once.
   */
  async commit(): Promise<number[]> {
    if (this.committed) throw invalidArgument('this batch was committed already; start another with store.batch()')
    this.committed = true
    const { createdIds, revision } = await this.commitOperations(this.operations)
    this.revisionValue = revision
    return createdIds
  }

  private add(operation: BatchOperation): number {
    if (this.committed) throw invalidArgument('this batch was committed already; start another with store.batch()')
    if (this.operations.length >= batchMaxOperations) {
      throw limitExceeded(`a batch holds at most ${batchMaxOperations} operations (batchMaxOperations); commit this one and start another`)
    }
    this.operations.push(operation)
    return this.operations.length - 1
  }

  private checkRef(ref: IdOrBatchId, kind: BatchId['kind']): IdOrBatchId {
    if (!(ref instanceof BatchId)) return ref
    if (ref.batch !== this) throw invalidArgument('a BatchId stands for an id only in the batch that made it')
    if (ref.kind !== kind) throw invalidArgument(`operation ${ref.operation + 1} of the batch creates a ${ref.kind}, not a ${kind}`)
    return ref
  }
}

/**
 * An error of operation `index` (from 0) of a batch of `count`: the same code, its position
 * (counted from 1, as people count) and kind named.
 */
export function batchOperationError(error: unknown, index: number, count: number, operation: BatchOperation): unknown {
  if (!(error instanceof StratumError)) return error
  // A conditional write's message says it already.
  const nothingWritten = error.message.includes('nothing was written') ? '' : '; nothing was written'
  return new StratumError(error.code, `operation ${index + 1} of ${count} (${operation.op}) of the batch: ${error.message}${nothingWritten}`, { cause: error })
}
