/**
 * What the store tells an observer as it writes: the events behind its durability costs, which
 * `stats()` cannot give as counts alone (how long each sync took, how many records each group
 * commit carried). A server exports them as metrics; the engine knows nothing of how.
 */

export interface StoreObserver {
  /** A segment file was synced (fdatasync, or fsync when it was sealed), taking `durationMs`. */
  onSync?(durationMs: number): void
  /**
   * A pass of the writer wrote `records` records: one group commit, made durable by one fdatasync
   * in `always` mode (in the other modes, one write to the OS).
   */
  onGroupCommit?(records: number): void
}

/**
 * `observer` with every method present, each of which never throws: an observer's failure is
 * reported to `onError` and dropped, because it must not fail the writer (which would then
 * refuse every write until the store is reopened).
 */
export function guardedObserver(observer: StoreObserver | undefined, onError: (error: unknown) => void): Required<StoreObserver> {
  const guard = <A extends unknown[]>(method: ((...args: A) => void) | undefined) => {
    if (method === undefined) return () => undefined
    return (...args: A): void => {
      try {
        method.apply(observer, args)
      } catch (error) {
        onError(error)
      }
    }
  }
  return { onSync: guard(observer?.onSync), onGroupCommit: guard(observer?.onGroupCommit) }
}
