/**
 * One page of GetAllTestCases, cut so that its response fits the message size limit.
 *
 * The engine bounds a page by items only, and a test case may hold 8 MiB (a value and an output
 * of 4 MiB each), so a page of 1,000 could be gigabytes. The page is therefore read in chunks
 * sized from the largest test case seen so far, and ends early, with a next_page_token, when
 * the next test case would take the response over budget. A page always holds at least one test
 * case, which always fits (8 MiB is under the response limit).
 */
import type { Store, TestCase, Value } from '../engine/index.ts'
import { envelopeBytes, responseMaxBytes } from './message-limits.ts'

/** Bytes of test cases one response may hold. */
export const testCasePageBudgetBytes = responseMaxBytes - envelopeBytes

/** The first chunk: large enough for a typical whole chain, small enough for 16 huge nodes. */
const firstChunkItems = 16
const chunkMaxItems = 1024

export interface TestCasePageRequest {
  problemId: number
  afterId: number | undefined
  pageSizeItems: number
  includeOutputs: boolean
  budgetBytes?: number
}

export interface CutTestCasePage {
  testCases: TestCase[]
  /** The tcId to continue after; undefined on the last page. */
  nextAfterId: number | undefined
}

/** Undefined when the problem does not exist. */
export async function readTestCasePage(store: Store, request: TestCasePageRequest): Promise<CutTestCasePage | undefined> {
  const budgetBytes = request.budgetBytes ?? testCasePageBudgetBytes
  const testCases: TestCase[] = []
  let usedBytes = 0
  let largestBytes = 1
  let afterId = request.afterId
  let chunkItems = Math.min(request.pageSizeItems, firstChunkItems)
  // Bounded: every pass either returns or adds at least one test case, up to pageSizeItems.
  for (;;) {
    const chunk = await store.getAllTestCases(request.problemId, { afterId, limit: chunkItems, includeOutputs: request.includeOutputs, includeVersions: true })
    if (chunk === undefined) return undefined // deleted between two chunks: the page is gone too
    for (const testCase of chunk.testCases) {
      const sizeBytes = testCaseWireBytes(testCase)
      if (testCases.length > 0 && usedBytes + sizeBytes > budgetBytes) {
        return { testCases, nextAfterId: testCases[testCases.length - 1]!.tcId }
      }
      usedBytes += sizeBytes
      largestBytes = Math.max(largestBytes, sizeBytes)
      testCases.push(testCase)
    }
    if (chunk.nextAfterId === undefined) return { testCases, nextAfterId: undefined }
    if (testCases.length >= request.pageSizeItems) return { testCases, nextAfterId: chunk.nextAfterId }
    afterId = chunk.nextAfterId
    const roomItems = Math.floor((budgetBytes - usedBytes) / largestBytes)
    chunkItems = Math.max(1, Math.min(request.pageSizeItems - testCases.length, chunkMaxItems, roomItems))
  }
}

/** An upper bound of a test case's size in a GetAllTestCasesResponse. */
function testCaseWireBytes(testCase: TestCase): number {
  const output = testCase.output === undefined ? 0 : valueWireBytes(testCase.output)
  // Tag and length of the TestCase, tc_id, tags and lengths of the value and output, and the two versions.
  return 6 + 11 + 6 + valueWireBytes(testCase.value) + 6 + output + 2 * 11
}

/** An upper bound of a Value message's size: 10 bytes a varint, 6 a tag and length. */
function valueWireBytes(value: Value): number {
  switch (value.type) {
    case 'int64':
    case 'double':
      return 11
    case 'string':
      return 6 + Buffer.byteLength(value.value, 'utf8')
    case 'int64List':
      return 12 + 10 * value.value.length
    case 'stringList': {
      let sizeBytes = 12
      for (const item of value.value) sizeBytes += 6 + Buffer.byteLength(item, 'utf8')
      return sizeBytes
    }
    case 'stringMap': {
      let sizeBytes = 12
      for (const [key, item] of value.value) sizeBytes += 18 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(item, 'utf8')
      return sizeBytes
    }
  }
}
