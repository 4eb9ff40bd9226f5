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
import readline from 'node:readline'

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
    this.fd = fs.openSync(path, 'a+')
    // A last line cut short (a run killed while it wrote) goes, so that what follows starts a line.
    const sizeBytes = fs.fstatSync(this.fd).size
    if (sizeBytes > 0) {
      const tail = Buffer.alloc(Math.min(sizeBytes, 64 * 1024))
      fs.readSync(this.fd, tail, 0, tail.length, sizeBytes - tail.length)
      if (tail[tail.length - 1] !== 0x0a) {
        const newline = tail.lastIndexOf(0x0a)
        if (newline < 0 && tail.length < sizeBytes) throw new Error(`${path} ends with a line of over 64 KiB: it is not the id map of an import`)
        fs.ftruncateSync(this.fd, sizeBytes - tail.length + newline + 1)
        fs.fdatasyncSync(this.fd)
      }
    }
  }

  /** Appends `records` and syncs them. */
  write(records: readonly IdMapRecord[]): void {
    if (records.length === 0) return
    const bytes = Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''))
    // Bounded: each pass writes at least one byte or throws.
    for (let written = 0; written < bytes.length; ) written += fs.writeSync(this.fd, bytes, written)
    fs.fdatasyncSync(this.fd)
  }

  close(): void {
    fs.closeSync(this.fd)
  }
}

/**
 * What an id map says was imported, read a line at a time. A last line cut short (the import was
 * killed writing it) is left out; IdMapWriter cuts it off before it appends.
 */
export async function readIdMap(path: string): Promise<IdMapState> {
  const state: IdMapState = { done: new Set(), partial: new Map(), importing: undefined, newestProblemId: 0 }
  if (!fs.existsSync(path)) return state
  const endsWithNewline = (() => {
    const sizeBytes = fs.statSync(path).size
    if (sizeBytes === 0) return true
    const fd = fs.openSync(path, 'r')
    try {
      const last = Buffer.alloc(1)
      fs.readSync(fd, last, 0, 1, sizeBytes - 1)
      return last[0] === 0x0a
    } finally {
      fs.closeSync(fd)
    }
  })()
  const lines = readline.createInterface({ input: fs.createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY })
  let lineNumber = 0
  let previous: string | undefined
  // Each line is taken once the next is read, so that the last can be told apart.
  const take = (line: string, isLast: boolean): void => {
    let record: Partial<Record<string, unknown>>
    try {
      record = JSON.parse(line) as Partial<Record<string, unknown>>
    } catch (error) {
      if (isLast && !endsWithNewline) return
      throw new Error(`${path} line ${lineNumber} is not JSON (${(error as Error).message}): it is not the id map of an import`)
    }
    apply(record)
  }
  const apply = (record: Partial<Record<string, unknown>>): void => {
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
  for await (const line of lines) {
    if (previous !== undefined) take(previous, false)
    lineNumber++
    previous = line === '' ? undefined : line
  }
  if (previous !== undefined) take(previous, true)
  return state
}
