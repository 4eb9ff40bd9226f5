/**
 * `stratum export [--problem ID…] > dump.ndjson`: every problem of a running server (or those
 * named), with its test cases in chain order and their outputs, in the export format
 * (export-format.ts) on stdout, a page of test cases at a time, so that memory stays bounded
 * whatever the size of a problem. Progress and a summary go to stderr.
 *
 * An export reads a live server: it is not a snapshot. A problem is read when its turn comes, so
 * a write made meanwhile may or may not be in it; a problem deleted before its turn is left out
 * (and counted), one deleted while its test cases are read fails the export (exit 1).
 */
import { once } from 'node:events'
import { Command, Option } from 'commander'
import type { StratumClient } from '../client/index.ts'
import { adminDeadlineDefaultMs } from './admin-commands.ts'
import { addConnectionOptions, isNotFound, withClient, type ConnectionOptions } from './client-command.ts'
import { endLine, headerLine, problemLine, testCaseLine } from './export-format.ts'
import { integerIn } from './option-parsers.ts'
import { Progress } from './progress.ts'

/** Test cases read a call. */
const exportPageSize = 1_000

interface ExportOptions extends ConnectionOptions {
  deadlineMs: number
  problem?: number[]
}

export function exportCommand(setExitCode: (code: number) => void): Command {
  return addConnectionOptions(new Command('export').description('write every problem (or those named) with its test cases and outputs to stdout, as newline-delimited JSON'))
    .addOption(new Option('--deadline-ms <ms>', 'time limit of each call').env('LSE_DEADLINE_MS').default(adminDeadlineDefaultMs).argParser(integerIn(1, 3_600_000)))
    .addOption(
      new Option('--problem <id>', 'only this problem (repeat for more)').argParser((text: string, previous: number[] = []) => [...previous, integerIn(1, Number.MAX_SAFE_INTEGER)(text)]),
    )
    .action(async (options: ExportOptions) => {
      setExitCode(await withClient('export', options, (client) => exportTo(client, options, process.stdout)))
    })
}

/** Writes `line` and a newline, waiting while the stream's buffer is full. */
async function writeLine(out: NodeJS.WritableStream, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await once(out, 'drain')
}

async function exportTo(client: StratumClient, options: ExportOptions, out: NodeJS.WritableStream): Promise<void> {
  const call = { deadlineMs: options.deadlineMs }
  const named = options.problem !== undefined
  // Each named problem once, in the order first named.
  const ids: number[] = named ? [...new Set(options.problem)] : []
  if (!named) for await (const problemId of client.listProblems(call)) ids.push(problemId)
  const progress = new Progress('export', 'problems', ids.length, 'test cases')
  let problems = 0
  let testCases = 0
  let deletedMeanwhile = 0
  try {
    await writeLine(out, headerLine())
    for (const problemId of ids) {
      let columns: Record<string, string>
      let html: string
      try {
        columns = await client.getProblemMeta(problemId, call)
        html = await client.getProblemHtml(problemId, call)
      } catch (error) {
        // Listed, then deleted before its turn: left out. A problem asked for by id must exist.
        if (!named && isNotFound(error)) {
          deletedMeanwhile++
          progress.advance()
          continue
        }
        throw error
      }
      await writeLine(out, problemLine(problemId, html, columns))
      try {
        for await (const testCase of client.getAllTestCases(problemId, { includeOutputs: true, pageSize: exportPageSize, ...call })) {
          await writeLine(out, testCaseLine(testCase))
          testCases++
          progress.advanceParts()
        }
      } catch (error) {
        if (isNotFound(error)) throw new Error(`problem ${problemId} was deleted while its test cases were exported; the dump holds part of it: export again`)
        throw error
      }
      problems++
      progress.advance()
    }
    await writeLine(out, endLine(problems, testCases))
  } catch (error) {
    progress.abandon()
    throw error
  }
  const left = deletedMeanwhile === 0 ? '' : ` (${deletedMeanwhile} deleted before their turn, left out)`
  progress.finish(`exported ${problems} problems with ${testCases} test cases in ${progress.elapsedSeconds().toFixed(1)} s${left}`)
}
