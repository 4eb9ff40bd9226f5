/**
 * The `stratum serve` flags of the Prometheus endpoint: off unless `--metrics-port` is given, on
 * loopback unless `--metrics-host` says otherwise (it has neither TLS nor tokens, so it is
 * opened to a network only on purpose).
 */
import { Option, type Command } from 'commander'
import { defaultHost, type ServerOptions } from '../server/index.ts'
import { integerIn } from './option-parsers.ts'

export interface MetricsOptions {
  metricsHost: string
  metricsPort?: number
}

export function addMetricsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus metrics over HTTP at /metrics on this port (0 picks a free one); off when not given')
        .env('LSE_METRICS_PORT')
        .argParser(integerIn(0, 65535)),
    )
    .addOption(new Option('--metrics-host <host>', 'interface the metrics port listens on').env('LSE_METRICS_HOST').default(defaultHost))
}

export function metricsOf(options: MetricsOptions): Pick<ServerOptions, 'metrics'> {
  return options.metricsPort === undefined ? {} : { metrics: { host: options.metricsHost, port: options.metricsPort } }
}
