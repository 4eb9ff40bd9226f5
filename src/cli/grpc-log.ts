/**
 * grpc-js writes its own log lines to stderr ("E No address added out of total 1 resolved"). They
 * go to the server's log instead, as lines like every other one.
 *
 * Until the server has started, the errors grpc-js logs are those that the start throws, which
 * serve reports itself on one line of stderr: they are logged at debug level then, so that a
 * failed start says it once.
 */
import * as grpc from '@grpc/grpc-js'
import { format } from 'node:util'
import type { Logger } from 'pino'

export function routeGrpcLogs(logger: Logger): { started(): void } {
  let started = false
  const source = { source: 'grpc-js' }
  grpc.setLogger({
    error: (...args: unknown[]) => (started ? logger.warn(source, format(...args)) : logger.debug(source, format(...args))),
    info: (...args: unknown[]) => logger.info(source, format(...args)),
    debug: (...args: unknown[]) => logger.debug(source, format(...args)),
  })
  return {
    started() {
      started = true
    },
  }
}
