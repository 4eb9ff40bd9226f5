/**
 * The export format of `stratum export` and `stratum import`: newline-delimited JSON,
 * one value a line, so that a problem with a million test cases never has to fit in memory.
 *
 *   {"format":"stratum-export","version":1}                          the header, first
 *   {"problem":{"id":12,"html":"…","columns":{"title":"A+B"}}}         a problem, then its test cases
 *   {"testCase":{"id":34,"value":VALUE,"output":VALUE}}               in chain order ("output" when it has one)
 *   {"end":{"problems":1,"testCases":1}}                              the trailer, last: a dump without it was cut short
 *
 * A VALUE keeps its type exactly (value-literal.ts, `valueJson`): {"type":"int64","value":"5"}
 * (an int64 as a decimal string), {"type":"double","value":2.5} ("NaN", "Infinity",
 * "-Infinity" and "-0" as strings), {"type":"string","value":"…"}, {"type":"int64List",
 * "value":["1","2"]}, {"type":"stringList","value":["a"]}, {"type":"stringMap","value":[["k","v"]]}
 * (pairs, in order). Ids are the exporting server's; an import gives new ones.
 */
import type { TestCase, Value } from '../client/index.ts'
import { valueFromJson, valueJson } from './value-literal.ts'

export const exportFormatName = 'stratum-export'
export const exportFormatVersion = 1

export function headerLine(): string {
  return JSON.stringify({ format: exportFormatName, version: exportFormatVersion })
}

export function problemLine(id: number, html: string, columns: Record<string, string>): string {
  return JSON.stringify({ problem: { id, html, columns } })
}

export function testCaseLine(testCase: TestCase): string {
  const output = testCase.output
  return JSON.stringify({ testCase: { id: testCase.tcId, value: valueJson(testCase.value), ...(output === undefined ? {} : { output: valueJson(output) }) } })
}

export function endLine(problems: number, testCases: number): string {
  return JSON.stringify({ end: { problems, testCases } })
}

/** A line of a dump, read back (`stratum import`). */
export type DumpLine =
  | { kind: 'header' }
  | { kind: 'problem'; id: number; html: string; columns: Record<string, string> }
  | { kind: 'testCase'; id: number; value: Value; output: Value | undefined }
  | { kind: 'end'; problems: number; testCases: number }

/** A line that is not as the format says: its number, and what is wrong. */
export class DumpLineError extends Error {
  constructor(
    readonly lineNumber: number,
    what: string,
  ) {
    super(`line ${lineNumber}: ${what}`)
  }
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** Parses line `lineNumber` (from 1) of a dump; throws DumpLineError. */
export function parseDumpLine(line: string, lineNumber: number): DumpLine {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch (error) {
    throw new DumpLineError(lineNumber, `not JSON: ${(error as Error).message}`)
  }
  if (typeof json !== 'object' || json === null) throw new DumpLineError(lineNumber, 'not a JSON object')
  const record = json as Record<string, unknown>
  try {
    if (lineNumber === 1) {
      if (record.format !== exportFormatName) throw new Error(`the first line names the format, {"format":"${exportFormatName}","version":${exportFormatVersion}}; this is not a Stratum export`)
      if (record.version !== exportFormatVersion) throw new Error(`format version ${String(record.version)}: this version of Stratum reads version ${exportFormatVersion}`)
      return { kind: 'header' }
    }
    if ('problem' in record) {
      const problem = record.problem as { id?: unknown; html?: unknown; columns?: unknown } | null
      if (problem === null || typeof problem !== 'object' || !isId(problem.id) || typeof problem.html !== 'string') throw new Error('a problem is {"id":ID,"html":TEXT,"columns":{…}}')
      const columns = problem.columns
      if (typeof columns !== 'object' || columns === null || Array.isArray(columns) || !Object.values(columns).every((value) => typeof value === 'string')) {
        throw new Error("a problem's columns are an object of strings")
      }
      return { kind: 'problem', id: problem.id, html: problem.html, columns: columns as Record<string, string> }
    }
    if ('testCase' in record) {
      const testCase = record.testCase as { id?: unknown; value?: unknown; output?: unknown } | null
      if (testCase === null || typeof testCase !== 'object' || !isId(testCase.id)) throw new Error('a test case is {"id":ID,"value":VALUE,"output":VALUE}')
      return { kind: 'testCase', id: testCase.id, value: valueFromJson(testCase.value), output: testCase.output === undefined ? undefined : valueFromJson(testCase.output) }
    }
    if ('end' in record) {
      const end = record.end as { problems?: unknown; testCases?: unknown } | null
      if (end === null || typeof end !== 'object' || !Number.isSafeInteger(end.problems) || !Number.isSafeInteger(end.testCases)) throw new Error('the last line is {"end":{"problems":N,"testCases":M}}')
      return { kind: 'end', problems: end.problems as number, testCases: end.testCases as number }
    }
    throw new Error('a line is a problem, a test case, or the end')
  } catch (error) {
    if (error instanceof DumpLineError) throw error
    throw new DumpLineError(lineNumber, (error as Error).message)
  }
}
