/**
 * The client side of the Watch RPC: the server's stream of WatchResponse messages as an async
 * iterator of events (src/protocol/watch-events.ts).
 *
 *   for await (const event of client.watch({ problemId, withValues: true })) { … }
 *
 * A response may carry many changes; they are given one at a time. While the loop body runs, grpc-js buffers a few responses and
 * then stops reading, so HTTP/2 flow control holds the server back rather than this process's
 * memory growing. The server's error ends the loop with a StratumClientError (OUT_OF_RANGE, from
 * a revision no longer held; RESOURCE_EXHAUSTED, fell behind; UNAVAILABLE, the server stopped:
 * watch again from `resumeFrom`). Leaving the loop, or `cancel()`, cancels the call.
 */
import type * as grpc from '@grpc/grpc-js'
import { watchEventsFromWire, WatchResponseError, type WatchEvent } from '../protocol/watch-events.ts'
import type { WatchResponse } from '../protocol/wire-types.ts'
import { WireValueError } from '../protocol/value-wire.ts'
import { StratumClientError, StatusCode } from './client-error.ts'

const method = 'Watch'

export class WatchStream implements AsyncIterableIterator<WatchEvent> {
  private readonly responses: AsyncIterator<WatchResponse>
  private cancelled = false
  private resumeFromRevision: number
  /** Events of the last response not given yet. */
  private pending: WatchEvent[] = []
  /** Serializes `next()` calls, as an async iterator must: two at once would share a response. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly call: grpc.ClientReadableStream<WatchResponse>,
    fromRevision: number | undefined,
  ) {
    this.responses = call[Symbol.asyncIterator]() as AsyncIterator<WatchResponse>
    this.resumeFromRevision = fromRevision ?? 0
  }

  /**
   * The revision to watch from to resume where this stream ended: the last revision it gave
   * (a change or progress) + 1; until it gave one, the revision it started from (0 for "now").
   */
  get resumeFrom(): number {
    return this.resumeFromRevision
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const result = this.queue.then(() => this.pull())
    this.queue = result.catch(() => undefined)
    return result
  }

  private async pull(): Promise<IteratorResult<WatchEvent>> {
    const waiting = this.pending.shift()
    if (waiting !== undefined) return this.give(waiting)
    let result: IteratorResult<WatchResponse>
    try {
      result = await this.responses.next()
    } catch (error) {
      if (this.cancelled) return { done: true, value: undefined }
      throw StratumClientError.fromServiceError(method, error as grpc.ServiceError)
    }
    if (result.done === true) return { done: true, value: undefined }
    let events: WatchEvent[]
    try {
      events = watchEventsFromWire(result.value)
    } catch (error) {
      // The server sent what is not an event: its fault, not the caller's.
      if (error instanceof WatchResponseError || error instanceof WireValueError) {
        this.cancel()
        throw new StratumClientError(method, StatusCode.INTERNAL, `the server sent a response that is not an event: ${error.message}`)
      }
      throw error
    }
    this.pending = events
    return this.give(this.pending.shift()!)
  }

  private give(event: WatchEvent): IteratorResult<WatchEvent> {
    this.resumeFromRevision = Math.max(this.resumeFromRevision, event.revision + 1)
    return { done: false, value: event }
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.cancel()
    return Promise.resolve({ done: true, value: undefined })
  }

  /** Ends the watch: the call is cancelled and the loop ends. */
  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.call.cancel()
  }
}
