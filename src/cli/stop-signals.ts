/**
 * The signals that stop the server, SIGTERM and SIGINT: the first one starts the shutdown, any
 * later one is only reported.
 *
 * One listener per signal stays installed from before the first signal until the shutdown is
 * over. With none, Node's default action applies and kills the process mid-shutdown; and a second
 * signal often follows the first at once: Ctrl-C under `npm start` delivers SIGINT both from the
 * terminal and forwarded by npm.
 */
const stopSignals = ['SIGTERM', 'SIGINT'] as const

export interface StopSignals {
  /** Resolves to the first signal received. */
  readonly first: Promise<NodeJS.Signals>
  /** Removes the listeners: signals get their default action again. */
  dispose(): void
}

/** Listens for SIGTERM and SIGINT; `onRepeat` hears of every signal after the first. */
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
  return {
    first,
    dispose() {
      for (const signal of stopSignals) process.off(signal, listener)
    },
  }
}
