/**
 * The export format of `stratum export` (and, later, `stratum import`): newline-delimited JSON,
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
import type { TestCase } from '../client/index.ts'
import { valueJson } from './value-literal.ts'

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
