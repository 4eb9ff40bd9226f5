/**
 * The `stratum serve` flags of the server's connection and in-flight limits (server-limits.ts),
 * each with its variable and default.
 */
import { Option, type Command } from 'commander'
import { defaultServerLimits, type ServerLimits } from '../server/index.ts'
import { bytesIn, formatBytes, integerIn } from './option-parsers.ts'

export type ServerLimitOptions = Pick<
  ServerLimits,
  | 'handshakeTimeoutMs'
  | 'connectionsMax'
  | 'connectionIdleMs'
  | 'streamsPerConnectionMax'
  | 'callsMax'
  | 'requestsInFlightMaxBytes'
  | 'requestReceiveTimeoutMs'
  | 'responseSendTimeoutMs'
>

const inFlightDefault = defaultServerLimits.requestsInFlightMaxBytes

export function addServerLimitOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--handshake-timeout-ms <ms>', 'time a new connection has to start speaking HTTP/2 before it is closed')
        .env('LSE_HANDSHAKE_TIMEOUT_MS')
        .default(defaultServerLimits.handshakeTimeoutMs)
        .argParser(integerIn(1, 600_000)),
    )
    .addOption(
      new Option('--connections-max <n>', 'most connections held at once; at the limit a new one evicts the oldest still in its handshake')
        .env('LSE_CONNECTIONS_MAX')
        .default(defaultServerLimits.connectionsMax)
        .argParser(integerIn(1, 1_000_000)),
    )
    .addOption(
      new Option('--connection-idle-ms <ms>', 'a connection without calls for this long is closed (clients reconnect by themselves)')
        .env('LSE_CONNECTION_IDLE_MS')
        .default(defaultServerLimits.connectionIdleMs)
        .argParser(integerIn(1000, 2_147_483_647)),
    )
    .addOption(
      new Option('--streams-per-connection-max <n>', 'most calls open at once on one connection')
        .env('LSE_STREAMS_PER_CONNECTION_MAX')
        .default(defaultServerLimits.streamsPerConnectionMax)
        .argParser(integerIn(1, 65_535)),
    )
    .addOption(
      new Option('--calls-max <n>', 'most calls open at once on the server; at the limit a new call ends the streaming call open longest, or is refused')
        .env('LSE_CALLS_MAX')
        .default(defaultServerLimits.callsMax)
        .argParser(integerIn(1, 10_000_000)),
    )
    .addOption(
      new Option('--requests-in-flight-max-bytes <bytes>', 'memory the requests in flight may hold together; past it requests are refused RESOURCE_EXHAUSTED')
        .env('LSE_REQUESTS_IN_FLIGHT_MAX_BYTES')
        .default(inFlightDefault, `${inFlightDefault} (${formatBytes(inFlightDefault)})`)
        .argParser(bytesIn(1024 * 1024, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option('--request-receive-timeout-ms <ms>', 'time a call has to send its whole request and end its stream; past it, DEADLINE_EXCEEDED')
        .env('LSE_REQUEST_RECEIVE_TIMEOUT_MS')
        .default(defaultServerLimits.requestReceiveTimeoutMs)
        .argParser(integerIn(100, 3_600_000)),
    )
    .addOption(
      new Option('--response-send-timeout-ms <ms>', "time a call's response may wait for its client to read it; past it the call is closed")
        .env('LSE_RESPONSE_SEND_TIMEOUT_MS')
        .default(defaultServerLimits.responseSendTimeoutMs)
        .argParser(integerIn(100, 3_600_000)),
    )
}

export function serverLimitsOf(options: ServerLimitOptions): ServerLimitOptions {
  return {
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    connectionsMax: options.connectionsMax,
    connectionIdleMs: options.connectionIdleMs,
    streamsPerConnectionMax: options.streamsPerConnectionMax,
    callsMax: options.callsMax,
    requestsInFlightMaxBytes: options.requestsInFlightMaxBytes,
    requestReceiveTimeoutMs: options.requestReceiveTimeoutMs,
    responseSendTimeoutMs: options.responseSendTimeoutMs,
  }
}
