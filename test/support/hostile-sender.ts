/**
 * Sends hostile requests as they are, through a raw grpc-js client with identity serializers,
 * with a bounded number of calls in flight, and tallies the statuses they get.
 */
import * as grpc from '@grpc/grpc-js'
import type { HostileRequest } from './hostile-requests.ts'

const S = grpc.status

/** A client that sends any size: the server, not the client, must refuse oversized messages. */
export function rawClient(address: string, channelOptions: grpc.ChannelOptions = {}): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, ...channelOptions })
}

export interface HostileOutcome {
  request: HostileRequest
  code: grpc.status
  details: string
}

const identity = (bytes: Buffer): Buffer => bytes

export function sendHostile(raw: grpc.Client, request: HostileRequest, deadlineMs: number): Promise<HostileOutcome> {
  return new Promise((resolve) => {
    const call = raw.makeUnaryRequest(request.path, identity, identity, request.bytes, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error) => {
      resolve({ request, code: error === null ? S.OK : error.code, details: error?.details ?? '' })
    })
    if (request.cancel === true) call.cancel()
  })
}

export interface SendOptions {
  count: number
  concurrency: number
  deadlineMs: number
  /** Asked before each request; true ends the run early (the requests in flight still finish). */
  shouldStop?: () => boolean
  /**
   * When set, each request over the transport's limit goes on a connection of its own to this
   * address, closed on its answer, so that the rest of its body does not crawl through the shared
   * connection behind every later call. Over a long run those bodies add up to more than one
   * connection carries (32 MiB a block, through a 64 KiB flow-control window), and the 6 MiB
   * requests of later blocks time out behind them.
   */
  ownConnectionAddress?: string
}

async function sendOnOwnConnection(address: string, request: HostileRequest, deadlineMs: number): Promise<HostileOutcome> {
  // A local subchannel pool: grpc-js would otherwise share the connection of the other clients.
  const own = rawClient(address, { 'grpc.use_local_subchannel_pool': 1 })
  try {
    return await sendHostile(own, request, deadlineMs)
  } finally {
    own.close()
  }
}

/** Sends up to `count` requests from `requests`, `concurrency` at a time; resolves to the number sent. */
export async function sendAll(
  raw: grpc.Client,
  requests: Iterator<HostileRequest>,
  options: SendOptions,
  onOutcome: (outcome: HostileOutcome) => void,
): Promise<number> {
  let sent = 0
  const worker = async (): Promise<void> => {
    while (sent < options.count && options.shouldStop?.() !== true) {
      const next = requests.next()
      if (next.done === true) return
      sent++
      const request = next.value
      const { ownConnectionAddress } = options
      onOutcome(
        await (request.overTransportLimit === true && ownConnectionAddress !== undefined
          ? sendOnOwnConnection(ownConnectionAddress, request, options.deadlineMs)
          : sendHostile(raw, request, options.deadlineMs)),
      )
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return sent
}

/** Counts of statuses by request kind, and the outcomes a request was not allowed to get. */
export class StatusTally {
  readonly byKind = new Map<string, number>()
  readonly byCode = new Map<string, number>()
  /** The first `examplesMax` unexpected outcomes, described. */
  readonly unexpected: string[] = []
  unexpectedCount = 0

  constructor(private readonly examplesMax = 20) {}

  record({ request, code, details }: HostileOutcome): void {
    const key = `${request.kind}: ${S[code]}`
    this.byKind.set(key, (this.byKind.get(key) ?? 0) + 1)
    this.byCode.set(S[code], (this.byCode.get(S[code]) ?? 0) + 1)
    if (request.expected.has(code)) return
    this.unexpectedCount++
    if (this.unexpected.length < this.examplesMax) {
      this.unexpected.push(`${request.kind} ${request.path} (${request.bytes.length} bytes) got ${S[code]}: ${details}`)
    }
  }

  /** One line a kind and status, sorted: `random bytes: OK ×47`. */
  summary(): string {
    return [...this.byKind]
      .sort()
      .map(([key, count]) => `${key} ×${count}`)
      .join('\n')
  }
}
