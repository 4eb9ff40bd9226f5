/**
 * Small calls (GetStats) made to a server from another process while a test loads it, and their
 * latencies: what another client would see. A client in the test's own process could not send
 * while the server's event loop (the same loop) is busy, and would see nothing of a stall.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ProbeReport } from './small-call-probe.ts'

const childPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'small-call-probe.ts')

export class SmallCallProber {
  private constructor(private readonly child: ChildProcess) {}

  /** A prober of the server at `address`, ready to start; one call every `periodMs` once started. */
  static async open(address: string, periodMs = 50): Promise<SmallCallProber> {
    const child = fork(childPath, [address, String(periodMs)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => ['exited'])])) as [unknown]
    if (message !== 'ready') throw new Error(`the small-call prober did not start: ${String(message)}`)
    return new SmallCallProber(child)
  }

  /** Probes while `work` runs, and returns its result with the small calls' latencies. */
  async during<T>(work: () => Promise<T>): Promise<{ result: T; probes: ProbeReport }> {
    this.child.send('start')
    try {
      const result = await work()
      return { result, probes: await this.report() }
    } catch (error) {
      await this.report()
      throw error
    }
  }

  private async report(): Promise<ProbeReport> {
    this.child.send('report')
    const [report] = (await once(this.child, 'message')) as [ProbeReport]
    return report
  }

  async close(): Promise<void> {
    const exited = once(this.child, 'exit')
    this.child.send('exit')
    await exited
  }
}
