/**
 * The server's log: pino on stdout, as JSON lines (`--log-format json`, for log collectors) or as
 * readable lines (`--log-format pretty`, for a terminal). Both write synchronously, so that the
 * last lines before an exit are not lost and the lines keep their order.
 */
import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'

export const logFormats = ['json', 'pretty'] as const
export type LogFormat = (typeof logFormats)[number]

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function createLogger(level: string, format: LogFormat): Logger {
  const options = { base: { service: 'stratum' }, level }
  if (format === 'json') return pino(options, pino.destination({ dest: 1, sync: true }))
  // Every line is this service's: naming it on each would only take room.
  return pino(options, PinoPretty({ destination: 1, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'service' }))
}
