/**
 * The id map of `stratum import --id-map FILE`: newline-delimited JSON, appended and synced as
 * the import goes, so that it says what was imported when the import stops, however it stops.
 *
 *   {"importing":OLD,"revision":R}               a problem's first batch is about to be sent (R: the store's revision then)
 *   {"testCase":OLD,"id":NEW}                    a test case imported
 *   {"problem":OLD,"id":NEW,"testCases":K}       the problem and its first K test cases imported
 *   {"problem":OLD,"id":NEW,"testCases":K,"done":true}   all of it
 *
 * OLD ids are the dump's, NEW the server's. `--resume` reads it back (`readIdMap`).
 */
import fs from 'node:fs'

export type IdMapRecord =
  | { importing: number; revision: number }
  | { testCase: number; id: number }
  | { problem: number; id: number; testCases: number; done?: true }

export interface IdMapState {
  /** Problems imported whole. */
  done: Set<number>
  /** Problems created with their first `testCases` test cases, not yet whole. */
  partial: Map<number, { id: number; testCases: number }>
  /** The problem whose first batch was being sent when the import stopped, if it had not answered. */
  importing: { problem: number; revision: number } | undefined
  /** The newest problem id the server gave this import. */
  newestProblemId: number
}

export class IdMapWriter {
  private readonly fd: number

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'a')
  }

  /** Appends `records` and syncs them. */
  write(records: readonly IdMapRecord[]): void {
    if (records.length === 0) return
    fs.writeSync(this.fd, records.map((record) => `${JSON.stringify(record)}\n`).join(''))
    fs.fdatasyncSync(this.fd)
  }

  close(): void {
    fs.closeSync(this.fd)
  }
}

/** What an id map says was imported. A last line cut short (the import was killed writing it) is left out. */
export function readIdMap(path: string): IdMapState {
  const state: IdMapState = { done: new Set(), partial: new Map(), importing: undefined, newestProblemId: 0 }
  if (!fs.existsSync(path)) return state
  const lines = fs.readFileSync(path, 'utf8').split('\n')
  for (const [index, line] of lines.entries()) {
    if (line === '') continue
    let record: Partial<Record<string, unknown>>
    try {
      record = JSON.parse(line) as Partial<Record<string, unknown>>
    } catch (error) {
      if (index === lines.length - 1) break
      throw new Error(`${path} line ${index + 1} is not JSON (${(error as Error).message}): it is not the id map of an import`)
    }
    if (typeof record.importing === 'number') state.importing = { problem: record.importing, revision: record.revision as number }
    else if (typeof record.problem === 'number') {
      const id = record.id as number
      state.newestProblemId = Math.max(state.newestProblemId, id)
      if (state.importing?.problem === record.problem) state.importing = undefined
      if (record.done === true) {
        state.done.add(record.problem)
        state.partial.delete(record.problem)
      } else state.partial.set(record.problem, { id, testCases: record.testCases as number })
    }
  }
  return state
}
