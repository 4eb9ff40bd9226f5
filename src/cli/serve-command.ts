/**
 * `stratum serve`: runs the gRPC server until SIGTERM or SIGINT, then shuts down gracefully
 * (stop accepting, finish calls in flight, flush, close the store) and exits 0. A failed start
 * is one line on stderr, naming the cause and its fix, and an exit code of that cause.
 */
import { Command, Option } from 'commander'
import { limits } from '../engine/index.ts'
import { defaultHost, defaultPort, defaultShutdownGraceMs, startServer } from '../server/index.ts'
import { exitCodes, type ExitCode } from './exit-codes.ts'
import { routeGrpcLogs } from './grpc-log.ts'
import { createLogger, logFormats, logLevels, type LogFormat } from './logger.ts'
import { bytesIn, formatBytes, integerIn, numberIn } from './option-parsers.ts'
import { startFailure } from './start-failure.ts'
import { addSecurityOptions, securityOf, securityProblem, type SecurityOptions } from './security-options.ts'
import { addServerLimitOptions, serverLimitsOf, type ServerLimitOptions } from './server-limit-options.ts'
import { listenForStopSignals } from './stop-signals.ts'
import { addMetricsOptions, metricsOf, type MetricsOptions } from './metrics-options.ts'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** Defaults of the store options, as the engine has them (see src/engine/limits.ts). */
const segmentSizeDefaultBytes = limits.segmentSizeDefaultBytes
const cacheSizeDefaultBytes = limits.cacheSizeDefaultBytes
const compactionDeadBytesDefault = limits.compactionDeadBytesDefault
/** Least `compactionDeadRatio` openStore takes (checked in src/engine/store-options.ts). */
const compactionDeadRatioMin = 0.05

export interface ServeOptions extends ServerLimitOptions, SecurityOptions, MetricsOptions {
  host: string
  port: number
  dataDir: string
  sync: 'always' | 'interval' | 'none'
  syncIntervalMs: number
  segmentSize: number
  cacheSize: number
  watchHistoryMaxChanges: number
  watchLogRetainChanges: number
  compactionIntervalMs: number
  compactionDeadRatio: number
  compactionDeadBytes: number
  shard: number
  logLevel: string
  logFormat: LogFormat
  shutdownGraceMs: number
}

export function serveCommand(setExitCode: (code: number) => void): Command {
  const command = new Command('serve')
    .description('run the gRPC server (stops gracefully on SIGTERM or SIGINT)')
    .addOption(new Option('--host <host>', 'interface to listen on').env('LSE_HOST').default(defaultHost))
    .addOption(
      new Option('--port <port>', 'TCP port; 0 picks a free one, which the start log line names')
        .env('LSE_PORT')
        .default(defaultPort)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(new Option('--data-dir <dir>', "the store's folder, created if missing").env('LSE_DATA_DIR').default('./data'))
    .addOption(
      new Option('--sync <mode>', 'when a write is acknowledged: always (after fdatasync), interval, none')
        .env('LSE_SYNC')
        .choices(['always', 'interval', 'none'])
        .default('always'),
    )
    .addOption(
      new Option('--sync-interval-ms <ms>', 'sync period of --sync interval')
        .env('LSE_SYNC_INTERVAL_MS')
        .default(limits.syncIntervalDefaultMs)
        .argParser(integerIn(limits.syncIntervalMinMs, limits.syncIntervalMaxMs)),
    )
    .addOption(
      new Option('--segment-size <bytes>', `size at which a segment file is sealed (${formatBytes(limits.segmentSizeMinBytes)} to ${formatBytes(limits.segmentSizeMaxBytes)})`)
        .env('LSE_SEGMENT_SIZE')
        .default(segmentSizeDefaultBytes, `${segmentSizeDefaultBytes} (${formatBytes(segmentSizeDefaultBytes)})`)
        .argParser(bytesIn(limits.segmentSizeMinBytes, limits.segmentSizeMaxBytes)),
    )
    .addOption(
      new Option('--cache-size <bytes>', `memory for cached segment blocks (0 to ${formatBytes(limits.cacheSizeMaxBytes)})`)
        .env('LSE_CACHE_SIZE')
        .default(cacheSizeDefaultBytes, `${cacheSizeDefaultBytes} (${formatBytes(cacheSizeDefaultBytes)})`)
        .argParser(bytesIn(0, limits.cacheSizeMaxBytes)),
    )
    .addOption(
      new Option('--watch-history-max-changes <n>', 'changes kept in memory for Watch (about 320 bytes each); older ones are read back from the log while it holds them')
        .env('LSE_WATCH_HISTORY_MAX_CHANGES')
        .default(limits.watchHistoryDefaultChanges)
        .argParser(integerIn(0, limits.watchHistoryMaxChangesMax)),
    )
    .addOption(
      new Option(
        '--watch-log-retain-changes <n>',
        'background compaction leaves in the log the segments holding the newest n changes, so that a watch can resume from them, after a restart too; 0 for none',
      )
        .env('LSE_WATCH_LOG_RETAIN_CHANGES')
        .default(limits.watchLogRetainDefaultChanges)
        .argParser(integerIn(0, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option('--compaction-interval-ms <ms>', 'how often the background compactor checks for garbage; 0 turns it off (stratum compact still works)')
        .env('LSE_COMPACTION_INTERVAL_MS')
        .default(limits.compactionIntervalDefaultMs)
        .argParser(integerIn(0, limits.compactionIntervalMaxMs)),
    )
    .addOption(
      new Option('--compaction-dead-ratio <ratio>', `compact when dead bytes are at least this share of the sealed segments (${compactionDeadRatioMin} to 1)`)
        .env('LSE_COMPACTION_DEAD_RATIO')
        .default(limits.compactionDeadRatioDefault)
        .argParser(numberIn(compactionDeadRatioMin, 1)),
    )
    .addOption(
      new Option('--compaction-dead-bytes <bytes>', 'compact when the sealed segments hold at least this many dead bytes, whatever their share')
        .env('LSE_COMPACTION_DEAD_BYTES')
        .default(compactionDeadBytesDefault, `${compactionDeadBytesDefault} (${formatBytes(compactionDeadBytesDefault)})`)
        .argParser(bytesIn(1, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option('--shard <n>', 'shard number kept in the top bits of every id issued')
        .env('LSE_SHARD')
        .default(0)
        .argParser(integerIn(0, limits.shardMax)),
    )
    .addOption(
      new Option('--log-level <level>', 'least severe log lines written (on stdout); debug also logs the stack of a failed start')
        .env('LSE_LOG_LEVEL')
        .choices(logLevels)
        .default('info'),
    )
    .addOption(
      new Option('--log-format <format>', 'json: one JSON object a line, for log collectors; pretty: readable lines, for a terminal')
        .env('LSE_LOG_FORMAT')
        .choices(logFormats)
        .default('json'),
    )
    .addOption(
      new Option('--shutdown-grace-ms <ms>', 'how long shutdown waits for calls in flight before cancelling them')
        .env('LSE_SHUTDOWN_GRACE_MS')
        .default(defaultShutdownGraceMs)
        .argParser(integerIn(0, 600_000)),
    )
  return addMetricsOptions(addSecurityOptions(addServerLimitOptions(command)))
    .addHelpText('after', `\nSizes take a plain number of bytes or a binary unit: ${formatBytes(4 * KiB)}, ${formatBytes(64 * MiB)}, ${formatBytes(1 * GiB)}.`)
    .action(async (options: ServeOptions) => {
      setExitCode(await serve(options))
    })
}

/** Runs the server until a signal; resolves to the exit code. */
export async function serve(options: ServeOptions): Promise<ExitCode> {
  const logger = createLogger(options.logLevel, options.logFormat)
  const grpcLogs = routeGrpcLogs(logger)
  const insecure = securityProblem(options.host, options)
  if (insecure !== undefined) {
    process.stderr.write(`stratum serve: ${insecure}\n`)
    return insecure.startsWith('refusing') ? exitCodes.insecure : exitCodes.usage
  }
  // Listening for stop signals before the server starts: a signal that arrives while it starts,
  // or the moment it has logged `listening`, stops it once started, rather than killing it.
  let stopped = false
  const stop = listenForStopSignals((repeat) => logger.warn({ signal: repeat }, stopped ? 'already stopped' : 'already shutting down'))
  let server
  try {
    server = await startServer({
      ...securityOf(options),
      ...metricsOf(options),
      host: options.host,
      port: options.port,
      shutdownGraceMs: options.shutdownGraceMs,
      limits: serverLimitsOf(options),
      logger,
      store: {
        dir: options.dataDir,
        syncMode: options.sync,
        syncIntervalMs: options.syncIntervalMs,
        segmentSizeBytes: options.segmentSize,
        cacheSizeBytes: options.cacheSize,
        watchHistoryMaxChanges: options.watchHistoryMaxChanges,
        watchLogRetainChanges: options.watchLogRetainChanges,
        compactionIntervalMs: options.compactionIntervalMs,
        compactionDeadRatio: options.compactionDeadRatio,
        compactionDeadBytes: options.compactionDeadBytes,
        shard: options.shard,
      },
    })
  } catch (error) {
    const failure = startFailure(error, options)
    process.stderr.write(`stratum serve: ${failure.line}\n`)
    logger.debug({ err: error }, 'could not start')
    return failure.exitCode
  }
  grpcLogs.started()
  // SIGHUP: renewed certificates and a new token file, without a restart.
  const reload = (): void => {
    try {
      server.reload()
    } catch (error) {
      logger.error({ err: error }, 'reload failed: the server keeps its TLS files and tokens')
    }
  }
  process.on('SIGHUP', reload)
  try {
    // A second signal while shutting down is noted, not obeyed: closing the store must finish.
    await server.shutdown(await stop.first)
    return exitCodes.ok
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed')
    return exitCodes.failed
  } finally {
    stopped = true
    process.off('SIGHUP', reload)
  }
}
