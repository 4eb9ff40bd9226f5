/**
 * The operations of a Commit request as an engine batch: each operation's request decoded as its
 * own RPC's would be, and problem_ref / tc_ref (positions from 1 of earlier operations) turned into
 * the BatchIds those operations returned. Errors name the operation (`operations[3]`, from 0 as
 * in the request's list, and its position from 1) and the field.
 */
import { limits, StratumError, type Batch, type BatchId, type Store } from '../engine/index.ts'
import { valueFromWire } from '../protocol/value-wire.ts'
import type { CommitRequest, WireOperation } from '../protocol/wire-types.ts'
import { invalidArgument } from './call-error.ts'
import { columnsOf, expectedVersionOf, idOf } from './request-fields.ts'

/** The batch a Commit request describes, its operations added in order (not committed). */
export function batchOfCommit(store: Store, request: CommitRequest): Batch {
  const operations = request.operations
  if (operations.length > limits.batchMaxOperations) {
    throw new StratumError('LIMIT_EXCEEDED', `a Commit holds at most ${limits.batchMaxOperations} operations (batchMaxOperations), got ${operations.length}: split it`)
  }
  const batch = store.batch()
  // What each operation created, by index: the targets of refs.
  const created: Array<BatchId | undefined> = []
  for (const [index, operation] of operations.entries()) {
    created.push(addOperation(batch, operation, index, created))
  }
  return batch
}

function addOperation(batch: Batch, operation: WireOperation, index: number, created: ReadonlyArray<BatchId | undefined>): BatchId | undefined {
  const where = `operations[${index}] (operation ${index + 1})`
  const problemOf = (problemId: string): number | BatchId => refOrId(operation.problemRef ?? 0, problemId, 'problem', where, created)
  const tcOf = (tcId: string): number | BatchId => refOrId(operation.tcRef ?? 0, tcId, 'test case', where, created)
  const member = operation.op
  if (member === undefined) throw invalidArgument(`${where} sets no operation: set one member of op (create_problem, add_test_case, …)`)
  const body = operation[member]
  if (body === undefined || body === null) throw invalidArgument(`${where} sets no operation`)
  if ((operation.tcRef ?? 0) !== 0 && !('tcId' in body)) {
    throw invalidArgument(`${where}: tc_ref is set on ${member}, which names no test case`)
  }
  const valueOf = (value: Parameters<typeof valueFromWire>[0]) => valueFromWire(value, `${where}.value`)
  const conditionOf = (request: { expectedVersion?: string }) => expectedVersionOf(request, `${where}.expected_version`)
  switch (member) {
    case 'createProblem': {
      const request = operation.createProblem!
      if ((operation.problemRef ?? 0) !== 0) throw invalidArgument(`${where}: problem_ref is set on createProblem, which names no problem`)
      return batch.createProblem(request.html, columnsOf(request.columns, `${where}.columns`))
    }
    case 'updateProblemHtml': {
      const request = operation.updateProblemHtml!
      batch.updateProblemHtml(problemOf(request.problemId), request.html, conditionOf(request))
      return undefined
    }
    case 'updateProblemColumn': {
      const request = operation.updateProblemColumn!
      batch.updateProblemColumn(problemOf(request.problemId), request.column, request.value, conditionOf(request))
      return undefined
    }
    case 'deleteProblem':
      batch.deleteProblem(problemOf(operation.deleteProblem!.problemId), conditionOf(operation.deleteProblem!))
      return undefined
    case 'addTestCase': {
      const request = operation.addTestCase!
      return batch.addTestCase(problemOf(request.problemId), valueOf(request.value))
    }
    case 'updateTestCase': {
      const request = operation.updateTestCase!
      batch.updateTestCase(problemOf(request.problemId), tcOf(request.tcId), valueOf(request.value), conditionOf(request))
      return undefined
    }
    case 'deleteTestCase': {
      const request = operation.deleteTestCase!
      batch.deleteTestCase(problemOf(request.problemId), tcOf(request.tcId), conditionOf(request))
      return undefined
    }
    case 'setExpectedOutput': {
      const request = operation.setExpectedOutput!
      batch.setExpectedOutput(problemOf(request.problemId), tcOf(request.tcId), valueOf(request.value))
      return undefined
    }
    case 'updateExpectedOutput': {
      const request = operation.updateExpectedOutput!
      batch.updateExpectedOutput(problemOf(request.problemId), tcOf(request.tcId), valueOf(request.value), conditionOf(request))
      return undefined
    }
    case 'deleteExpectedOutput': {
      const request = operation.deleteExpectedOutput!
      batch.deleteExpectedOutput(problemOf(request.problemId), tcOf(request.tcId), conditionOf(request))
      return undefined
    }
  }
}

/** The id an operation names: `id`, or the BatchId of the earlier operation at position `ref`. */
function refOrId(
  ref: number,
  id: string,
  kind: 'problem' | 'test case',
  where: string,
  created: ReadonlyArray<BatchId | undefined>,
): number | BatchId {
  const refField = kind === 'problem' ? 'problem_ref' : 'tc_ref'
  const idField = kind === 'problem' ? 'problem_id' : 'tc_id'
  if (ref === 0) return idOf(id, `${where}.${idField}`)
  if (id !== '0') throw invalidArgument(`${where} sets both ${idField} and ${refField}: give one`)
  const target = ref <= created.length ? created[ref - 1] : undefined
  const creates = kind === 'problem' ? 'document' : 'test case'
  if (target === undefined || target.kind !== creates) {
    const what = kind === 'problem' ? 'create_problem' : 'add_test_case'
    throw invalidArgument(`${where}.${refField} is ${ref}: it must be the position (from 1) of an earlier ${what} of this Commit`)
  }
  return target
}

