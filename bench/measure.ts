/**
 * Timing helpers of the benchmarks: run a workload with N concurrent loops, record the latency of
 * every operation, and summarize it as throughput and percentiles; watch the event loop's delay.
 * Also the table printer.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface Summary {
  operations: number
  elapsedSeconds: number
  opsPerSecond: number
  p50Micros: number
  p99Micros: number
}

/** The raw measurements of one run of a workload, or of one slice of it. */
export interface Sample {
  /** One latency per timed unit (an operation, or for the disk ceiling one write + sync). */
  latenciesMicros: Float64Array
  /** Operations done: usually the number of latencies; records for the disk ceiling. */
  operations: number
  elapsedSeconds: number
}

/** An operation that may complete synchronously (lmdb and SQLite reads) or asynchronously. */
export type Operation = (index: number) => void | Promise<unknown>

/**
 * Runs operations from..to-1 with `writers` concurrent loops that take the next index from a
 * shared counter, each awaiting its operation before taking another: at most `writers` are in
 * flight. Records each operation's latency from call to completion.
 */
export async function runRange(from: number, to: number, writers: number, operation: Operation): Promise<Sample> {
  const latenciesMicros = new Float64Array(to - from)
  let next = from
  const loop = async (): Promise<void> => {
    // Bounded by `to`: every pass takes one index.
    while (next < to) {
      const index = next++
      const started = performance.now()
      const pending = operation(index)
      if (pending !== undefined) await pending
      latenciesMicros[index - from] = (performance.now() - started) * 1000
    }
  }
  const started = performance.now()
  const loops: Promise<void>[] = []
  for (let writer = 0; writer < Math.min(writers, to - from); writer++) loops.push(loop())
  await Promise.all(loops)
  return { latenciesMicros, operations: to - from, elapsedSeconds: (performance.now() - started) / 1000 }
}

export async function runConcurrent(count: number, writers: number, operation: Operation): Promise<Summary> {
  return combine([await runRange(0, count, writers, operation)])
}

/** One summary of several samples: operations and time add up, percentiles over all latencies. */
export function combine(samples: readonly Sample[]): Summary {
  let operations = 0
  let elapsedSeconds = 0
  for (const sample of samples) {
    operations += sample.operations
    elapsedSeconds += sample.elapsedSeconds
  }
  const sorted = sortedLatencies(samples)
  return {
    operations,
    elapsedSeconds,
    opsPerSecond: operations / elapsedSeconds,
    p50Micros: percentile(sorted, 0.5),
    p99Micros: percentile(sorted, 0.99),
  }
}

/** Every latency of several samples, in one sorted array. */
export function sortedLatencies(samples: readonly Sample[]): Float64Array {
  let count = 0
  for (const sample of samples) count += sample.latenciesMicros.length
  const sorted = new Float64Array(count)
  let offset = 0
  for (const sample of samples) {
    sorted.set(sample.latenciesMicros, offset)
    offset += sample.latenciesMicros.length
  }
  return sorted.sort()
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))
  return sorted[rank]!
}

export interface EventLoopDelay {
  maxMs: number
  p99Ms: number
  meanMs: number
}

const loopDelayResolutionMs = 10

/**
 * Watches this process's event loop from now on; the function returned reads the figures so far.
 * The histogram records the time between ticks of a timer of `loopDelayResolutionMs`, so that an
 * idle loop reads about 10 ms: the figures take it off, leaving how late each tick came.
 */
export function watchEventLoopDelay(): () => EventLoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: loopDelayResolutionMs })
  histogram.enable()
  const lateMs = (nanoseconds: number): number => (Number.isFinite(nanoseconds) ? Math.max(0, nanoseconds / 1e6 - loopDelayResolutionMs) : 0)
  return () => ({ maxMs: lateMs(histogram.max), p99Ms: lateMs(histogram.percentile(99)), meanMs: lateMs(histogram.mean) })
}

/** Lets pending I/O callbacks and timers run: used between phases. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

// ---------------------------------------------------------------- formatting

export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '-'
  if (value >= 100) return Math.round(value).toLocaleString('en-US')
  if (value >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

export function formatMicros(value: number): string {
  if (!Number.isFinite(value)) return '-'
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1)
}

export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return '-'
  return value >= 10 ? `${value.toFixed(1)}×` : `${value.toFixed(2)}×`
}

export function formatBytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let scaled = value
  let unit = 0
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024
    unit++
  }
  return `${scaled.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export type Align = 'left' | 'right'

/** A plain-text table: header, rule, rows. Also valid Markdown when `markdown` is set. */
export function formatTable(header: string[], rows: string[][], align: Align[], markdown = false): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)))
  const pad = (cell: string, column: number): string =>
    align[column] === 'right' ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)
  const line = (cells: string[]): string =>
    markdown ? `| ${cells.map(pad).join(' | ')} |` : cells.map(pad).join('  ').trimEnd()
  const rule = markdown
    ? `|${widths.map((width, column) => (align[column] === 'right' ? `${'-'.repeat(width + 1)}:` : `${'-'.repeat(width + 2)}`)).join('|')}|`
    : widths.map((width) => '-'.repeat(width)).join('  ')
  return [line(header), rule, ...rows.map((row) => line(header.map((_, column) => row[column] ?? '')))].join('\n')
}
