/**
 * Hostile input: 10,000 malformed or random requests through a raw grpc-js client that sends
 * bytes as they are (identity serializers): random bytes to every method, fields of the wrong
 * wire type, truncated and bit-flipped encodings, unknown ids, malformed ids, test cases named
 * with other problems, unknown methods, oversized messages, and calls cancelled as they start
 * (test/support/hostile-requests.ts; `npm run fuzz` sends a million of them).
 *
 * Each must get a proper status (INTERNAL, UNKNOWN and timeouts never appear), the server must
 * stay up, and the stored data must be exactly what it was before.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { StratumClient } from '../../src/client/index.ts'
import { startServer, type RunningServer } from '../../src/server/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import fs from 'node:fs'
import { defaultHostileSeed, hostileRequests } from '../support/hostile-requests.ts'
import { rawClient, sendAll, StatusTally } from '../support/hostile-sender.ts'
import { seedHostileData, snapshotStore, type SeededData } from '../support/hostile-store.ts'

const requestCount = 10_000
const concurrency = 32
const callDeadlineMs = 30_000

describe('hostile input', () => {
  let server: RunningServer
  let client: StratumClient
  let dir: string
  const errorLog: string[] = []
  let seeded: SeededData

  before(async () => {
    dir = makeTempDir('hostile')
    const logStream = new Writable({
      write(chunk, _encoding, callback) {
        errorLog.push(String(chunk))
        callback()
      },
    })
    server = await startServer({ host: '127.0.0.1', port: 0, store: { dir, syncMode: 'none' }, logger: pino({ level: 'error' }, logStream) })
    client = new StratumClient(server.address)
    seeded = await seedHostileData(client)
  })

  after(async () => {
    client.close()
    await server.shutdown()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it(`answers ${requestCount.toLocaleString('en')} hostile requests properly, stays up, and changes nothing`, { timeout: 150_000 }, async () => {
    const before = await snapshotStore(client)
    const raw = rawClient(server.address)
    const tally = new StatusTally()
    let sent: number
    try {
      sent = await sendAll(raw, hostileRequests(seeded, defaultHostileSeed), { count: requestCount, concurrency, deadlineMs: callDeadlineMs }, (outcome) => tally.record(outcome))
    } finally {
      raw.close()
    }
    assert.equal(sent, requestCount)
    const summary = tally.summary()
    if (process.env.HOSTILE_SUMMARY !== undefined) console.log(summary)
    assert.deepEqual(tally.unexpected, [], `unexpected statuses:\n${summary}`)
    for (const key of tally.byKind.keys()) assert.doesNotMatch(key, /INTERNAL|UNKNOWN|DEADLINE_EXCEEDED|UNAVAILABLE/, summary)

    // Still up, and nothing changed.
    assert.equal((await client.getStats({ deadlineMs: 5000 })).storeStatus, 'open')
    assert.deepEqual(await snapshotStore(client), before)
    assert.deepEqual(errorLog, [], 'no error was logged')
  })
})
