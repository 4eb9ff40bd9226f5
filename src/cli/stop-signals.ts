/**
 * The signals that stop the server, SIGTERM and SIGINT: the first one starts the shutdown, any
 * later one is only reported.
 *
 * One listener per signal stays installed from before the first signal until the process exits,
 * and is never removed. With none, Node's default action applies and kills the process, and a
 * second signal often follows the first, sometimes late: Ctrl-C under `npm start` delivers SIGINT
 * both from the terminal and forwarded by npm, and on a busy machine npm's copy can arrive after
 * the shutdown is over, while the process is still draining its event loop. Killed by it then, the
 * server would die by the signal and npm would report the graceful stop as a failure. The
 * listeners do not keep the process alive (Node does not count signal handles).
 */
const stopSignals = ['SIGTERM', 'SIGINT'] as const

export interface StopSignals {
  /** Resolves to the first signal received. */
  readonly first: Promise<NodeJS.Signals>
}

/** Listens for SIGTERM and SIGINT for the rest of the process; `onRepeat` hears of every signal after the first. */
export function listenForStopSignals(onRepeat: (signal: NodeJS.Signals) => void): StopSignals {
  let received = false
  let resolveFirst!: (signal: NodeJS.Signals) => void
  const first = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve))
  const listener = (signal: NodeJS.Signals): void => {
    if (received) return onRepeat(signal)
    received = true
    resolveFirst(signal)
  }
  for (const signal of stopSignals) process.on(signal, listener)
  return { first }
}
