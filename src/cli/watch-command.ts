/**
 * `stratum watch`: prints a running server's changes as they are acknowledged, one JSON line per
 * event (the Watch RPC), until interrupted (exit 0) or the stream fails (one line on stderr
 * naming the revision to resume from with --from-revision; exit 1).
 *
 * Values are written so that JSON keeps them exact: an int64 as a decimal string, a double that
 * JSON has no number for (NaN, ±Infinity, -0) as a string, a map as an array of [key, value] pairs
 * (in order).
 */
import { Command, Option } from 'commander'
import { StratumClientError, type StratumClient, type WatchEvent } from '../client/index.ts'
import { addConnectionOptions, connectedClient, type ConnectionOptions } from './client-command.ts'
import { exitCodes } from './exit-codes.ts'
import { integerIn } from './option-parsers.ts'
import { valueJson } from './value-literal.ts'
import { watchProgressIntervalDefaultMs, watchProgressIntervalMaxMs, watchProgressIntervalMinMs } from '../protocol/watch-events.ts'

interface WatchCommandOptions extends ConnectionOptions {
  fromRevision?: number
  problem?: number
  values: boolean
  progressIntervalMs?: number
}

export function watchCommand(setExitCode: (code: number) => void): Command {
  return addConnectionOptions(
    new Command('watch')
      .description("print a running server's changes as they are acknowledged, one JSON line each, until interrupted")
      .addOption(new Option('--from-revision <revision>', 'the first revision to print (the last one seen + 1, to resume); default: from now').argParser(integerIn(1, Number.MAX_SAFE_INTEGER)))
      .addOption(new Option('--problem <id>', "only this problem's changes").argParser(integerIn(1, Number.MAX_SAFE_INTEGER)))
      .addOption(new Option('--values', 'include what each write stored').default(false))
      .addOption(
        new Option('--progress-interval-ms <ms>', `a progress line after this long without a change (default: the server's, ${watchProgressIntervalDefaultMs})`).argParser(
          integerIn(watchProgressIntervalMinMs, watchProgressIntervalMaxMs),
        ),
      ),
  ).action(async (options: WatchCommandOptions) => {
    let client: StratumClient
    try {
      client = connectedClient(options)
    } catch (error) {
      process.stderr.write(`stratum watch: ${(error as Error).message}\n`)
      setExitCode(exitCodes.failed)
      return
    }
    const watch = client.watch({
      ...(options.fromRevision === undefined ? {} : { fromRevision: options.fromRevision }),
      ...(options.problem === undefined ? {} : { problemId: options.problem }),
      withValues: options.values,
      ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
    })
    // Interrupted: the watch ends, and so does the command, successfully.
    const stop = (): void => watch.cancel()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      for await (const event of watch) process.stdout.write(`${JSON.stringify(eventJson(event))}\n`)
      setExitCode(exitCodes.ok)
    } catch (error) {
      const reason = error instanceof StratumClientError ? `${error.details} (${error.codeName})` : String(error)
      // The server stopped, the connection broke, or the server dropped the watch for room
      // (CANCELLED): the watch can go on where it ended.
      const resumable = error instanceof StratumClientError && ['UNAVAILABLE', 'CANCELLED'].includes(error.codeName) && watch.resumeFrom > 0
      const resume = resumable ? `; resume with --from-revision ${watch.resumeFrom}` : ''
      process.stderr.write(`stratum watch: ${reason.replace(/\s*\n\s*/g, ' ')}${resume}\n`)
      setExitCode(exitCodes.failed)
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      client.close()
    }
  })
}

/** An event as plain JSON. */
export function eventJson(event: WatchEvent): unknown {
  if (event.kind === 'progress' || event.value === undefined) return event
  const value = event.value
  switch (value.kind) {
    case 'problem':
      return { ...event, value: { kind: 'problem', html: value.html, columns: Object.fromEntries(value.columns) } }
    case 'value':
      return { ...event, value: { kind: 'value', value: valueJson(value.value) } }
    default:
      return event
  }
}
