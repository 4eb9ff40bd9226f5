/**
 * Page tokens: opaque to clients, they carry the engine's `afterId` (and, for test cases, the
 * problem they belong to, so that a token is not silently reused on another problem).
 *
 * A token is base64url of "p<afterId>" or "t<problemId>.<afterId>". Decoding accepts only the
 * canonical form of a token this server could have issued; anything else is INVALID_ARGUMENT.
 */
import { invalidArgument } from './call-error.ts'

const idPattern = '([1-9][0-9]{0,15})'
const problemTokenPattern = new RegExp(`^p${idPattern}$`)
const testCaseTokenPattern = new RegExp(`^t${idPattern}\\.${idPattern}$`)

function encode(text: string): string {
  return Buffer.from(text, 'latin1').toString('base64url')
}

function decode(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('latin1')
  // Node's base64url decoder skips characters outside the alphabet; insist on the exact form.
  if (encode(text) !== token) throw badToken()
  return text
}

function badToken(): Error {
  return invalidArgument('page_token is not a next_page_token of this request')
}

function idOfToken(digits: string | undefined): number {
  const id = Number(digits)
  if (!Number.isSafeInteger(id)) throw badToken()
  return id
}

export function problemPageToken(afterId: number): string {
  return encode(`p${afterId}`)
}

/** The afterId of a ListProblems page token; undefined for the first page (empty token). */
export function afterIdOfProblemToken(token: string): number | undefined {
  if (token === '') return undefined
  const match = problemTokenPattern.exec(decode(token))
  if (match === null) throw badToken()
  return idOfToken(match[1])
}

export function testCasePageToken(problemId: number, afterId: number): string {
  return encode(`t${problemId}.${afterId}`)
}

/** The afterId of a GetAllTestCases page token of `problemId`; undefined for the first page. */
export function afterIdOfTestCaseToken(token: string, problemId: number): number | undefined {
  if (token === '') return undefined
  const match = testCaseTokenPattern.exec(decode(token))
  if (match === null) throw badToken()
  if (idOfToken(match[1]) !== problemId) throw invalidArgument(`page_token belongs to another problem than ${problemId}`)
  return idOfToken(match[2])
}
