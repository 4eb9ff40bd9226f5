/**
 * Raw calls (bytes in, status out, through a client with identity serializers) and what they
 * cost the process they run in: its RSS growth and the longest stall of its event loop. The test
 * server runs in the test's process, so a request that blocks the server's event loop while it
 * is decoded shows up here.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import v8 from 'node:v8'
import vm from 'node:vm'
import assert from 'node:assert/strict'
import * as grpc from '@grpc/grpc-js'
import { lseServiceName, type LseMethodName } from '../../src/protocol/proto-definition.ts'

export interface RawOutcome {
  code: grpc.status
  details: string
}

export interface RawCall {
  call: grpc.ClientUnaryCall
  outcome: Promise<RawOutcome>
}

const identity = (bytes: Buffer): Buffer => bytes

/** Sends `bytes` as a `method` request as they are. */
export function rawCall(client: grpc.Client, method: LseMethodName, bytes: Buffer, deadlineMs = 120_000): RawCall {
  let call!: grpc.ClientUnaryCall
  const outcome = new Promise<RawOutcome>((resolve) => {
    call = client.makeUnaryRequest(`/${lseServiceName}/${method}`, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error) =>
      resolve(error === null ? { code: grpc.status.OK, details: '' } : { code: error.code, details: error.details }),
    )
  })
  return { call, outcome }
}

export interface Cost {
  durationMs: number
  /** The highest RSS seen during the run (and at its end), less the RSS at its start. */
  rssGrowthBytes: number
  /** The longest the event loop went without running a timer, less the timer's period. */
  maxEventLoopDelayMs: number
}

/** Sampling period of the RSS and resolution of the event-loop delay, in ms. */
const periodMs = 5

/**
 * A full garbage collection: `global.gc` under node --expose-gc, and otherwise the same function
 * reached by setting the flag at run time (the test runner does not pass it), so that figures
 * are taken alike either way.
 */
export const collectGarbage: () => void =
  global.gc ??
  (() => {
    v8.setFlagsFromString('--expose-gc')
    return vm.runInNewContext('gc') as () => void
  })()

/**
 * Collects the garbage of what ran before and lets the process hand its pages back: V8 returns
 * freed pages only on a collection after the one that freed them.
 */
async function settle(): Promise<void> {
  collectGarbage()
  await sleep(50)
  collectGarbage()
}

/** Runs `work` and measures it. */
export async function measured<T>(work: () => Promise<T>): Promise<{ result: T } & Cost> {
  await settle()
  const rssBefore = process.memoryUsage.rss()
  let rssMax = rssBefore
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage.rss())
  }, periodMs)
  const delay = monitorEventLoopDelay({ resolution: periodMs })
  delay.enable()
  // The monitor records the time between two runs of its timer: it must have run once before
  // the work starts, or a stall at the start would be missed.
  await sleep(3 * periodMs)
  const started = performance.now()
  try {
    const result = await work()
    const durationMs = performance.now() - started
    // A stall that ends as the call does is recorded when the monitor's timer runs next.
    await sleep(2 * periodMs)
    rssMax = Math.max(rssMax, process.memoryUsage.rss())
    return { result, durationMs, rssGrowthBytes: rssMax - rssBefore, maxEventLoopDelayMs: delay.max / 1e6 }
  } finally {
    delay.disable()
    clearInterval(sampler)
  }
}

export const MiB = 1024 * 1024

export function describeCost(cost: Cost): string {
  return `${cost.durationMs.toFixed(0)} ms, RSS +${(cost.rssGrowthBytes / MiB).toFixed(1)} MiB, event loop stalled up to ${cost.maxEventLoopDelayMs.toFixed(0)} ms`
}

export function describeOutcome(outcome: RawOutcome): string {
  return outcome.details === '' ? grpc.status[outcome.code] : `${grpc.status[outcome.code]} (${outcome.details.slice(0, 100)})`
}

export interface CostBounds {
  rssGrowthMaxBytes: number
  eventLoopDelayMaxMs: number
}

export function assertCostWithin(label: string, cost: Cost, bounds: CostBounds): void {
  assert.ok(cost.rssGrowthBytes < bounds.rssGrowthMaxBytes, `${label}: RSS grew ${(cost.rssGrowthBytes / MiB).toFixed(1)} MiB`)
  assert.ok(cost.maxEventLoopDelayMs < bounds.eventLoopDelayMaxMs, `${label}: the event loop stalled ${cost.maxEventLoopDelayMs.toFixed(0)} ms`)
}
