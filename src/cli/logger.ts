/**
 * The server's log: pino on stdout, as JSON lines. It writes synchronously, so that the last
 * lines before an exit are not lost and the lines keep their order.
 */
import { pino, type Logger } from 'pino'

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function createLogger(level: string): Logger {
  return pino({ base: { service: 'stratum' }, level }, pino.destination({ dest: 1, sync: true }))
}
