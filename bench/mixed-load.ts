/**
 * A mixed load for the stall measurements of the engine benchmark: random reads and durable
 * writes, each arriving at a fixed rate (open loop), until a promise settles (the end of a
 * compaction, or of a timer).
 *
 * Operation k of a stream is due at the start + k × its interval and is issued then, whatever is
 * still in flight (for writes, the group commit takes all those in flight together); its latency
 * runs from when it was due to its completion. An operation due while the event loop was held up
 * (by a slice of compaction work on the main thread, say) thus counts the wait, as a request
 * arriving then would see it; a closed loop would issue fewer operations during a stall and never
 * see it. A fixed rate also makes the garbage the writes leave independent of how fast the disk
 * syncs. Each stream sleeps until its next operation is due (a timer: Node's timers fire to the
 * millisecond, so operations due within one are issued together), and when late issues up to 32
 * due operations back to back before yielding. Each operation's service time (issue to
 * completion) is recorded too.
 */
import { percentile, sortedLatencies, type Sample } from './measure.ts'

export interface MixedLoadOptions {
  read: () => unknown
  write: () => Promise<unknown>
  readsPerSecond: number
  writesPerSecond: number
  /** No operation is issued once this has settled; those in flight are waited for. */
  until: Promise<unknown>
}

export interface MixedLoadSample {
  /** Latency from when each operation was due. */
  reads: Sample
  writes: Sample
  /** Latency from when each operation was issued to its completion. */
  readService: Sample
  writeService: Sample
  /** The most operations in flight at once. */
  readsInFlightMax: number
  writesInFlightMax: number
}

/** Operations issued back to back, when late, before a stream yields to the event loop. */
const catchUpMax = 32

/**
 * Waits until `due` (a performance.now() time) with a timer, or for one turn of the event loop
 * when it is already past. A timer, not a poll: a stream that polled with setImmediate would keep
 * the event loop's thread busy all the time, and on a 2-core machine, with the compaction worker
 * on the other core, nothing would be left for the thread pool's syncs and the kernel: the
 * benchmark would measure its own spinning.
 */
function until(due: number): Promise<void> {
  const waitMs = due - performance.now()
  return new Promise((resolve) => (waitMs > 0 ? setTimeout(resolve, waitMs) : setImmediate(resolve)))
}

interface Stream {
  due: number[]
  service: number[]
  inFlightMax: number
}

export async function runMixedLoad(options: MixedLoadOptions): Promise<MixedLoadSample> {
  let stopped = false
  const stop = options.until.then(
    () => {
      stopped = true
    },
    () => {
      stopped = true
    },
  )
  let failure: unknown
  const started = performance.now()

  /** Issues `operation` every `intervalMs` from the start until stopped; resolves when all are done. */
  const stream = async (intervalMs: number, operation: () => unknown): Promise<Stream> => {
    const result: Stream = { due: [], service: [], inFlightMax: 0 }
    const inFlight = new Set<Promise<void>>()
    let due = started
    // Bounded by `until`.
    while (!stopped) {
      for (let burst = 0; burst < catchUpMax && !stopped; burst++) {
        const issued = performance.now()
        if (issued < due) break
        const scheduled = due
        due += intervalMs
        const record = (): void => {
          const done = performance.now()
          result.due.push((done - scheduled) * 1000)
          result.service.push((done - issued) * 1000)
        }
        const pending = operation()
        if (pending instanceof Promise) {
          const tracked: Promise<void> = pending.then(record, (error: unknown) => {
            failure ??= error
          })
          inFlight.add(tracked)
          void tracked.then(() => inFlight.delete(tracked))
          result.inFlightMax = Math.max(result.inFlightMax, inFlight.size)
        } else record()
      }
      await until(due)
    }
    await Promise.all(inFlight)
    return result
  }

  const [reads, writes] = await Promise.all([stream(1000 / options.readsPerSecond, options.read), stream(1000 / options.writesPerSecond, options.write)])
  await stop
  if (failure !== undefined) throw failure
  const elapsedSeconds = (performance.now() - started) / 1000
  const sample = (latencies: number[]): Sample => ({ latenciesMicros: Float64Array.from(latencies), operations: latencies.length, elapsedSeconds })
  return {
    reads: sample(reads.due),
    writes: sample(writes.due),
    readService: sample(reads.service),
    writeService: sample(writes.service),
    readsInFlightMax: reads.inFlightMax,
    writesInFlightMax: writes.inFlightMax,
  }
}

export interface LatencySummary {
  count: number
  p50Micros: number
  p99Micros: number
  maxMicros: number
}

/** Percentiles over all the latencies of several samples. */
export function summarizeLatencies(samples: readonly Sample[]): LatencySummary {
  const sorted = sortedLatencies(samples)
  const count = sorted.length
  return {
    count,
    p50Micros: percentile(sorted, 0.5),
    p99Micros: percentile(sorted, 0.99),
    maxMicros: count === 0 ? Number.NaN : sorted[count - 1]!,
  }
}
