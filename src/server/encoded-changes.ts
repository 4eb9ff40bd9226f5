/**
 * Changes encoded once for every watcher: each is encoded as a WatchResponse of that one change,
 * and a response of many is their concatenation (a repeated field may be sent in any number of
 * pieces: the protobuf encoding of `changes: [a, b]` is that of `[a]` followed by that of `[b]`).
 *
 * With 100 watchers, encoding each change for each of them was most of what a watcher cost the
 * server; here the newest changes are kept encoded, by revision (with and without values), up
 * to `cacheMaxBytes` together, the oldest dropped first. A change is the same whoever watches
 * it: its value is the one its write stored (or `superseded`, which stays true once it is).
 */
import type { ChangeEvent } from '../protocol/watch-events.ts'
import { watchResponseToWire } from '../protocol/watch-events.ts'
import type { WatchResponse } from '../protocol/wire-types.ts'

/** Encodings larger than this are not kept: a large value is rarely watched by many at once. */
const cachedChangeMaxBytes = 64 * 1024

export class EncodedChanges {
  /** By revision: the encodings with values, and those without. */
  private readonly withValues = new Map<number, Buffer>()
  private readonly withoutValues = new Map<number, Buffer>()
  private cachedBytes = 0

  constructor(
    private readonly serialize: (response: WatchResponse) => Buffer,
    private readonly cacheMaxBytes: number,
  ) {}

  /** The encoded WatchResponse of `events` (changes, in order). */
  response(events: readonly ChangeEvent[], withValues: boolean): Buffer {
    if (events.length === 1) return this.change(events[0]!, withValues)
    return Buffer.concat(events.map((event) => this.change(event, withValues)))
  }

  private change(event: ChangeEvent, withValues: boolean): Buffer {
    const cache = withValues ? this.withValues : this.withoutValues
    const cached = cache.get(event.revision)
    if (cached !== undefined) return cached
    const bytes = this.serialize(watchResponseToWire([event]))
    if (bytes.length <= cachedChangeMaxBytes) {
      cache.set(event.revision, bytes)
      this.cachedBytes += bytes.length
      this.evict()
    }
    return bytes
  }

  /** Drops the oldest encodings (of either kind) while they take more than `cacheMaxBytes`. */
  private evict(): void {
    while (this.cachedBytes > this.cacheMaxBytes) {
      const oldestWith = this.withValues.keys().next()
      const oldestWithout = this.withoutValues.keys().next()
      const fromWith = oldestWithout.done === true || (oldestWith.done !== true && oldestWith.value < oldestWithout.value)
      const cache = fromWith ? this.withValues : this.withoutValues
      const revision = (fromWith ? oldestWith.value : oldestWithout.value) as number
      this.cachedBytes -= cache.get(revision)!.length
      cache.delete(revision)
    }
  }
}
