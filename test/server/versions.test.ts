/**
 * Versions and conditional writes over gRPC, with the TypeScript client: reads carry the version
 * of what they return, writes answer the version they gave (deletes the revision), GetStats the
 * store's revision; a write at a stale expected_version is FAILED_PRECONDITION naming the current
 * version, and writes nothing; a Commit is refused whole for one stale operation. Versions are
 * the same after a restart.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { int64, isStratumClientError, string } from '../../src/client/index.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})
after(async () => {
  await server.stop()
})

function preconditionFailed(current: number, expected: number): (error: unknown) => boolean {
  return (error) =>
    isStratumClientError(error) &&
    error.code === grpc.status.FAILED_PRECONDITION &&
    error.details.includes(`at version ${current}, not the expected version ${expected}; nothing was written`)
}

describe('versions over gRPC', () => {
  it('are returned by reads and writes, and GetStats gives the revision', async () => {
    const client = server.client
    const problemId = await client.createProblem('<p>v1</p>', { title: 'A' })
    const tcId = await client.addTestCase(problemId, int64(1))
    const outputVersion = await client.setExpectedOutput(problemId, tcId, int64(2))
    const html = await client.getProblemHtmlVersioned(problemId)
    const meta = await client.getProblemMetaVersioned(problemId)
    assert.deepEqual(html.value, '<p>v1</p>')
    assert.deepEqual(meta, { value: { title: 'A' }, version: html.version })
    const testCase = await client.getTestCaseVersioned(problemId, tcId)
    assert.ok(testCase.version > html.version)
    assert.deepEqual(await client.getExpectedOutputVersioned(problemId, tcId), { value: int64(2), version: outputVersion })
    assert.equal((await client.getStats()).revision, outputVersion)

    const page = await client.getAllTestCasesPage(problemId, { includeOutputs: true, includeVersions: true })
    assert.deepEqual(page.testCases, [{ tcId, value: int64(1), output: int64(2), version: testCase.version, outputVersion }])

    const newHtml = await client.updateProblemHtml(problemId, '<p>v2</p>', { expectedVersion: html.version })
    assert.equal((await client.getProblemHtmlVersioned(problemId)).version, newHtml)
    const newValue = await client.updateTestCase(problemId, tcId, string('x'), { expectedVersion: testCase.version })
    assert.equal((await client.getTestCaseVersioned(problemId, tcId)).version, newValue)
    const revision = await client.deleteProblem(problemId, { expectedVersion: newHtml })
    assert.equal((await client.getStats()).revision, revision)
  })

  it('refuse a write at a stale version FAILED_PRECONDITION, naming the current one, writing nothing', async () => {
    const client = server.client
    const problemId = await client.createProblem('<p>v1</p>')
    const tcId = await client.addTestCase(problemId, int64(1))
    await client.setExpectedOutput(problemId, tcId, int64(2))
    const problem = (await client.getProblemHtmlVersioned(problemId)).version
    const testCase = (await client.getTestCaseVersioned(problemId, tcId)).version
    const output = (await client.getExpectedOutputVersioned(problemId, tcId)).version
    const before = await client.getStats()
    await assert.rejects(client.updateProblemHtml(problemId, '<p>lost</p>', { expectedVersion: problem + 100 }), preconditionFailed(problem, problem + 100))
    await assert.rejects(client.updateProblemColumn(problemId, 'c', 'lost', { expectedVersion: 1 }), preconditionFailed(problem, 1))
    await assert.rejects(client.deleteProblem(problemId, { expectedVersion: testCase }), preconditionFailed(problem, testCase))
    await assert.rejects(client.updateTestCase(problemId, tcId, int64(9), { expectedVersion: output }), preconditionFailed(testCase, output))
    await assert.rejects(client.deleteTestCase(problemId, tcId, { expectedVersion: problem }), preconditionFailed(testCase, problem))
    await assert.rejects(client.updateExpectedOutput(problemId, tcId, int64(9), { expectedVersion: testCase }), preconditionFailed(output, testCase))
    await assert.rejects(client.deleteExpectedOutput(problemId, tcId, { expectedVersion: problem }), preconditionFailed(output, problem))
    const afterRefusals = await client.getStats()
    assert.equal(afterRefusals.revision, before.revision)
    assert.equal(afterRefusals.diskBytes, before.diskBytes, 'nothing was written')
    assert.equal(await client.getProblemHtml(problemId), '<p>v1</p>')
    assert.deepEqual(await client.getExpectedOutput(problemId, tcId), int64(2))
  })

  it('refuse an expected version the client cannot send, or above 2^53-1 on the wire, INVALID_ARGUMENT', async () => {
    const client = server.client
    const problemId = await client.createProblem('<p>x</p>')
    await assert.rejects(client.updateProblemHtml(problemId, '<p>y</p>', { expectedVersion: 0.5 }), (error: unknown) => isStratumClientError(error) && error.code === grpc.status.INVALID_ARGUMENT)
    const method = (await import('../../src/protocol/proto-definition.ts')).lseMethods().UpdateProblemHtml
    const raw = new grpc.Client(server.server.address, grpc.credentials.createInsecure())
    const status = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { problemId: String(problemId), html: 'z', expectedVersion: '18446744073709551615' }, (error) => resolve(error)),
    )
    raw.close()
    assert.equal(status?.code, grpc.status.INVALID_ARGUMENT)
    assert.match(status!.details, /expected_version 18446744073709551615 is above 2\^53-1/)
    assert.equal(await client.getProblemHtml(problemId), '<p>x</p>')
  })

  it('refuse a whole Commit when one operation is stale, and give the revision of one that commits', async () => {
    const client = server.client
    const problemId = await client.createProblem('<p>v1</p>')
    const version = (await client.getProblemHtmlVersioned(problemId)).version
    const stale = client.batch().updateProblemColumn(problemId, 'a', '1', { expectedVersion: version }).updateProblemColumn(problemId, 'b', '2', { expectedVersion: version - 1 })
    await assert.rejects(stale.commit(), (error: unknown) => isStratumClientError(error) && error.code === grpc.status.FAILED_PRECONDITION && /operation 2 of 2/.test(error.details) && error.details.includes(`at version ${version},`))
    assert.deepEqual(await client.getProblemMeta(problemId), {})
    // Conditions are on the versions before the batch: two operations on one problem, one version.
    const batch = client.batch().updateProblemColumn(problemId, 'a', '1', { expectedVersion: version }).updateProblemColumn(problemId, 'b', '2', { expectedVersion: version })
    await batch.commit()
    assert.equal(batch.revision, (await client.getProblemMetaVersioned(problemId)).version)
    assert.equal(batch.revision, (await client.getStats()).revision)
  })

  it('are the same after a restart', async () => {
    const problemId = await server.client.createProblem('<p>kept</p>', { k: 'v' })
    const tcId = await server.client.addTestCase(problemId, int64(1))
    await server.client.setExpectedOutput(problemId, tcId, int64(2))
    const read = async (): Promise<unknown> => [
      await server.client.getProblemHtmlVersioned(problemId),
      await server.client.getTestCaseVersioned(problemId, tcId),
      await server.client.getExpectedOutputVersioned(problemId, tcId),
    ]
    const before = await read()
    const revision = (await server.client.getStats()).revision
    await server.restart()
    assert.deepEqual(await read(), before)
    assert.ok((await server.client.getStats()).revision >= revision)
  })
})
