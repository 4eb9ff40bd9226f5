/**
 * A latency probe: a cheap read (GetStats) every 100 ms, one at a time, on a connection of its
 * own, so that it does not queue behind the hostile calls on theirs. What a well-behaved client
 * waits while the server is flooded: a stall of the server's event loop shows as a slow probe.
 */
import { StratumClient } from '../../src/client/index.ts'

export class LatencyProbe {
  readonly latenciesMs: number[] = []
  readonly failures: string[] = []
  private readonly client: StratumClient
  private stopped = false
  private wake: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly loop: Promise<void>

  constructor(address: string, private readonly intervalMs = 100, private readonly deadlineMs = 30_000) {
    // A local subchannel pool: grpc-js would otherwise share one connection among clients.
    this.client = new StratumClient(address, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } })
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = performance.now()
      try {
        await this.client.getStats({ deadlineMs: this.deadlineMs })
        this.latenciesMs.push(performance.now() - started)
      } catch (error) {
        this.failures.push(String(error))
      }
      const waitMs = this.intervalMs - (performance.now() - started)
      if (waitMs > 0 && !this.stopped) {
        await new Promise<void>((resolve) => {
          this.wake = resolve
          this.timer = setTimeout(resolve, waitMs)
        })
      }
    }
  }

  /** Latencies since `from` (an index into `latenciesMs`), to report a window of the run. */
  maxSince(from: number): number {
    let max = 0
    for (let index = from; index < this.latenciesMs.length; index++) max = Math.max(max, this.latenciesMs[index]!)
    return max
  }

  /** Ends the probe once its call in flight, if any, is answered. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.wake?.()
    await this.loop
    this.client.close()
  }
}
