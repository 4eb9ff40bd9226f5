/**
 * Admission of calls: open until shutdown begins, and a count of the calls in flight so that
 * shutdown can wait for them before it closes the store.
 */
import type { CallGate } from './unary-call.ts'

export class ShutdownGate implements CallGate {
  private open = true
  private inFlight = 0
  private onDrained: (() => void) | undefined

  get accepting(): boolean {
    return this.open
  }

  get callsInFlight(): number {
    return this.inFlight
  }

  track(done: Promise<void>): void {
    this.inFlight++
    void done.finally(() => {
      this.inFlight--
      if (this.inFlight === 0) this.onDrained?.()
    })
  }

  /** Stops admitting calls; resolves when the calls in flight have answered. */
  close(): Promise<void> {
    this.open = false
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.onDrained = resolve
    })
  }
}
