/**
 * `stratum token new --role ROLE [--name NAME]`: makes a random token and prints it with the line
 * to add to the server's token file (--auth-tokens), which holds only its digest:
 *
 *   token: 3q2-7wVh…
 *   line:  write sha256:9f86d0… judge-workers
 *
 * The token is shown once; the server can check it but never show it again.
 */
import { Command, Option } from 'commander'
import { newToken, roles, type Role } from '../server/index.ts'
import { exitCodes } from './exit-codes.ts'

export function tokenCommand(setExitCode: (code: number) => void): Command {
  const token = new Command('token').description('make tokens for a server that checks them (--auth-tokens)')
  token.addCommand(
    new Command('new')
      .description('print a new random token, and the line of the token file that admits it')
      .addOption(new Option('--role <role>', 'what the token may do: read (reads), write (reads and writes), admin (also flush and compact)').choices(roles).makeOptionMandatory())
      .addOption(new Option('--name <name>', 'a name for the token in the file and in logs (no spaces)').default(''))
      .action((options: { role: Role; name: string }) => {
        if (/\s/.test(options.name)) {
          process.stderr.write('stratum token new: --name has no spaces\n')
          setExitCode(exitCodes.usage)
          return
        }
        const made = newToken(options.role, options.name)
        process.stdout.write(`token: ${made.token}\nline:  ${made.line}\n`)
        setExitCode(exitCodes.ok)
      }),
  )
  return token
}
