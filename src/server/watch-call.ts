/**
 * The Watch RPC: a store watch (src/engine/watch.ts) streamed to a client, each WatchResponse
 * carrying the changes ready when it is sent (those of a group commit, typically: a watcher
 * costs the server one message per group commit, not per write), or progress.
 *
 * The next changes are taken from the store only once the call has handed the last ones to HTTP/2
 * (the write's callback), so a client that reads slowly holds one response in the server; what
 * it has not read yet waits in the store's change history, shared by every watcher, and the
 * watch ends with RESOURCE_EXHAUSTED (the engine's LIMIT_EXCEEDED) if the history drops a change
 * before it was read. A response its client does not take at all is dropped after
 * responseSendTimeoutMs (response-delivery.ts), which ends the call.
 *
 * When the server stops, every watch is ended with UNAVAILABLE, naming the revision to resume
 * from, before the transport waits for the calls still open: a watch never ends by itself.
 */
import * as grpc from '@grpc/grpc-js'
import type { Logger } from 'pino'
import type { ChangeEvent, Store, Watch, WatchOptions } from '../engine/index.ts'
import { watchProgressIntervalDefaultMs, watchProgressIntervalMaxMs, watchProgressIntervalMinMs, watchResponseToWire } from '../protocol/watch-events.ts'
import { EncodedChanges } from './encoded-changes.ts'
import type { WatchRequest, WatchResponse } from '../protocol/wire-types.ts'
import { invalidArgument, toStatus } from './call-error.ts'
import type { CallGate, RequestRelease } from './unary-call.ts'
import { idOf } from './request-fields.ts'
import { MalformedRequest } from './strict-requests.ts'

const method = 'Watch'
/** Most changes in one response. */
export const watchResponseMaxChanges = 1000
/** A response takes no change that would bring its records past this (with values; at least one change). */
export const watchResponseMaxBytes = 1024 * 1024

/** Memory for changes kept encoded for every watcher (encoded-changes.ts). */
const encodedChangesCacheBytes = 8 * 1024 * 1024

/** A response, or its encoding (the Watch method's serializer passes a Buffer through). */
type WatchCall = grpc.ServerWritableStream<WatchRequest | MalformedRequest, WatchResponse | Buffer>

export class WatchCalls {
  /** Ends each open watch, for the server's shutdown. */
  private readonly open = new Set<(details: string) => void>()
  /** The server is stopping: new watches are refused. */
  private stopped = false

  private readonly encoded: EncodedChanges

  constructor(
    private readonly store: Store,
    private readonly gate: CallGate,
    private readonly memory: RequestRelease,
    private readonly logger: Logger,
    serialize: (response: WatchResponse) => Buffer,
  ) {
    this.encoded = new EncodedChanges(serialize, encodedChangesCacheBytes)
  }

  /** The Watch method's response serializer: a Buffer (changes encoded here) goes as it is. */
  static responseSerializer(serialize: (response: WatchResponse) => Buffer): (response: WatchResponse | Buffer) => Buffer {
    return (response) => (Buffer.isBuffer(response) ? response : serialize(response))
  }

  handler(): grpc.handleServerStreamingCall<WatchRequest | MalformedRequest, WatchResponse | Buffer> {
    return (call) => void this.serve(call)
  }

  /** Ends every open watch with UNAVAILABLE, and refuses new ones: the server is stopping. */
  stop(): void {
    this.stopped = true
    for (const end of [...this.open]) end('the server is shutting down')
  }

  private async serve(call: WatchCall): Promise<void> {
    const request = call.request
    if (request instanceof MalformedRequest) {
      call.emit('error', { code: request.code, details: request.details })
      return
    }
    this.memory.release(request)
    if (this.stopped || !this.gate.accepting) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' })
      return
    }
    let watch: Watch
    try {
      watch = this.store.watch(watchOptionsOf(request))
    } catch (error) {
      call.emit('error', toStatus(error, method, this.logger))
      return
    }
    /** The next revision the client has not received: where it resumes. */
    let resumeFrom = Number(request.fromRevision) || this.store.revision + 1
    // A watch from now first says from where: a client whose stream breaks before any change
    // can then resume without missing the writes made meanwhile.
    if (request.fromRevision === '0') call.write(watchResponseToWire([{ kind: 'progress', revision: resumeFrom - 1 }]))
    let ended = false
    const end = (details: string): void => {
      if (ended) return
      ended = true
      watch.close()
      call.emit('error', {
        code: grpc.status.UNAVAILABLE,
        details:
          `${details}: every change up to revision ${resumeFrom - 1} was streamed; watch again from revision ${resumeFrom} ` +
          '(OUT_OF_RANGE only if a compaction reclaimed it: then read the current state first)',
      })
    }
    this.open.add(end)
    const cancelled = new Promise<void>((resolve) => call.once('cancelled', resolve))
    void cancelled.then(() => {
      ended = true
      watch.close()
    })
    try {
      for await (const event of watch) {
        if (ended) break
        const events = event.kind === 'change' ? [event, ...watch.takeReady(watchResponseMaxChanges - 1, watchResponseMaxBytes)] : [event]
        const response = event.kind === 'change' ? this.encoded.response(events as ChangeEvent[], request.withValues) : watchResponseToWire(events)
        await Promise.race([new Promise<void>((resolve) => call.write(response, () => resolve())), cancelled])
        // A progress event says every change up to its revision was streamed too.
        resumeFrom = Math.max(resumeFrom, events[events.length - 1]!.revision + 1)
      }
      // The loop ends only when the watch was closed: by a cancel, or by `end`, which answered.
    } catch (error) {
      if (!ended) {
        ended = true
        call.emit('error', toStatus(error, method, this.logger))
      }
    } finally {
      this.open.delete(end)
      watch.close()
    }
  }
}

/** The engine's options of a WatchRequest; INVALID_ARGUMENT for malformed ids. */
function watchOptionsOf(request: WatchRequest): WatchOptions {
  const options: { -readonly [Key in keyof WatchOptions]: WatchOptions[Key] } = { withValues: request.withValues }
  if (request.fromRevision !== '0') options.fromRevision = revisionOf(request.fromRevision)
  if (request.problemId !== '0') options.problemId = idOf(request.problemId, 'problem_id')
  if (request.progressIntervalMs !== 0) {
    if (request.progressIntervalMs < watchProgressIntervalMinMs || request.progressIntervalMs > watchProgressIntervalMaxMs) {
      throw invalidArgument(
        `progress_interval_ms must be from ${watchProgressIntervalMinMs} to ${watchProgressIntervalMaxMs} (0 for the default, ${watchProgressIntervalDefaultMs}), got ${request.progressIntervalMs}`,
      )
    }
    options.progressIntervalMs = request.progressIntervalMs
  }
  return options
}

function revisionOf(text: string): number {
  const revision = Number(text)
  if (!Number.isSafeInteger(revision)) throw invalidArgument(`from_revision must be below 2^53, got ${text}`)
  return revision
}
