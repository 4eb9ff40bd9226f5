/**
 * The store as the behaviour suite sees it: the embedded engine and the client over gRPC behind
 * one interface, so that one suite checks that both behave alike.
 *
 * Reads of unknown ids resolve to undefined (the engine's convention; the client's NOT_FOUND is
 * turned into it). Failures reject with a `SubjectError` whose code is in the engine's terms
 * (the client's gRPC status mapped back: RESOURCE_EXHAUSTED is LIMIT_EXCEEDED, and so on).
 */
import type { MetaInput, TestCase, Value } from '../../src/engine/index.ts'

export class SubjectError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`)
  }
}

/**
 * An atomic batch as both sides build it (the engine's Batch, the client's ClientBatch):
 * creations return a ref that later operations take in place of an id.
 */
export interface SubjectBatch {
  createProblem(html: string, meta?: MetaInput): object
  updateProblemHtml(problem: number | object, html: string): unknown
  updateProblemColumn(problem: number | object, column: string, value: string): unknown
  deleteProblem(problem: number | object): unknown
  addTestCase(problem: number | object, value: Value): object
  updateTestCase(problem: number | object, tc: number | object, value: Value): unknown
  deleteTestCase(problem: number | object, tc: number | object): unknown
  setExpectedOutput(problem: number | object, tc: number | object, value: Value): unknown
  updateExpectedOutput(problem: number | object, tc: number | object, value: Value): unknown
  deleteExpectedOutput(problem: number | object, tc: number | object): unknown
}

export interface StoreSubject {
  createProblem(html: string, meta?: MetaInput): Promise<number>
  getProblemHtml(problemId: number): Promise<string | undefined>
  getProblemMeta(problemId: number): Promise<Record<string, string> | undefined>
  updateProblemHtml(problemId: number, html: string): Promise<void>
  updateProblemColumn(problemId: number, column: string, value: string): Promise<void>
  deleteProblem(problemId: number): Promise<void>
  /** Every page of the listing, in order. */
  listProblemPages(pageSize?: number): Promise<number[][]>
  addTestCase(problemId: number, value: Value): Promise<number>
  getTestCase(problemId: number, tcId: number): Promise<Value | undefined>
  /** Every page of the problem's test cases; undefined for an unknown problem. */
  testCasePages(problemId: number, options?: { includeOutputs?: boolean; pageSize?: number }): Promise<TestCase[][] | undefined>
  updateTestCase(problemId: number, tcId: number, value: Value): Promise<void>
  deleteTestCase(problemId: number, tcId: number): Promise<void>
  setExpectedOutput(problemId: number, tcId: number, value: Value): Promise<void>
  getExpectedOutput(problemId: number, tcId: number): Promise<Value | undefined>
  updateExpectedOutput(problemId: number, tcId: number, value: Value): Promise<void>
  deleteExpectedOutput(problemId: number, tcId: number): Promise<void>
  /** Builds a batch with `build` and commits it; resolves to the ids it created. */
  batch(build: (batch: SubjectBatch) => void): Promise<number[]>
  counts(): Promise<{ problems: number; testCases: number; expectedOutputs: number }>
  flush(): Promise<void>
  /** Closes the store (or stops the server) and opens it again on the same folder. */
  restart(): Promise<void>
  close(): Promise<void>
}

export interface SubjectFactory {
  name: string
  open(): Promise<StoreSubject>
}

