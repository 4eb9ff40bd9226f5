/**
 * An atomic batch over the Commit RPC: the client's side of `store.batch()`.
 *
 *   const batch = client.batch()
 *   const problem = batch.createProblem('<p>A+B</p>', { title: 'A+B' })
 *   const tc = batch.addTestCase(problem, int64List([1, 2]))
 *   batch.setExpectedOutput(problem, tc, int64(3))
 *   const [problemId, tcId] = await batch.commit()
 *
 * Operations are checked when the batch is committed: an argument the wire cannot carry rejects
 * the commit with INVALID_ARGUMENT before any call; the server validates the rest, all of it
 * before writing any (a refusal names the operation's position, from 1).
 */
import type { Value } from '../protocol/values.ts'
import { columnsOf, condition, id, text, wireValue, type MetaInput } from './wire-arguments.ts'
import * as grpc from '@grpc/grpc-js'
import { WireValueError } from '../protocol/value-wire.ts'
import { StratumClientError } from './client-error.ts'

/** Stands for the id that an earlier operation of the same batch creates. */
export class BatchRef {
  /** @internal */
  constructor(
    readonly batch: ClientBatch,
    /** The position of the operation that creates it, from 1. */
    readonly position: number,
    readonly kind: 'problem' | 'test case',
  ) {}
}

/** An id, or the ref of one created earlier in the same batch. */
export type IdOrRef = number | BatchRef

type Commit = (operations: () => object[], options: { deadlineMs?: number } | undefined) => Promise<{ createdIds: number[]; revision: number }>

/** The condition of an operation: the version its target must be at, or the whole batch fails FAILED_PRECONDITION. */
export interface BatchCondition {
  expectedVersion?: number
}

export class ClientBatch {
  private readonly operations: Array<() => object> = []
  private committed = false
  private revisionValue: number | undefined

  /** @internal Use `client.batch()`. */
  constructor(private readonly send: Commit) {}

  /** Once committed, the store's revision at the batch: the version of what its last operation wrote. */
  get revision(): number | undefined {
    return this.revisionValue
  }

  get size(): number {
    return this.operations.length
  }

  createProblem(html: string, meta?: MetaInput): BatchRef {
    return new BatchRef(this, this.add(() => ({ createProblem: { html: text(html, 'html'), columns: columnsOf(meta) } })), 'problem')
  }

  updateProblemHtml(problem: IdOrRef, html: string, options?: BatchCondition): this {
    this.add(() => this.problem(problem, (problemId) => ({ updateProblemHtml: { problemId, html: text(html, 'html'), ...condition(options) } })))
    return this
  }

  updateProblemColumn(problem: IdOrRef, column: string, value: string, options?: BatchCondition): this {
    this.add(() =>
      this.problem(problem, (problemId) => ({ updateProblemColumn: { problemId, column: text(column, 'column'), value: text(value, 'value'), ...condition(options) } })),
    )
    return this
  }

  deleteProblem(problem: IdOrRef, options?: BatchCondition): this {
    this.add(() => this.problem(problem, (problemId) => ({ deleteProblem: { problemId, ...condition(options) } })))
    return this
  }

  addTestCase(problem: IdOrRef, value: Value): BatchRef {
    return new BatchRef(this, this.add(() => this.problem(problem, (problemId) => ({ addTestCase: { problemId, value: wireValue(value) } }))), 'test case')
  }

  updateTestCase(problem: IdOrRef, tc: IdOrRef, value: Value, options?: BatchCondition): this {
    this.add(() => this.testCase(problem, tc, (ids) => ({ updateTestCase: { ...ids, value: wireValue(value), ...condition(options) } })))
    return this
  }

  deleteTestCase(problem: IdOrRef, tc: IdOrRef, options?: BatchCondition): this {
    this.add(() => this.testCase(problem, tc, (ids) => ({ deleteTestCase: { ...ids, ...condition(options) } })))
    return this
  }

  setExpectedOutput(problem: IdOrRef, tc: IdOrRef, value: Value): this {
    this.add(() => this.testCase(problem, tc, (ids) => ({ setExpectedOutput: { ...ids, value: wireValue(value) } })))
    return this
  }

  updateExpectedOutput(problem: IdOrRef, tc: IdOrRef, value: Value, options?: BatchCondition): this {
    this.add(() => this.testCase(problem, tc, (ids) => ({ updateExpectedOutput: { ...ids, value: wireValue(value), ...condition(options) } })))
    return this
  }

  deleteExpectedOutput(problem: IdOrRef, tc: IdOrRef, options?: BatchCondition): this {
    this.add(() => this.testCase(problem, tc, (ids) => ({ deleteExpectedOutput: { ...ids, ...condition(options) } })))
    return this
  }

  /** Sends the batch; resolves to the ids it created (createProblem, addTestCase), in order. Once only. */
  async commit(options?: { deadlineMs?: number }): Promise<number[]> {
    if (this.committed) throw committedAlready()
    this.committed = true
    const { createdIds, revision } = await this.send(() => this.operations.map((operation) => operation()), options)
    this.revisionValue = revision
    return createdIds
  }

  private add(operation: () => object): number {
    if (this.committed) throw committedAlready()
    this.operations.push(operation)
    return this.operations.length
  }

  /** An operation naming a problem: its id, or problemRef for a problem of this batch. */
  private problem(problem: IdOrRef, build: (problemId: string) => object): object {
    if (!(problem instanceof BatchRef)) return build(id(problem, 'problemId'))
    return { ...build('0'), problemRef: this.position(problem, 'problem') }
  }

  private testCase(problem: IdOrRef, tc: IdOrRef, build: (ids: { problemId: string; tcId: string }) => object): object {
    const problemId = problem instanceof BatchRef ? '0' : id(problem, 'problemId')
    const tcId = tc instanceof BatchRef ? '0' : id(tc, 'tcId')
    return {
      ...build({ problemId, tcId }),
      ...(problem instanceof BatchRef ? { problemRef: this.position(problem, 'problem') } : {}),
      ...(tc instanceof BatchRef ? { tcRef: this.position(tc, 'test case') } : {}),
    }
  }

  private position(ref: BatchRef, kind: BatchRef['kind']): number {
    if (ref.batch !== this) throw new WireValueError('a BatchRef stands for an id only in the batch that made it')
    if (ref.kind !== kind) throw new WireValueError(`operation ${ref.position} of the batch creates a ${ref.kind}, not a ${kind}`)
    return ref.position
  }
}

function committedAlready(): StratumClientError {
  return new StratumClientError('Commit', grpc.status.INVALID_ARGUMENT, 'this batch was committed already; start another with client.batch()')
}
