/**
 * The limits a server puts on its connections and on the requests in flight, with their defaults
 * (documented in the README's limits table). Message sizes are per method, in message-limits.ts.
 */
import { defaultConnectionLimits, type ConnectionLimits } from './connection-listener.ts'

const MiB = 1024 * 1024
const timerMaxMs = 2 ** 31 - 1

export interface ServerLimits extends ConnectionLimits {
  /** A connection without calls for this long is closed (HTTP/2 GOAWAY); clients reconnect by themselves. */
  connectionIdleMs: number
  /** Most calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  streamsPerConnectionMax: number
  /** Most calls open at once on the whole server; past it the streaming call open longest ends, or the new call is refused (open-calls.ts). */
  callsMax: number
  /** Memory that the requests in flight may hold all together (see request-memory.ts). */
  requestsInFlightMaxBytes: number
  /** Time a unary call has, from its start, to send its whole request and end its stream (request-receipt.ts). */
  requestReceiveTimeoutMs: number
  /** Time bytes of a call's responses may wait undelivered (the client does not read) before the call is closed (response-delivery.ts). */
  responseSendTimeoutMs: number
  /** The server pings a connection this long without traffic, to find peers that are gone. */
  keepaliveTimeMs: number
  /** A ping not answered within this closes the connection. */
  keepaliveTimeoutMs: number
}

export const defaultServerLimits: ServerLimits = {
  ...defaultConnectionLimits,
  connectionIdleMs: 5 * 60_000,
  streamsPerConnectionMax: 100,
  callsMax: 8192,
  requestsInFlightMaxBytes: 256 * MiB,
  requestReceiveTimeoutMs: 30_000,
  responseSendTimeoutMs: 60_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
}

/** The defaults, overridden by what is given; a value that is not a positive integer is refused. */
export function serverLimits(given: Partial<ServerLimits> = {}): ServerLimits {
  const chosen = { ...defaultServerLimits, ...given }
  for (const [name, value] of Object.entries(chosen)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`server limit ${name} must be a positive integer; got ${String(value)}`)
    // Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer one fires at once.
    if (name.endsWith('Ms') && value > timerMaxMs) throw new RangeError(`server limit ${name} must be at most ${timerMaxMs} ms; got ${value}`)
  }
  return chosen
}
