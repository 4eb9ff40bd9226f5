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
  private readonly cache = new Map<string, Buffer>()
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
    const key = `${event.revision}${withValues ? 'v' : ''}`
    const cached = this.cache.get(key)
    if (cached !== undefined) return cached
    const bytes = this.serialize(watchResponseToWire([event]))
    if (bytes.length <= cachedChangeMaxBytes) {
      this.cache.set(key, bytes)
      this.cachedBytes += bytes.length
      for (const [oldKey, oldBytes] of this.cache) {
        if (this.cachedBytes <= this.cacheMaxBytes) break
        this.cache.delete(oldKey)
        this.cachedBytes -= oldBytes.length
      }
    }
    return bytes
  }
}
