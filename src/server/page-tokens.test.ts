import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { status } from '@grpc/grpc-js'
import { CallError } from './call-error.ts'
import { afterIdOfProblemToken, afterIdOfTestCaseToken, problemPageToken, testCasePageToken } from './page-tokens.ts'

function rejectsAsInvalid(decode: () => unknown): void {
  assert.throws(decode, (error: unknown) => error instanceof CallError && error.code === status.INVALID_ARGUMENT)
}

describe('page tokens', () => {
  it('round-trip the afterId', () => {
    for (const id of [1, 42, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) {
      assert.equal(afterIdOfProblemToken(problemPageToken(id)), id)
      assert.equal(afterIdOfTestCaseToken(testCasePageToken(17, id), 17), id)
    }
    assert.equal(afterIdOfProblemToken(''), undefined)
    assert.equal(afterIdOfTestCaseToken('', 17), undefined)
  })

  it('refuse anything the server did not issue', () => {
    const token = problemPageToken(42)
    for (const bad of ['x', '!!!!', `${token}=`, `${token}.`, ` ${token}`, Buffer.from('p042').toString('base64url'), Buffer.from('p0').toString('base64url')]) {
      rejectsAsInvalid(() => afterIdOfProblemToken(bad))
    }
    rejectsAsInvalid(() => afterIdOfProblemToken(Buffer.from(`p${2 ** 53}`).toString('base64url')))
    rejectsAsInvalid(() => afterIdOfProblemToken(testCasePageToken(1, 2)))
    rejectsAsInvalid(() => afterIdOfTestCaseToken(token, 1))
  })

  it('refuse a test-case token of another problem', () => {
    rejectsAsInvalid(() => afterIdOfTestCaseToken(testCasePageToken(17, 40), 18))
  })
})
