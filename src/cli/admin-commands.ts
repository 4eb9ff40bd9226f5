/**
 * Commands that talk to a running server: `stratum stats`, `stratum flush`, `stratum compact`.
 * Each prints its result on stdout and exits 0, or prints one line on stderr and exits 1.
 */
import { Command, Option } from 'commander'
import { StratumClient, StratumClientError } from '../client/index.ts'
import { address, integerIn } from './option-parsers.ts'

interface AdminOptions {
  address: string
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
    adminCommand('compact', 'ask a running server to compact its segments now', async (client, deadlineMs) => {
      await client.compactNow({ deadlineMs })
      process.stdout.write('compacted\n')
    }),
  ].map((command) => command.action(runWith(command.name(), setExitCode)))
}

type AdminAction = (client: StratumClient, deadlineMs: number) => Promise<void>

const actions = new Map<string, AdminAction>()

function adminCommand(name: string, description: string, action: AdminAction): Command {
  actions.set(name, action)
  return new Command(name)
    .description(description)
    .addOption(new Option('--address <host:port>', 'the server').env('LSE_ADDRESS').default('localhost:50051').argParser(address))
    .addOption(new Option('--deadline-ms <ms>', 'time limit of the call').env('LSE_DEADLINE_MS').default(10_000).argParser(integerIn(1, 3_600_000)))
}

function runWith(name: string, setExitCode: (code: number) => void): (options: AdminOptions) => Promise<void> {
  return async (options) => {
    const client = new StratumClient(options.address)
    try {
      await actions.get(name)!(client, options.deadlineMs)
      setExitCode(0)
    } catch (error) {
      const reason = error instanceof StratumClientError ? `${error.details} (${error.codeName})` : String(error)
      process.stderr.write(`stratum ${name}: ${reason.replace(/\s*\n\s*/g, ' ')}\n`)
      setExitCode(1)
    } finally {
      client.close()
    }
  }
}
