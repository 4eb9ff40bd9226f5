/**
 * The Commit RPC end to end: ids created in order, refs to earlier operations, and every way a
 * request can be refused, each with its status, a message naming the operation and field, and
 * nothing written.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { int64, isStratumClientError } from '../../src/client/index.ts'
import { limits } from '../../src/engine/index.ts'
import { lseMethods } from '../../src/protocol/proto-definition.ts'
import type { CommitRequest, CommitResponse } from '../../src/protocol/wire-types.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})
after(async () => {
  await server.stop()
})

/** Sends a Commit as the wire request `request`, with the client's channel. */
function commit(request: CommitRequest): Promise<CommitResponse> {
  const method = lseMethods().Commit
  const channel = new grpc.Client(server.server.address, grpc.credentials.createInsecure())
  return new Promise<CommitResponse>((resolve, reject) => {
    channel.makeUnaryRequest<object, object>(method.path, method.requestSerialize, method.responseDeserialize, request, (error, response) => {
      channel.close()
      if (error !== null) reject(error)
      else resolve(response as CommitResponse)
    })
  })
}

async function refused(request: CommitRequest, code: grpc.status, pattern: RegExp): Promise<void> {
  const before = await server.client.getStats()
  await assert.rejects(commit(request), (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${grpc.status[error.code]}: ${error.details}`)
    assert.match(error.details, pattern)
    return true
  })
  await server.client.flush()
  const after = await server.client.getStats()
  assert.deepEqual(
    [after.problemsInIndex, after.testCasesInIndex, after.expectedOutputsInIndex, after.diskBytes],
    [before.problemsInIndex, before.testCasesInIndex, before.expectedOutputsInIndex, before.diskBytes],
    'a refused Commit writes nothing',
  )
}

const value = { int64Value: '7' }

describe('Commit', () => {
  it('creates a problem with test cases and outputs through refs, and returns the ids created in order', async () => {
    const response = await commit({
      operations: [
        { createProblem: { html: '<p>A+B</p>', columns: [{ name: 'title', value: 'A+B' }] } },
        { addTestCase: { problemId: '0', value }, problemRef: 1 },
        { setExpectedOutput: { problemId: '0', tcId: '0', value: { int64Value: '14' } }, problemRef: 1, tcRef: 2 },
        { updateProblemColumn: { problemId: '0', column: 'level', value: 'easy' }, problemRef: 1 },
      ],
    })
    assert.equal(response.createdIds.length, 2)
    const [problemId, tcId] = response.createdIds.map(Number) as [number, number]
    assert.deepEqual(await server.client.getProblemMeta(problemId), { title: 'A+B', level: 'easy' })
    assert.deepEqual(await server.client.getTestCase(problemId, tcId), int64(7n))
    assert.deepEqual(await server.client.getExpectedOutput(problemId, tcId), int64(14n))
    // An empty Commit writes nothing: it answers the revision as it is.
    assert.deepEqual(await commit({ operations: [] }), { createdIds: [], revision: String((await server.client.getStats()).revision) })
  })

  it('the TypeScript client builds the same batch with refs', async () => {
    const batch = server.client.batch()
    const problem = batch.createProblem('<p>client</p>')
    const tc = batch.addTestCase(problem, int64(1n))
    batch.setExpectedOutput(problem, tc, int64(2n))
    const [problemId, tcId] = (await batch.commit()) as [number, number]
    assert.deepEqual(await server.client.getExpectedOutput(problemId, tcId), int64(2n))
    await assert.rejects(batch.commit(), (error: unknown) => isStratumClientError(error) && error.code === grpc.status.INVALID_ARGUMENT && /committed already/.test(error.details))
    // An argument the wire cannot carry fails before any call.
    const bad = server.client.batch()
    bad.addTestCase(-1, int64(1n))
    await assert.rejects(bad.commit(), (error: unknown) => isStratumClientError(error) && error.code === grpc.status.INVALID_ARGUMENT && /problemId must be an integer/.test(error.details))
  })

  it('refuses bad refs, missing operations and ids with INVALID_ARGUMENT, naming the operation and field', async () => {
    const problemId = String(await server.client.createProblem('target'))
    const cases: Array<[CommitRequest, RegExp]> = [
      [{ operations: [{ createProblem: { html: 'x', columns: [] } }, {}] }, /operations\[1\] \(operation 2\) sets no operation/],
      [{ operations: [{ addTestCase: { problemId: '0', value }, problemRef: 1 }] }, /operations\[0\] \(operation 1\)\.problem_ref is 1: it must be the position \(from 1\) of an earlier create_problem/],
      [{ operations: [{ createProblem: { html: 'x', columns: [] } }, { addTestCase: { problemId: '0', value }, problemRef: 3 }] }, /problem_ref is 3/],
      [{ operations: [{ createProblem: { html: 'x', columns: [] } }, { addTestCase: { problemId, value }, problemRef: 1 }] }, /sets both problem_id and problem_ref: give one/],
      [{ operations: [{ createProblem: { html: 'x', columns: [] } }, { deleteTestCase: { problemId, tcId: '0' }, tcRef: 1 }] }, /tc_ref is 1: it must be the position \(from 1\) of an earlier add_test_case/],
      [{ operations: [{ createProblem: { html: 'x', columns: [] }, problemRef: 1 }] }, /problem_ref is set on createProblem/],
      [{ operations: [{ deleteProblem: { problemId }, tcRef: 1 }] }, /tc_ref is set on deleteProblem, which names no test case/],
      [{ operations: [{ addTestCase: { problemId: '0', value } }] }, /operations\[0\] \(operation 1\)\.problem_id is required/],
      [{ operations: [{ createProblem: { html: 'x', columns: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }] } }] }, /operations\[0\] \(operation 1\)\.columns repeat the name "a"/],
      [{ operations: [{ addTestCase: { problemId, value: {} } }] }, /operations\[0\] \(operation 1\)\.value/],
    ]
    for (const [request, pattern] of cases) await refused(request, grpc.status.INVALID_ARGUMENT, pattern)
  })

  it("answers the engine's refusal of an operation with its status, naming its position", async () => {
    const problemId = String(await server.client.createProblem('target'))
    const tcId = String(await server.client.addTestCase(Number(problemId), int64(1n)))
    await server.client.setExpectedOutput(Number(problemId), Number(tcId), int64(1n))
    const lost = { createProblem: { html: 'lost', columns: [] } }
    await refused({ operations: [lost, { addTestCase: { problemId: String(2 ** 40), value } }] }, grpc.status.NOT_FOUND, /operation 2 of 2 \(addTestCase\) of the batch: document \d+ not found; nothing was written/)
    await refused({ operations: [lost, { setExpectedOutput: { problemId, tcId, value } }] }, grpc.status.ALREADY_EXISTS, /operation 2 of 2 \(setExpectedOutput\)/)
    await refused({ operations: [lost, { deleteProblem: { problemId } }, { deleteTestCase: { problemId, tcId } }] }, grpc.status.NOT_FOUND, /operation 3 of 3 \(deleteTestCase\)/)
  })

  it(`refuses more than batchMaxOperations (${limits.batchMaxOperations}) operations with RESOURCE_EXHAUSTED, counted before decoding`, async () => {
    const problemId = String(await server.client.createProblem('target'))
    const operations = Array.from({ length: limits.batchMaxOperations + 1 }, () => ({ updateProblemColumn: { problemId, column: 'c', value: 'v' } }))
    // "got more": counted from the wire bytes, the operations were never decoded.
    await refused({ operations }, grpc.status.RESOURCE_EXHAUSTED, /at most 100000 operations \(batchMaxOperations\), got more: split it/)
    assert.deepEqual(await server.client.getProblemMeta(Number(problemId)), {})
  })
})
