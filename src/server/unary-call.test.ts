/**
 * The admission rules of every call (unary-call.ts), on fake calls: a call whose deadline passed
 * or that was cancelled is not executed; a malformed request gets its own status; shutdown
 * answers UNAVAILABLE; a bug is INTERNAL and logged.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js'
import { pino } from 'pino'
import { StratumError } from '../engine/index.ts'
import { ShutdownGate } from './call-gate.ts'
import { MalformedRequest } from './strict-requests.ts'
import { unaryCall } from './unary-call.ts'

interface Outcome {
  error: { code?: status; details?: string } | null
  response: unknown
}

function fakeCall(request: unknown, options: { deadline?: Date | number; cancelled?: boolean } = {}): ServerUnaryCall<unknown, unknown> {
  return {
    request,
    cancelled: options.cancelled ?? false,
    getDeadline: () => options.deadline ?? Infinity,
  } as unknown as ServerUnaryCall<unknown, unknown>
}

function memoryLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk))
      callback()
    },
  })
  const logger = pino({ level: 'info' }, stream)
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) }
}

function invoke(
  handler: (request: unknown) => Promise<unknown>,
  call: ServerUnaryCall<unknown, unknown>,
  gate = new ShutdownGate(),
  logger = pino({ level: 'silent' }),
): Promise<Outcome> {
  return new Promise((resolve) => {
    const callback: sendUnaryData<unknown> = (error, response) => resolve({ error: error as Outcome['error'], response })
    unaryCall('TestMethod', handler, gate, logger)(call, callback)
  })
}

describe('unaryCall', () => {
  it('runs the handler and answers its response', async () => {
    const outcome = await invoke(async (request) => ({ echoed: request }), fakeCall('ping'))
    assert.equal(outcome.error, null)
    assert.deepEqual(outcome.response, { echoed: 'ping' })
  })

  it('does not execute a call whose deadline passed', async () => {
    let executed = false
    const handler = async () => {
      executed = true
      return {}
    }
    for (const deadline of [new Date(Date.now() - 1), Date.now() - 1000, 0]) {
      const outcome = await invoke(handler, fakeCall({}, { deadline }))
      assert.equal(outcome.error?.code, status.DEADLINE_EXCEEDED)
      assert.match(outcome.error?.details ?? '', /not executed/)
    }
    assert.equal(executed, false)
    const future = await invoke(handler, fakeCall({}, { deadline: Date.now() + 60_000 }))
    assert.equal(future.error, null)
    assert.equal(executed, true)
  })

  it('does not execute a call cancelled before it started', async () => {
    let executed = false
    const outcome = await invoke(
      async () => {
        executed = true
        return {}
      },
      fakeCall({}, { cancelled: true }),
    )
    assert.equal(outcome.error?.code, status.CANCELLED)
    assert.equal(executed, false)
  })

  it('answers a malformed request with its status without executing it', async () => {
    const outcome = await invoke(async () => assert.fail('executed'), fakeCall(new MalformedRequest(status.RESOURCE_EXHAUSTED, 'too big')))
    assert.deepEqual(outcome.error, { code: status.RESOURCE_EXHAUSTED, details: 'too big' })
  })

  it('answers UNAVAILABLE once shutdown began, and shutdown waits for calls in flight', async () => {
    const gate = new ShutdownGate()
    let release!: () => void
    const slow = invoke(() => new Promise((resolve) => (release = () => resolve({ done: true }))), fakeCall({}), gate)
    assert.equal(gate.callsInFlight, 1)
    let drained = false
    const closing = gate.close().then(() => (drained = true))
    const late = await invoke(async () => assert.fail('executed'), fakeCall({}), gate)
    assert.equal(late.error?.code, status.UNAVAILABLE)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(drained, false, 'shutdown waits for the call in flight')
    release()
    assert.deepEqual((await slow).response, { done: true })
    await closing
    assert.equal(drained, true)
  })

  it('maps engine errors through the status table', async () => {
    const outcome = await invoke(async () => {
      throw new StratumError('LIMIT_EXCEEDED', 'value is 5 bytes; valueMaxBytes is 4')
    }, fakeCall({}))
    assert.equal(outcome.error?.code, status.RESOURCE_EXHAUSTED)
    assert.equal(outcome.error?.details, 'value is 5 bytes; valueMaxBytes is 4')
  })

  it('answers a bug INTERNAL and logs it loudly, with its stack', async () => {
    const { logger, lines } = memoryLogger()
    const outcome = await invoke(
      async () => {
        throw new TypeError('cannot read properties of undefined')
      },
      fakeCall({}),
      new ShutdownGate(),
      logger,
    )
    assert.equal(outcome.error?.code, status.INTERNAL)
    assert.doesNotMatch(outcome.error?.details ?? '', /cannot read/, 'the client is not shown internals')
    const [line] = lines()
    assert.equal(line?.level, 50)
    assert.equal(line?.method, 'TestMethod')
    assert.match(line?.msg as string, /BUG/)
    assert.match(JSON.stringify(line?.err), /TypeError[\s\S]*cannot read/)
  })
})
