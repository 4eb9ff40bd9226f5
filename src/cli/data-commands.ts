/**
 * Commands for the data of a running server, one a data RPC: problems (`problems`, `problem`,
 * `create-problem`, `update-problem`, `set-column`, `delete-problem`), test cases (`test-cases`,
 * `test-case`, `add-test-case`, `update-test-case`, `delete-test-case`) and expected outputs
 * (`output`, `set-output`, `update-output`, `delete-output`).
 *
 * They take the admin commands' connection options (--address, TLS, --token) and --deadline-ms.
 * Output is for people by default; `--json` prints one JSON value a line instead, values typed
 * exactly (value-literal.ts, `valueJson`). Values are given, and printed for people, in the
 * literal syntax of value-literal.ts. A bad value is refused before any call, with exit 2; a
 * failed call prints one line naming its status code, with exit 1.
 */
import { Argument, Command, InvalidArgumentError, Option } from 'commander'
import type { StratumClient, Value } from '../client/index.ts'
import { adminDeadlineDefaultMs } from './admin-commands.ts'
import { addConnectionOptions, withClient, type ConnectionOptions } from './client-command.ts'
import { exitCodes } from './exit-codes.ts'
import { integerIn } from './option-parsers.ts'
import { formatValue, parseValue, readUtf8, ValueLiteralError, valueJson } from './value-literal.ts'

const deadlineMaxMs = 3_600_000
/** Default of `problems --limit`. */
const problemsDefaultLimit = 100
/** Most problems `problems` lists in one command (it reads each one's columns). */
const problemsMaxLimit = 100_000

interface DataOptions extends ConnectionOptions {
  deadlineMs: number
  json: boolean
  expectedVersion?: number
}

/** What an action prints: a line for people, and the JSON value of `--json`. */
interface Printer {
  print(human: string, json: unknown): void
}

type DataAction = (client: StratumClient, args: unknown[], options: DataOptions & Record<string, unknown>, out: Printer) => Promise<void>

const idArgument = (name: string, description: string): Argument => new Argument(`<${name}>`, description).argParser(integerIn(1, Number.MAX_SAFE_INTEGER))

const valueArgument = (description: string): Argument =>
  new Argument('<value>', `${description}: TYPE:TEXT, e.g. int64:5, string:abc, int64-list:[1,2], map:{"k":"v"}; TYPE:@FILE reads TEXT from FILE`).argParser((text: string) => {
    try {
      return parseValue(text)
    } catch (error) {
      if (error instanceof ValueLiteralError) throw new InvalidArgumentError(error.message)
      throw error
    }
  })

const expectedVersionOption = (): Option =>
  new Option('--expected-version <version>', 'write only if it is at this version (FAILED_PRECONDITION otherwise)').argParser(integerIn(1, Number.MAX_SAFE_INTEGER))

/** `--html TEXT` or `--html-file FILE`, exactly one. */
function htmlOf(options: Record<string, unknown>): string {
  const text = options.html as string | undefined
  const file = options.htmlFile as string | undefined
  if ((text === undefined) === (file === undefined)) throw new UsageError('give the text with exactly one of --html TEXT and --html-file FILE')
  if (text !== undefined) return text
  try {
    return readUtf8(file!)
  } catch (error) {
    throw new UsageError(`cannot read --html-file ${file}: ${(error as Error).message}`)
  }
}

/** `k=v` of --column, collected. */
function columnOption(text: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const equals = text.indexOf('=')
  if (equals <= 0) throw new InvalidArgumentError(`a column is NAME=VALUE, got "${text}"`)
  return [...previous, [text.slice(0, equals), text.slice(equals + 1)]]
}

/** Bad usage found in an action (not by commander): exit 2. */
class UsageError extends Error {}

function write(options: DataOptions): { deadlineMs: number; expectedVersion?: number } {
  return { deadlineMs: options.deadlineMs, ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }) }
}

const actions = new Map<string, DataAction>()

function dataCommand(name: string, description: string, args: Argument[], action: DataAction, extra: Option[] = []): Command {
  actions.set(name, action)
  const command = addConnectionOptions(new Command(name).description(description))
    .addOption(new Option('--deadline-ms <ms>', 'time limit of each call').env('LSE_DEADLINE_MS').default(adminDeadlineDefaultMs).argParser(integerIn(1, deadlineMaxMs)))
    .addOption(new Option('--json', 'print one JSON value a line, values typed exactly').default(false))
  for (const argument of args) command.addArgument(argument)
  for (const option of extra) command.addOption(option)
  return command
}

export function dataCommands(setExitCode: (code: number) => void): Command[] {
  return [
    // ------------------------------------------------------------------ problems
    dataCommand(
      'problems',
      'list problems, in id order, with their columns',
      [],
      async (client, _args, options, out) => {
        const after = (options.after as number | undefined) ?? 0
        const limit = options.limit as number
        const rows: Array<[number, Record<string, string>]> = []
        for await (const problemId of client.listProblems({ deadlineMs: options.deadlineMs })) {
          if (problemId <= after) continue
          if (rows.length === limit) break
          rows.push([problemId, await client.getProblemMeta(problemId, { deadlineMs: options.deadlineMs })])
        }
        if (options.json) {
          for (const [problemId, columns] of rows) out.print('', { problemId, columns })
          return
        }
        const idWidth = Math.max(2, ...rows.map(([problemId]) => String(problemId).length))
        out.print(`${'id'.padStart(idWidth)}  columns`, undefined)
        for (const [problemId, columns] of rows) {
          const text = Object.entries(columns)
            .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
            .join(' ')
          out.print(`${String(problemId).padStart(idWidth)}  ${text}`, undefined)
        }
      },
      [
        new Option('--after <id>', 'only problems with a larger id (the last id of the previous page)').argParser(integerIn(0, Number.MAX_SAFE_INTEGER)),
        new Option('--limit <n>', 'at most this many').default(problemsDefaultLimit).argParser(integerIn(1, problemsMaxLimit)),
      ],
    ),
    dataCommand('problem', "print a problem's columns, version and text", [idArgument('problem-id', 'the problem')], async (client, [problemId], options, out) => {
      const id = problemId as number
      const meta = await client.getProblemMetaVersioned(id, { deadlineMs: options.deadlineMs })
      const html = await client.getProblemHtmlVersioned(id, { deadlineMs: options.deadlineMs })
      const version = Math.max(meta.version, html.version)
      const columns = Object.entries(meta.value).map(([key, value]) => `${key}: ${value}`)
      out.print([`problem ${id}, version ${version}`, ...columns, '', html.value].join('\n'), { problemId: id, version, columns: meta.value, html: html.value })
    }),
    dataCommand(
      'create-problem',
      'create a problem; print its id',
      [],
      async (client, _args, options, out) => {
        const html = htmlOf(options)
        const columns = Object.fromEntries((options.column as Array<[string, string]> | undefined) ?? [])
        const problemId = await client.createProblem(html, columns, { deadlineMs: options.deadlineMs })
        out.print(String(problemId), { problemId })
      },
      [
        new Option('--html <text>', 'the statement'),
        new Option('--html-file <file>', 'the statement, from a UTF-8 file'),
        new Option('--column <name=value>', 'a metadata column (repeat for more)').argParser(columnOption),
      ],
    ),
    dataCommand(
      'update-problem',
      "replace a problem's text; print its new version",
      [idArgument('problem-id', 'the problem')],
      async (client, [problemId], options, out) => {
        const version = await client.updateProblemHtml(problemId as number, htmlOf(options), write(options))
        printVersion(out, version)
      },
      [new Option('--html <text>', 'the statement'), new Option('--html-file <file>', 'the statement, from a UTF-8 file'), expectedVersionOption()],
    ),
    dataCommand(
      'set-column',
      "set one of a problem's metadata columns; print the problem's new version",
      [idArgument('problem-id', 'the problem'), new Argument('<name>', 'the column'), new Argument('<value>', 'its value')],
      async (client, [problemId, name, value], options, out) => {
        const version = await client.updateProblemColumn(problemId as number, name as string, value as string, write(options))
        printVersion(out, version)
      },
      [expectedVersionOption()],
    ),
    dataCommand(
      'delete-problem',
      'delete a problem with its test cases and outputs; print the revision of the delete',
      [idArgument('problem-id', 'the problem')],
      async (client, [problemId], options, out) => {
        const revision = await client.deleteProblem(problemId as number, write(options))
        printRevision(out, revision)
      },
      [expectedVersionOption()],
    ),
    // ------------------------------------------------------------------ test cases
    dataCommand(
      'test-cases',
      "list a problem's test cases in chain order: id, version, value (and output)",
      [idArgument('problem-id', 'the problem')],
      async (client, [problemId], options, out) => {
        const includeOutputs = options.outputs as boolean
        for await (const testCase of client.getAllTestCases(problemId as number, { includeOutputs, includeVersions: true, deadlineMs: options.deadlineMs })) {
          const output = testCase.output
          out.print(`${testCase.tcId}  v${testCase.version}  ${formatValue(testCase.value)}${output === undefined ? '' : `  ->  ${formatValue(output)}`}`, {
            tcId: testCase.tcId,
            version: testCase.version,
            value: valueJson(testCase.value),
            ...(output === undefined ? {} : { output: valueJson(output), outputVersion: testCase.outputVersion }),
          })
        }
      },
      [new Option('--outputs', 'with their expected outputs').default(false)],
    ),
    dataCommand('test-case', "print a test case's value", [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case')], async (client, [problemId, tcId], options, out) => {
      const { value, version } = await client.getTestCaseVersioned(problemId as number, tcId as number, { deadlineMs: options.deadlineMs })
      printValue(out, tcId as number, value, version)
    }),
    dataCommand('add-test-case', 'add a test case at the end of the chain; print its id', [idArgument('problem-id', 'the problem'), valueArgument('its value')], async (client, [problemId, value], options, out) => {
      const tcId = await client.addTestCase(problemId as number, value as Value, { deadlineMs: options.deadlineMs })
      out.print(String(tcId), { tcId })
    }),
    dataCommand(
      'update-test-case',
      "replace a test case's value; print its new version",
      [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case'), valueArgument('its new value')],
      async (client, [problemId, tcId, value], options, out) => {
        const version = await client.updateTestCase(problemId as number, tcId as number, value as Value, write(options))
        printVersion(out, version)
      },
      [expectedVersionOption()],
    ),
    dataCommand(
      'delete-test-case',
      'delete a test case and its output; print the revision of the delete',
      [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case')],
      async (client, [problemId, tcId], options, out) => {
        const revision = await client.deleteTestCase(problemId as number, tcId as number, write(options))
        printRevision(out, revision)
      },
      [expectedVersionOption()],
    ),
    // ------------------------------------------------------------------ expected outputs
    dataCommand('output', "print a test case's expected output", [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case')], async (client, [problemId, tcId], options, out) => {
      const { value, version } = await client.getExpectedOutputVersioned(problemId as number, tcId as number, { deadlineMs: options.deadlineMs })
      printValue(out, tcId as number, value, version)
    }),
    dataCommand(
      'set-output',
      'give a test case its expected output (ALREADY_EXISTS if it has one); print its version',
      [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case'), valueArgument('the output')],
      async (client, [problemId, tcId, value], options, out) => {
        const version = await client.setExpectedOutput(problemId as number, tcId as number, value as Value, { deadlineMs: options.deadlineMs })
        printVersion(out, version)
      },
    ),
    dataCommand(
      'update-output',
      "replace a test case's expected output; print its new version",
      [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case'), valueArgument('the new output')],
      async (client, [problemId, tcId, value], options, out) => {
        const version = await client.updateExpectedOutput(problemId as number, tcId as number, value as Value, write(options))
        printVersion(out, version)
      },
      [expectedVersionOption()],
    ),
    dataCommand(
      'delete-output',
      "delete a test case's expected output; print the revision of the delete",
      [idArgument('problem-id', 'the problem'), idArgument('tc-id', 'the test case')],
      async (client, [problemId, tcId], options, out) => {
        const revision = await client.deleteExpectedOutput(problemId as number, tcId as number, write(options))
        printRevision(out, revision)
      },
      [expectedVersionOption()],
    ),
  ].map((command) => command.action(runWith(command.name(), setExitCode)))
}

/** A write's new version. */
function printVersion(out: Printer, version: number): void {
  out.print(`version ${version}`, { version })
}

/** The revision of a delete. */
function printRevision(out: Printer, revision: number): void {
  out.print(`revision ${revision}`, { revision })
}

function printValue(out: Printer, tcId: number, value: Value, version: number): void {
  out.print(formatValue(value), { tcId, version, value: valueJson(value) })
}

/** Runs the named action with the parsed arguments (commander passes them, then the options and the command). */
function runWith(name: string, setExitCode: (code: number) => void): (...parsed: unknown[]) => Promise<void> {
  return async (...parsed) => {
    const options = parsed[parsed.length - 2] as DataOptions & Record<string, unknown>
    const args = parsed.slice(0, -2)
    const out: Printer = {
      print: (human, json) => {
        if (options.json) {
          if (json !== undefined) process.stdout.write(`${JSON.stringify(json)}\n`)
        } else process.stdout.write(`${human}\n`)
      },
    }
    const exitCode = await withClient(
      name,
      options,
      (client) => actions.get(name)!(client, args, options, out),
      (error) => (error instanceof UsageError ? exitCodes.usage : undefined),
    )
    setExitCode(exitCode)
  }
}
