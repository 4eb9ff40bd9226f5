/**
 * The `stratum` command: `serve`, the admin commands (`stats`, `flush`, `health`, `compact`), the
 * data commands (data-commands.ts), `export`, `import`, `verify`, `watch`, and `token new`.
 *
 * Exit codes are in exit-codes.ts: 0 success; 1 the command failed; 2 bad usage (an unknown
 * flag, a bad value), reported on one line of stderr; 3 and up, the causes of a failed start.
 */
import { Command, CommanderError } from 'commander'
import fs from 'node:fs'
import { adminCommands } from './admin-commands.ts'
import { dataCommands } from './data-commands.ts'
import { exportCommand } from './export-command.ts'
import { importCommand } from './import-command.ts'
import { verifyCommand } from './verify-command.ts'
import { exitCodes } from './exit-codes.ts'
import { serveCommand } from './serve-command.ts'
import { tokenCommand } from './token-command.ts'
import { watchCommand } from './watch-command.ts'

/** The package's version, for `stratum --version`. */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode = 0
  const setExitCode = (code: number): void => {
    exitCode = code
  }
  const program = new Command('stratum')
    .description('Stratum, a log-structured storage engine served over gRPC')
    .showHelpAfterError(false)
    .enablePositionalOptions()
    .version(packageVersion(), '-V, --version', 'print the version')
  program.addCommand(serveCommand(setExitCode))
  for (const command of adminCommands(setExitCode)) program.addCommand(command)
  for (const command of dataCommands(setExitCode)) program.addCommand(command)
  program.addCommand(exportCommand(setExitCode))
  program.addCommand(importCommand(setExitCode))
  program.addCommand(verifyCommand(setExitCode))
  program.addCommand(watchCommand(setExitCode))
  program.addCommand(tokenCommand(setExitCode))
  for (const command of [program, ...program.commands, ...program.commands.flatMap((command) => command.commands)]) {
    command.exitOverride().configureOutput({
      // One line, whatever commander adds (such as a "Did you mean" hint on its own line).
      outputError: (message, write) => write(`${message.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
  }
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return exitCode
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    // Help and version exit 0; every other commander error is bad usage.
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage
  }
}
