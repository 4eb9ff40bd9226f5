/**
 * The child process of the crash test: writes to a store under load until it is killed.
 *
 *   node --import tsx test/crash/crash-writer.ts '{"dir":..., "logPath":..., "seed":..., ...}'
 *
 * It opens the store (syncMode 'always'), reads what is there, prints `ready`, then runs
 * `concurrency` async loops that each issue one random write after another. Every call is logged
 * to the acknowledgement log (see ops.ts) synchronously: the intent just before the call, the
 * outcome as soon as its promise settles. The parent kills it with SIGKILL; the page cache keeps
 * what `writeSync` wrote, so the log needs no fsync.
 *
 * Anything but an expected refusal (NOT_FOUND, ALREADY_EXISTS from a race between the loops) is
 * a failure: it is printed to stderr and the process exits with status 3, which the parent reports.
 */
import fs from 'node:fs'
import { openStore } from '../../src/engine/store.ts'
import { isStratumError } from '../../src/engine/errors.ts'
import {
  columnValueForOp,
  htmlForOp,
  metaForOp,
  seededRandom,
  updatableColumns,
  valueForOp,
  type IntentEntry,
  type LogEntry,
  type OpKind,
} from './ops.ts'

export interface WriterArgs {
  dir: string
  logPath: string
  seed: number
  concurrency: number
  /** The first op number of this round. */
  opBase: number
  segmentSizeBytes: number
  /** The background compactor's period; 0: off. */
  compactionIntervalMs: number
}

interface ViewDoc {
  testCases: Map<number, { hasOutput: boolean }>
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as WriterArgs
  const random = seededRandom(args.seed)
  const logFd = fs.openSync(args.logPath, 'a')
  const log = (entry: LogEntry): void => {
    fs.writeSync(logFd, `${JSON.stringify(entry)}\n`)
  }
  const fail = (message: string): never => {
    process.stderr.write(`crash-writer: ${message}\n`)
    process.exit(3)
  }

  process.stdout.write('opening\n')
  const store = await openStore({
    dir: args.dir,
    syncMode: 'always',
    segmentSizeBytes: args.segmentSizeBytes,
    compactionIntervalMs: args.compactionIntervalMs,
    compactionDeadRatio: 0.1,
    // Kills are meant to land inside compactions: every sealed segment may be compacted.
    watchLogRetainChanges: 0,
    onWarning: () => undefined,
  })

  // The writer's own view, used only to pick targets: what it knows exists.
  const view = new Map<number, ViewDoc>()
  let afterId: number | undefined
  for (;;) {
    const page = await store.listProblems(afterId === undefined ? {} : { afterId })
    for (const id of page.ids) {
      const testCases = await store.getAllTestCases(id, { includeOutputs: true })
      if (testCases === undefined) fail(`listed document ${id} has no test cases page`)
      view.set(id, { testCases: new Map(testCases!.testCases.map((tc) => [tc.tcId, { hasOutput: tc.output !== undefined }])) })
    }
    if (page.nextAfterId === undefined) break
    afterId = page.nextAfterId
  }
  process.stdout.write('ready\n')

  let nextOp = args.opBase
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!

  const chooseKind = (doc: ViewDoc | undefined): OpKind => {
    if (doc === undefined || view.size < 6) return 'createProblem'
    // Keep the store at a few dozen documents of up to ~30 nodes: creates and deletes balance there.
    const createShare = view.size < 20 ? 0.08 : view.size < 40 ? 0.04 : 0.01
    const deleteShare = view.size > 40 ? 0.06 : view.size > 12 ? 0.03 : 0
    const testCaseCount = doc.testCases.size
    let r = random()
    if (r < createShare) return 'createProblem'
    r -= createShare
    if (r < deleteShare) return 'deleteProblem'
    r = random()
    if (r < 0.07) return 'updateProblemHtml'
    if (r < 0.15) return 'updateProblemColumn'
    if (testCaseCount === 0 || (r < 0.42 && testCaseCount < 30)) return 'addTestCase'
    if (r < 0.5 || (r < 0.6 && testCaseCount >= 30)) return 'deleteTestCase'
    if (r < 0.68) return 'updateTestCase'
    if (r < 0.8) return 'setExpectedOutput'
    if (r < 0.9) return 'updateExpectedOutput'
    return 'deleteExpectedOutput'
  }

  const oneWrite = async (): Promise<void> => {
    const docIds = [...view.keys()]
    const docId = docIds.length === 0 ? undefined : pick(docIds)
    const doc = docId === undefined ? undefined : view.get(docId)
    let kind = chooseKind(doc)
    const op = nextOp++
    const intent: IntentEntry = { t: 'I', op, kind }
    let call: () => Promise<number | void>
    if (kind === 'createProblem') {
      call = () => store.createProblem(htmlForOp(op), metaForOp(op))
    } else {
      intent.doc = docId!
      const tcIds = [...doc!.testCases.keys()]
      // Node operations on a document with no node fall back to adding one.
      if (tcIds.length === 0 && !['addTestCase', 'updateProblemColumn', 'updateProblemHtml', 'deleteProblem'].includes(kind)) {
        kind = 'addTestCase'
        intent.kind = kind
      }
      // Output operations mostly go where they can succeed; one in ten is left to be refused, which
      // checks that refusals write nothing.
      const withOutput = tcIds.filter((id) => doc!.testCases.get(id)!.hasOutput)
      const withoutOutput = tcIds.filter((id) => !doc!.testCases.get(id)!.hasOutput)
      if (random() < 0.9) {
        if (kind === 'setExpectedOutput' && withoutOutput.length === 0) kind = 'updateExpectedOutput'
        else if ((kind === 'updateExpectedOutput' || kind === 'deleteExpectedOutput') && withOutput.length === 0) kind = 'setExpectedOutput'
        intent.kind = kind
      }
      const tcId =
        kind === 'setExpectedOutput' && withoutOutput.length > 0
          ? pick(withoutOutput)
          : (kind === 'updateExpectedOutput' || kind === 'deleteExpectedOutput') && withOutput.length > 0
            ? pick(withOutput)
            : tcIds.length > 0
              ? pick(tcIds)
              : 0
      switch (kind) {
        case 'addTestCase':
          call = () => store.addTestCase(docId!, valueForOp(op))
          break
        case 'updateProblemHtml':
          call = () => store.updateProblemHtml(docId!, htmlForOp(op))
          break
        case 'updateProblemColumn': {
          const column = pick(updatableColumns)
          intent.col = column
          call = () => store.updateProblemColumn(docId!, column, columnValueForOp(op))
          break
        }
        case 'deleteProblem':
          view.delete(docId!)
          call = () => store.deleteProblem(docId!)
          break
        case 'updateTestCase':
          call = () => store.updateTestCase(docId!, tcId, valueForOp(op))
          break
        case 'setExpectedOutput':
          doc!.testCases.get(tcId)!.hasOutput = true
          call = () => store.setExpectedOutput(docId!, tcId, valueForOp(op))
          break
        case 'updateExpectedOutput':
          call = () => store.updateExpectedOutput(docId!, tcId, valueForOp(op))
          break
        case 'deleteExpectedOutput':
          doc!.testCases.get(tcId)!.hasOutput = false
          call = () => store.deleteExpectedOutput(docId!, tcId)
          break
        case 'deleteTestCase':
          doc!.testCases.delete(tcId)
          call = () => store.deleteTestCase(docId!, tcId)
          break
        default:
          return fail(`unexpected kind ${kind}`)
      }
      if (kind !== 'addTestCase' && kind !== 'updateProblemHtml' && kind !== 'updateProblemColumn' && kind !== 'deleteProblem') intent.tc = tcId
    }
    // The intent is logged and the call made in the same synchronous block: intents are in call order.
    log(intent)
    let result: number | void
    try {
      result = await call()
    } catch (error) {
      if (isStratumError(error) && (error.code === 'NOT_FOUND' || error.code === 'ALREADY_EXISTS')) {
        log({ t: 'F', op, code: error.code })
        // A refusal settles in a microtask: yield so that a run of them cannot starve the flush loop.
        await new Promise((resolve) => setImmediate(resolve))
        return
      }
      return fail(`op ${op} (${kind}) failed: ${error instanceof Error ? error.stack : String(error)}`)
    }
    // Creates resolve to the new id; updates and deletes to a version, which is not an id.
    if (typeof result === 'number' && (kind === 'createProblem' || kind === 'addTestCase')) {
      log({ t: 'A', op, id: result })
      if (kind === 'createProblem') view.set(result, { testCases: new Map() })
      else view.get(docId!)?.testCases.set(result, { hasOutput: false })
    } else log({ t: 'A', op })
  }

  const loop = async (): Promise<void> => {
    // Runs until the process is killed.
    for (;;) await oneWrite()
  }
  for (let index = 0; index < args.concurrency; index++) {
    loop().catch((error: unknown) => fail(`a write loop failed: ${error instanceof Error ? error.stack : String(error)}`))
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-writer: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(3)
})
