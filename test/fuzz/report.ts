/**
 * What `npm run fuzz` found, the verdict on it, and its plain-text summary.
 */
import { formatBytes, percentile } from '../../bench/measure.ts'
import type { ChildHealth } from '../../bench/server-child.ts'

export interface FuzzResult {
  requested: number
  sent: number
  concurrency: number
  seed: number
  durationSeconds: number
  sendSeconds: number
  byCode: Record<string, number>
  byKind: Record<string, number>
  unexpectedCount: number
  unexpectedExamples: string[]
  neverProperCount: number
  /** How the server child ended before it was asked to stop; undefined while it stayed up. */
  serverDied: string | undefined
  /** The child's own figures at the end; undefined when it could not answer. */
  server: ChildHealth | undefined
  probeLatenciesMs: number[]
  probeFailures: string[]
  runnerLoopDelayMaxMs: number
  /** Undefined when the data could not be read back. */
  dataUnchanged: boolean | undefined
}

/** The reasons the run fails; none when it passes. */
export function verdict(result: FuzzResult): string[] {
  const reasons: string[] = []
  if (result.serverDied !== undefined) reasons.push(`the server died: ${result.serverDied}`)
  if (result.neverProperCount > 0) reasons.push(`${result.neverProperCount} INTERNAL, UNKNOWN, DEADLINE_EXCEEDED or UNAVAILABLE statuses`)
  if (result.unexpectedCount > 0) reasons.push(`${result.unexpectedCount} statuses their request may not get`)
  if (result.dataUnchanged !== true) reasons.push(result.dataUnchanged === false ? 'the stored data changed' : 'the stored data could not be read back')
  if (result.probeFailures.length > 0) reasons.push(`${result.probeFailures.length} probe calls failed`)
  if ((result.server?.errorLines ?? 0) > 0) reasons.push(`the server logged ${result.server!.errorLines} error lines`)
  return reasons
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US')
const ms = (value: number): string => `${value.toFixed(1)} ms`

export function probeFigures(latenciesMs: readonly number[]): { calls: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = Float64Array.from(latenciesMs).sort()
  return { calls: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN }
}

export function formatResult(result: FuzzResult, reasons: readonly string[]): string {
  const probe = probeFigures(result.probeLatenciesMs)
  const byCode = Object.entries(result.byCode)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${count(n)}`)
    .join(', ')
  const { server } = result
  const lines = [
    `hostile requests: ${count(result.sent)} of ${count(result.requested)} sent in ${result.sendSeconds.toFixed(1)} s ` +
      `(${count(result.sent / result.sendSeconds)} req/s), ${result.concurrency} in flight, seed ${result.seed}`,
    `statuses: ${byCode}`,
    ...Object.entries(result.byKind).map(([key, n]) => `  ${key} ×${count(n)}`),
    `unexpected statuses: ${count(result.unexpectedCount)}; INTERNAL, UNKNOWN, DEADLINE_EXCEEDED or UNAVAILABLE: ${count(result.neverProperCount)}`,
    ...result.unexpectedExamples.map((example) => `  ${example}`),
    server === undefined
      ? 'server: no figures (it did not answer)'
      : `server: max RSS ${formatBytes(server.maxRssBytes)} (${formatBytes(server.rssBytes)} at the end); ` +
        `event-loop delay max ${ms(server.eventLoopDelay.maxMs)}, p99 ${ms(server.eventLoopDelay.p99Ms)}; error log lines ${server.errorLines}`,
    `probe (GetStats every 100 ms, own connection): ${count(probe.calls)} calls, p50 ${ms(probe.p50Ms)}, p99 ${ms(probe.p99Ms)}, ` +
      `max ${ms(probe.maxMs)}; ${result.probeFailures.length} failed`,
    ...result.probeFailures.slice(0, 5).map((failure) => `  ${failure}`),
    `runner's own event-loop delay max: ${ms(result.runnerLoopDelayMaxMs)} (part of every probe latency)`,
    `server stayed up: ${result.serverDied === undefined ? 'yes' : `no, ${result.serverDied}`}; stored data unchanged: ${result.dataUnchanged ?? 'unknown'}`,
    `duration: ${result.durationSeconds.toFixed(1)} s`,
    reasons.length === 0 ? 'PASS' : `FAIL: ${reasons.join('; ')}`,
  ]
  return lines.join('\n')
}

/** The result as one JSON line, for tooling. */
export function resultJson(result: FuzzResult, reasons: readonly string[]): string {
  const { probeLatenciesMs, ...rest } = result
  return JSON.stringify({ ...rest, requestsPerSecond: result.sent / result.sendSeconds, probe: probeFigures(probeLatenciesMs), passed: reasons.length === 0, reasons })
}
