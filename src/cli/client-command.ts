/**
 * The connection options of the commands that talk to a running server (--address, TLS,
 * --token), and running a command's calls on a client of them: the client is made (a bad
 * TLS file fails here, with exit 1), the calls run, and the client is closed. A failure is one
 * line on stderr, `stratum NAME: REASON`, the status code named for a failed call.
 */
import fs from 'node:fs'
import { Command, Option } from 'commander'
import { StratumClient, StratumClientError } from '../client/index.ts'
import { exitCodes, type ExitCode } from './exit-codes.ts'
import { address } from './option-parsers.ts'

/** The options of a connection to a running server. */
export interface ConnectionOptions {
  address: string
  tlsCa?: string
  tlsCert?: string
  tlsKey?: string
  tls: boolean
  token?: string
}

/** --address, the TLS options and --token, with their variables. */
export function addConnectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--address <host:port>', 'the server').env('LSE_ADDRESS').default('localhost:50051').argParser(address))
    .addOption(new Option('--tls', "connect with TLS, verifying the server with the system's CAs").env('LSE_TLS').default(false))
    .addOption(new Option('--tls-ca <file>', 'connect with TLS, verifying the server with this PEM CA').env('LSE_TLS_CA'))
    .addOption(new Option('--tls-cert <file>', 'the PEM client certificate, for a server that requires one (with --tls-key)').env('LSE_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('LSE_TLS_KEY'))
    .addOption(new Option('--token <token>', 'the token sent with the call, for a server that checks tokens').env('LSE_TOKEN'))
}

/** The client of the connection options: TLS when any TLS option is given, the token when one is. */
export function connectedClient(options: ConnectionOptions): StratumClient {
  const read = (file: string | undefined): Buffer | undefined => (file === undefined ? undefined : fs.readFileSync(file))
  const tls = options.tls || options.tlsCa !== undefined || options.tlsCert !== undefined
  return new StratumClient(options.address, {
    ...(tls ? { tls: { ca: read(options.tlsCa), cert: read(options.tlsCert), key: read(options.tlsKey) } } : {}),
    ...(options.token === undefined ? {} : { token: options.token }),
  })
}


/** Whether a call failed because what it named does not exist. */
export function isNotFound(error: unknown): boolean {
  return error instanceof StratumClientError && error.codeName === 'NOT_FOUND'
}

/** One line for a failure: the server's details and the status code for a failed call. */
export function failureReason(error: unknown): string {
  const reason = error instanceof StratumClientError ? `${error.details} (${error.codeName})` : error instanceof Error ? error.message : String(error)
  return reason.replace(/\s*\n\s*/g, ' ')
}

/**
 * Runs `calls` with a client of `options`; resolves to the exit code: 0, or 1 after printing the
 * failure (or `exitCodeOf(error)` when given and it names one).
 */
export async function withClient(
  name: string,
  options: ConnectionOptions,
  calls: (client: StratumClient) => Promise<void>,
  exitCodeOf: (error: unknown) => ExitCode | undefined = () => undefined,
): Promise<ExitCode> {
  let client: StratumClient
  try {
    client = connectedClient(options)
  } catch (error) {
    process.stderr.write(`stratum ${name}: ${(error as Error).message}\n`)
    return exitCodes.failed
  }
  try {
    await calls(client)
    return exitCodes.ok
  } catch (error) {
    process.stderr.write(`stratum ${name}: ${failureReason(error)}\n`)
    return exitCodeOf(error) ?? exitCodes.failed
  } finally {
    client.close()
  }
}
