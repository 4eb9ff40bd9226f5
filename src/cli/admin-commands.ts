/**
 * Commands that talk to a running server: `stratum stats`, `stratum flush`, `stratum health`,
 * `stratum compact`.
 * Each prints its result on stdout and exits 0, or prints one line on stderr and exits 1 (exit-codes.ts).
 */
import { Command, Option } from 'commander'
import type { CompactionResult, StratumClient } from '../client/index.ts'
import { addConnectionOptions, withClient, type ConnectionOptions } from './client-command.ts'
import { integerIn } from './option-parsers.ts'

/** Default time limit of an admin call, in ms. */
export const adminDeadlineDefaultMs = 10_000
/** Default time limit of `stratum compact`: a full compaction of a large store takes minutes. */
export const compactDeadlineDefaultMs = 3_600_000
const adminDeadlineMaxMs = 3_600_000

interface AdminOptions extends ConnectionOptions {
  deadlineMs: number
}

export function adminCommands(setExitCode: (code: number) => void): Command[] {
  return [
    adminCommand('stats', 'print the store counters of a running server as JSON', async (client, deadlineMs) => {
      process.stdout.write(`${JSON.stringify(await client.getStats({ deadlineMs }), null, 2)}\n`)
    }),
    adminCommand('flush', 'make a running server write and sync every acknowledged write', async (client, deadlineMs) => {
      await client.flush({ deadlineMs })
      process.stdout.write('flushed\n')
    }),
    adminCommand('health', 'print whether a running server is SERVING; exit 0 when it is, 1 otherwise (no token needed)', async (client, deadlineMs) => {
      const status = await client.health('', { deadlineMs })
      process.stdout.write(`${status}\n`)
      if (status !== 'SERVING') throw new Error(`the server is ${status}`)
    }),
    adminCommand(
      'compact',
      'make a running server compact its segments now, and print what it did',
      async (client, deadlineMs) => {
        process.stdout.write(`${compactionSummary(await client.compactNow({ deadlineMs }))}\n`)
      },
      compactDeadlineDefaultMs,
    ),
  ].map((command) => command.action(runWith(command.name(), setExitCode)))
}

type AdminAction = (client: StratumClient, deadlineMs: number) => Promise<void>

const actions = new Map<string, AdminAction>()

function adminCommand(name: string, description: string, action: AdminAction, deadlineDefaultMs = adminDeadlineDefaultMs): Command {
  actions.set(name, action)
  return addConnectionOptions(new Command(name).description(description)).addOption(
    new Option('--deadline-ms <ms>', 'time limit of the call').env('LSE_DEADLINE_MS').default(deadlineDefaultMs).argParser(integerIn(1, adminDeadlineMaxMs)),
  )
}

/**
 * One line for people, e.g. "compacted 3 segments into 1: 1048576 -> 262144 bytes, 786432
 * reclaimed, in 12.5 ms".
 */
export function compactionSummary(result: CompactionResult): string {
  const segments = (count: number): string => `${count} segment${count === 1 ? '' : 's'}`
  return (
    `compacted ${segments(result.segmentsCompacted)} into ${result.segmentsWritten}: ` +
    `${result.bytesBefore} -> ${result.bytesAfter} bytes, ${result.bytesReclaimed} reclaimed, in ${result.durationMs.toFixed(1)} ms`
  )
}

function runWith(name: string, setExitCode: (code: number) => void): (options: AdminOptions) => Promise<void> {
  return async (options) => {
    setExitCode(await withClient(name, options, (client) => actions.get(name)!(client, options.deadlineMs)))
  }
}
