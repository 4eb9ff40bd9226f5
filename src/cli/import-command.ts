/**
 * `stratum import DUMP [--id-map FILE [--resume]]`: recreates the problems of a dump written by
 * `stratum export` on a running server, with new ids.
 *
 * The dump is read twice. The first pass checks every line (a malformed one is refused with its
 * number, and nothing is imported) and counts the problems and test cases, for the progress. The
 * second imports each problem with atomic batches (the Commit RPC): the problem with its first
 * test cases and their outputs, then the rest, `chunkMaxTestCases` (or about `chunkMaxBytes`) a
 * batch, so that memory stays bounded whatever the size of a problem. A problem of one batch is
 * imported whole or not at all.
 *
 * With --id-map, every batch is recorded (id-map.ts) once the server has acknowledged it, and
 * synced; --resume reads it and goes on where the import stopped: problems done are skipped, a
 * problem begun goes on after its last batch. A problem whose first batch was sent but not
 * answered is looked for among the problems created since (id above every id the import was
 * given, same text and columns, changed after the revision recorded before the batch), so that
 * every problem is imported exactly once.
 */
import fs from 'node:fs'
import readline from 'node:readline'
import { Argument, Command, Option } from 'commander'
import type { StratumClient, TestCase, Value } from '../client/index.ts'
import { adminDeadlineDefaultMs } from './admin-commands.ts'
import { addConnectionOptions, isNotFound, withClient, type ConnectionOptions } from './client-command.ts'
import { exitCodes } from './exit-codes.ts'
import { DumpLineError, parseDumpLine, type DumpLine } from './export-format.ts'
import { IdMapWriter, readIdMap, type IdMapRecord, type IdMapState } from './id-map.ts'
import { integerIn } from './option-parsers.ts'
import { valueJson } from './value-literal.ts'
import { Progress } from './progress.ts'
import { toMetaMap } from '../engine/document-meta.ts'
import { blobMaxBytes } from '../engine/limits.ts'
import { checkedUtf8Bytes, encodedValueBytes } from '../engine/values.ts'

/** Test cases a batch at most. */
const chunkMaxTestCases = 1_000
/** A batch is sent once its test cases' lines in the dump pass this many bytes. */
const chunkMaxBytes = 2 * 1024 * 1024

interface ImportOptions extends ConnectionOptions {
  deadlineMs: number
  idMap?: string
  resume: boolean
}

/** A problem of the dump, as its line gives it. */
interface DumpProblem {
  id: number
  html: string
  columns: Record<string, string>
}

interface DumpTestCase {
  id: number
  value: Value
  output: Value | undefined
}

/** Refused before anything was imported: exit 1, with the message. */
class DumpError extends Error {}

export function importCommand(setExitCode: (code: number) => void): Command {
  return addConnectionOptions(new Command('import').description('recreate on a running server the problems of a dump written by stratum export (new ids)'))
    .addArgument(new Argument('<dump>', 'the dump, newline-delimited JSON'))
    .addOption(new Option('--deadline-ms <ms>', 'time limit of each call').env('LSE_DEADLINE_MS').default(adminDeadlineDefaultMs).argParser(integerIn(1, 3_600_000)))
    .addOption(new Option('--id-map <file>', 'record the new id of every problem and test case in FILE, as they are imported'))
    .addOption(new Option('--resume', 'go on with an import that stopped, skipping what --id-map FILE says was imported').default(false))
    .action(async (dump: string, options: ImportOptions) => {
      if (options.resume && options.idMap === undefined) {
        process.stderr.write('stratum import: --resume needs the --id-map FILE of the import to resume\n')
        setExitCode(exitCodes.usage)
        return
      }
      if (!options.resume && options.idMap !== undefined && fs.existsSync(options.idMap) && fs.statSync(options.idMap).size > 0) {
        process.stderr.write(`stratum import: ${options.idMap} exists: give --resume to go on with that import, or another --id-map file\n`)
        setExitCode(exitCodes.usage)
        return
      }
      setExitCode(await withClient('import', options, (client) => importDump(client, dump, options)))
    })
}

/** The lines of `path`, numbered from 1. */
async function* dumpLines(path: string): AsyncGenerator<[number, DumpLine]> {
  const lines = readline.createInterface({ input: fs.createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY })
  let lineNumber = 0
  for await (const line of lines) {
    lineNumber++
    yield [lineNumber, parseDumpLine(line, lineNumber)]
  }
}

/**
 * Pass 1: every line checked, in the order the format asks and against the store's own rules
 * (sizes, Unicode text, column names), so that the server refuses none of it midway; the counts.
 */
async function checkDump(path: string): Promise<{ problems: number; testCases: number }> {
  let problems = 0
  let testCases = 0
  let ended = false
  let lastLine = 0
  const problemIds = new Set<number>()
  try {
    for await (const [lineNumber, line] of dumpLines(path)) {
      lastLine = lineNumber
      if (ended) throw new DumpLineError(lineNumber, 'a line after the end line')
      try {
        checkAgainstStore(line)
      } catch (error) {
        throw new DumpLineError(lineNumber, (error as Error).message)
      }
      if (line.kind === 'problem') {
        // Resuming tells problems apart by their ids in the dump.
        if (problemIds.has(line.id)) throw new DumpLineError(lineNumber, `problem ${line.id} is in the dump twice`)
        problemIds.add(line.id)
        problems++
      } else if (line.kind === 'testCase') {
        if (problems === 0) throw new DumpLineError(lineNumber, 'a test case before any problem')
        testCases++
      } else if (line.kind === 'end') {
        if (line.problems !== problems || line.testCases !== testCases) {
          throw new DumpLineError(lineNumber, `the end line counts ${line.problems} problems and ${line.testCases} test cases; the dump holds ${problems} and ${testCases}`)
        }
        ended = true
      }
    }
  } catch (error) {
    if (error instanceof DumpLineError) throw new DumpError(`${path} ${error.message}; nothing was imported`)
    throw error
  }
  if (lastLine === 0) throw new DumpError(`${path} is empty; nothing was imported`)
  if (!ended) throw new DumpError(`${path} ends at line ${lastLine} without its end line: it was cut short; nothing was imported`)
  return { problems, testCases }
}

/** The store's rules for what a line holds (engine/values.ts, engine/document-meta.ts); throws what is wrong. */
function checkAgainstStore(line: DumpLine): void {
  if (line.kind === 'problem') {
    const textBytes = checkedUtf8Bytes(line.html, "the problem's text")
    if (textBytes > blobMaxBytes) throw new Error(`the problem's text is ${textBytes} bytes; blobMaxBytes is ${blobMaxBytes}`)
    toMetaMap(line.columns)
  } else if (line.kind === 'testCase') {
    encodedValueBytes(line.value)
    if (line.output !== undefined) encodedValueBytes(line.output)
  }
}

async function importDump(client: StratumClient, path: string, options: ImportOptions): Promise<void> {
  const totals = await checkDump(path)
  const state: IdMapState = options.resume ? await readIdMap(options.idMap!) : { done: new Set(), partial: new Map(), importing: undefined, newestProblemId: 0 }
  const idMap = options.idMap === undefined ? undefined : new IdMapWriter(options.idMap)
  const progress = new Progress('import', 'problems', totals.problems, 'test cases')
  const call = { deadlineMs: options.deadlineMs }
  let imported = 0
  let importedTestCases = 0
  let skipped = 0
  try {
    let problem: ProblemImport | undefined
    const finish = async (): Promise<void> => {
      if (problem === undefined) return
      await problem.finish()
      if (problem.wasSkipped) skipped++
      else imported++
      progress.advance()
    }
    for await (const [, line] of dumpLines(path)) {
      if (line.kind === 'problem') {
        await finish()
        problem = new ProblemImport(client, call, line, state, idMap, (count) => {
          importedTestCases += count
          progress.advanceParts(count)
        })
      } else if (line.kind === 'testCase') await problem!.add(line)
    }
    await finish()
  } catch (error) {
    progress.abandon()
    throw error
  } finally {
    idMap?.close()
  }
  const skippedText = skipped === 0 ? '' : ` (${skipped} imported before, skipped)`
  progress.finish(`imported ${imported} problems with ${importedTestCases} test cases in ${progress.elapsedSeconds().toFixed(1)} s${skippedText}`)
}

/** One problem of the dump being imported: its batches, and what the id map says of it. */
class ProblemImport {
  /** The problem's new id, once created. */
  private newId: number | undefined
  /** Test cases of the dump seen so far for this problem. */
  private seen = 0
  /** Test cases imported, in this run or before: the first `done` of the dump's are there. */
  private done = 0
  private chunk: DumpTestCase[] = []
  private chunkBytes = 0
  /** Whether the problem was imported whole by an earlier run. */
  readonly wasSkipped: boolean
  private resolved: Promise<void> | undefined

  constructor(
    private readonly client: StratumClient,
    private readonly call: { deadlineMs: number },
    private readonly problem: DumpProblem,
    private readonly state: IdMapState,
    private readonly idMap: IdMapWriter | undefined,
    private readonly onImported: (testCases: number) => void,
  ) {
    this.wasSkipped = state.done.has(problem.id)
    const partial = state.partial.get(problem.id)
    if (partial !== undefined) {
      this.newId = partial.id
      this.done = partial.testCases
      this.resolved = this.resumeAfter(partial.testCases)
    } else if (state.importing?.problem === problem.id) {
      this.resolved = this.findSentBefore(state.importing.revision)
    }
  }

  async add(testCase: DumpTestCase): Promise<void> {
    await this.resolve()
    if (this.candidate !== undefined) {
      // Held until the candidate's test cases can be compared with the dump's first ones.
      this.held.push(testCase)
      if (this.held.length === this.candidate.length) await this.decide()
      return
    }
    await this.take(testCase)
  }

  /**
   * Whether the candidate found by `findSentBefore` is this problem: its test cases must be the
   * dump's first ones, value and output alike. If not, it is someone else's, and the test cases
   * held go to this problem's own first batch.
   */
  private async decide(): Promise<void> {
    const candidate = this.candidate!
    const held = this.held
    this.candidate = undefined
    this.held = []
    const same =
      held.length === candidate.length &&
      held.every((testCase, index) => sameValue(testCase.value, candidate[index]!.value) && sameValue(testCase.output, candidate[index]!.output))
    if (!same) {
      this.newId = undefined
      this.done = 0
      this.sentBefore = undefined
    }
    for (const testCase of held) await this.take(testCase)
  }

  private async take(testCase: DumpTestCase): Promise<void> {
    this.seen++
    if (this.sentBefore !== undefined && this.seen <= this.sentBefore.length) {
      if (this.seen > this.recordedBefore) this.sentBeforeRecords.push({ testCase: testCase.id, id: this.sentBefore[this.seen - 1]! })
      if (this.seen === this.sentBefore.length) this.recordSentBefore()
      return
    }
    if (this.wasSkipped || this.seen <= this.done) return
    if (this.chunk.length === 0 && this.newId === undefined) {
      // The first batch carries the problem's text and columns: they count in its size, and a
      // text of a batch's size or more goes alone.
      this.chunkBytes = Buffer.byteLength(this.problem.html, 'utf8') + JSON.stringify(this.problem.columns).length
      if (this.chunkBytes >= chunkMaxBytes) await this.send()
    }
    this.chunk.push(testCase)
    this.chunkBytes += estimateBytes(testCase.value) + (testCase.output === undefined ? 0 : estimateBytes(testCase.output))
    if (this.chunk.length >= chunkMaxTestCases || this.chunkBytes >= chunkMaxBytes) await this.send()
  }

  async finish(): Promise<void> {
    await this.resolve()
    // The dump's problem has fewer test cases than the candidate: not this problem's batch.
    if (this.candidate !== undefined) await this.decide()
    if (this.wasSkipped) return
    this.recordSentBefore()
    if (this.chunk.length > 0 || this.newId === undefined) await this.send()
    this.idMap?.write([{ problem: this.problem.id, id: this.newId!, testCases: this.done, done: true }])
  }

  private async resolve(): Promise<void> {
    if (this.resolved === undefined) return
    const resolving = this.resolved
    this.resolved = undefined
    await resolving
  }

  /** Sends the test cases gathered, with the problem itself when it is not created yet. */
  private async send(): Promise<void> {
    const batch = this.client.batch()
    const creates = this.newId === undefined
    const problem = creates ? batch.createProblem(this.problem.html, this.problem.columns) : this.newId!
    for (const testCase of this.chunk) {
      const ref = batch.addTestCase(problem, testCase.value)
      if (testCase.output !== undefined) batch.setExpectedOutput(problem, ref, testCase.output)
    }
    if (creates) this.idMap?.write([{ importing: this.problem.id, revision: (await this.client.getStats(this.call)).revision }])
    const ids = await batch.commit(this.call)
    if (creates) this.newId = ids.shift()
    const records: IdMapRecord[] = this.chunk.map((testCase, index) => ({ testCase: testCase.id, id: ids[index]! }))
    this.done += this.chunk.length
    records.push({ problem: this.problem.id, id: this.newId!, testCases: this.done })
    this.idMap?.write(records)
    this.onImported(this.chunk.length)
    this.chunk = []
    this.chunkBytes = 0
  }

  /**
   * The first batch of this problem was sent by a run that stopped before its answer: whether
   * the server took it. It did if a problem with an id above every id the import was given has
   * the same text and columns and was changed after `revision`: then its test cases are the
   * dump's first ones, and the import goes on after them.
   */
  private async findSentBefore(revision: number): Promise<void> {
    for await (const problemId of this.client.listProblems(this.call)) {
      if (problemId <= this.state.newestProblemId) continue
      let html: { value: string; version: number }
      let meta: { value: Record<string, string>; version: number }
      try {
        html = await this.client.getProblemHtmlVersioned(problemId, this.call)
        meta = await this.client.getProblemMetaVersioned(problemId, this.call)
      } catch (error) {
        if (isNotFound(error)) continue
        throw error
      }
      if (Math.max(html.version, meta.version) <= revision || html.value !== this.problem.html || !sameColumns(meta.value, this.problem.columns)) continue
      const cases: TestCase[] = []
      for await (const testCase of this.client.getAllTestCases(problemId, { includeOutputs: true, ...this.call })) cases.push(testCase)
      const chain = cases.map((testCase) => testCase.tcId)
      // Its test cases must be the dump's first ones, value for value: held and compared as they are read (`decide`).
      if (cases.length > 0) this.candidate = cases
      this.newId = problemId
      this.done = chain.length
      // The dump's first test cases were in that batch: their new ids are recorded as they are read.
      this.sentBefore = chain
      this.recordedBefore = 0
      return
    }
  }

  /**
   * A problem begun by a stopped run, its first `recorded` test cases in the id map: the server's
   * chain says how many it took, one more batch if the run stopped between a batch's answer and
   * its record. The import goes on after them, and records the new ids of those not recorded.
   */
  private async resumeAfter(recorded: number): Promise<void> {
    const chain: number[] = []
    for await (const testCase of this.client.getAllTestCases(this.newId!, this.call)) chain.push(testCase.tcId)
    if (chain.length < recorded) {
      throw new Error(`problem ${this.newId} (${this.problem.id} in the dump) holds ${chain.length} test cases, but the id map says ${recorded} were imported: it was changed since; import it again without --resume`)
    }
    this.done = chain.length
    this.sentBefore = chain
    this.recordedBefore = recorded
  }

  /** Of `sentBefore`, how many the id map records already. */
  private recordedBefore = 0
  /** A problem that may be this one's first batch, sent by a stopped run: its test cases (findSentBefore). */
  private candidate: TestCase[] | undefined
  /** The dump's test cases read while `candidate` is decided. */
  private held: DumpTestCase[] = []

  /** The new ids of the test cases a stopped run's first batch imported, in chain order. */
  private sentBefore: number[] | undefined
  private sentBeforeRecords: IdMapRecord[] = []

  /** Records the new ids of the test cases found imported by a stopped run, and the problem. */
  private recordSentBefore(): void {
    if (this.sentBefore === undefined) return
    this.idMap?.write([...this.sentBeforeRecords, { problem: this.problem.id, id: this.newId!, testCases: this.done }])
    this.sentBefore = undefined
    this.sentBeforeRecords = []
  }
}

/** Whether two values (or two absent outputs) are the same, exactly. */
function sameValue(left: Value | undefined, right: Value | undefined): boolean {
  if (left === undefined || right === undefined) return left === right
  return left.type === right.type && JSON.stringify(valueJson(left)) === JSON.stringify(valueJson(right))
}

function sameColumns(left: Record<string, string>, right: Record<string, string>): boolean {
  const keys = Object.keys(left)
  return keys.length === Object.keys(right).length && keys.every((key) => left[key] === right[key])
}

/** About how many bytes a value takes on the wire. */
function estimateBytes(value: Value): number {
  switch (value.type) {
    case 'int64':
    case 'double':
      return 10
    case 'string':
      return value.value.length * 3
    case 'int64List':
      return value.value.length * 10
    case 'stringList':
      return value.value.reduce((sum, item) => sum + item.length * 3 + 2, 0)
    case 'stringMap': {
      let bytes = 0
      for (const [key, item] of value.value) bytes += (key.length + item.length) * 3 + 4
      return bytes
    }
  }
}

