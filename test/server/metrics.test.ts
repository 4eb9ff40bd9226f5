/**
 * The Prometheus endpoint: a scrape is valid by Prometheus' own checker (`promtool check
 * metrics`, Debian package `prometheus`), counts every call by method and status (refused ones
 * included), reads the store's stats fresh at each scrape, observes syncs and group commits, and
 * answers /metrics only. A metrics port in use fails the start and leaves nothing listening.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { StratumClient, StratumClientError } from '../../src/client/index.ts'
import { int64 } from '../../src/engine/index.ts'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { newToken, startServer, type RunningServer } from '../../src/server/index.ts'
import { MetricsListenError } from '../../src/server/metrics-endpoint.ts'
import { makeTempDir } from '../support/fixture.ts'

const dir = makeTempDir('metrics')
const admin = newToken('admin', 'operators')
let server: RunningServer
let client: StratumClient
let anonymous: StratumClient

before(async () => {
  const tokenFile = path.join(dir, 'tokens')
  fs.writeFileSync(tokenFile, `${admin.line}\n`)
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    // `always`: every acknowledged write has been through an fdatasync the observer timed.
    store: { dir: path.join(dir, 'store'), syncMode: 'always' },
    authTokensFile: tokenFile,
    metrics: { host: '127.0.0.1', port: 0 },
  })
  client = new StratumClient(server.address, { token: admin.token, defaultDeadlineMs: 5000 })
  anonymous = new StratumClient(server.address, { defaultDeadlineMs: 5000 })
})

after(async () => {
  client.close()
  anonymous.close()
  await server.shutdown()
  fs.rmSync(dir, { recursive: true, force: true })
})

const method = (name: string): string => `${lseServiceName}/${name}`

async function scrape(): Promise<string> {
  const response = await fetch(`http://${server.metricsAddress}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return response.text()
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = new Map([...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1]!, pair[2]!]))
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) return Number(match[3])
  }
  return undefined
}

function requests(text: string, name: string, code: string): number {
  return sample(text, 'stratum_rpc_requests_total', { method: method(name), code }) ?? 0
}

/** promtool's verdict on `text`: its exit code and what it wrote. */
function promtoolCheck(text: string): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += String(chunk)))
    child.stderr.on('data', (chunk) => (output += String(chunk)))
    child.on('error', (error) => reject(new Error(`promtool (Debian package prometheus) is needed: ${error.message}`)))
    child.on('close', (exitCode) => resolve({ exitCode, output }))
    child.stdin.end(text)
  })
}

/** Resolves when `call` fails with `code`. */
async function refusedWith(call: Promise<unknown>, code: grpc.status): Promise<void> {
  await assert.rejects(call, (error: unknown) => error instanceof StratumClientError && error.code === code)
}

/** A GetProblemHtml request whose bytes are not a message (a varint cut short). */
function sendMalformed(): Promise<grpc.status> {
  const raw = new grpc.Client(server.address, grpc.credentials.createInsecure())
  const identity = (bytes: Buffer): Buffer => bytes
  const metadata = new grpc.Metadata()
  metadata.set('authorization', `Bearer ${admin.token}`)
  return new Promise((resolve) => {
    raw.makeUnaryRequest(`/${method('GetProblemHtml')}`, identity, identity, Buffer.from([0x08, 0xff]), metadata, (error) => {
      raw.close()
      resolve(error === null ? grpc.status.OK : error.code)
    })
  })
}

describe('metrics', () => {
  it('serves a scrape that promtool finds valid, counting calls by method and status and the store as it is', async () => {
    const problems = await Promise.all(['a', 'b', 'c'].map((html) => client.createProblem(html)))
    await client.addTestCase(problems[0]!, int64(7))
    assert.equal(await client.getProblemHtml(problems[1]!), 'b')
    await refusedWith(client.getProblemHtml(999_999), grpc.status.NOT_FOUND)
    await refusedWith(anonymous.getStats(), grpc.status.UNAUTHENTICATED)
    assert.equal(await sendMalformed(), grpc.status.INVALID_ARGUMENT)
    await client.flush()

    const text = await scrape()
    const verdict = await promtoolCheck(text)
    assert.deepEqual(verdict, { exitCode: 0, output: '' }, `promtool check metrics:\n${verdict.output}`)

    assert.equal(requests(text, 'CreateProblem', 'OK'), 3)
    assert.equal(requests(text, 'AddTestCase', 'OK'), 1)
    assert.equal(requests(text, 'GetProblemHtml', 'OK'), 1)
    assert.equal(requests(text, 'GetProblemHtml', 'NOT_FOUND'), 1)
    assert.equal(requests(text, 'GetProblemHtml', 'INVALID_ARGUMENT'), 1)
    assert.equal(requests(text, 'GetStats', 'UNAUTHENTICATED'), 1, 'a call the token check refused is counted')
    assert.equal(requests(text, 'Flush', 'OK'), 1)
    assert.equal(sample(text, 'stratum_rpc_duration_seconds_count', { method: method('CreateProblem') }), 3)
    assert.equal(sample(text, 'stratum_rpc_duration_seconds_count', { method: method('GetProblemHtml') }), 3)

    assert.equal(sample(text, 'stratum_documents'), problems.length)
    assert.equal(sample(text, 'stratum_input_nodes'), 1)
    assert.equal(sample(text, 'stratum_output_nodes'), 0)
    assert.ok(sample(text, 'stratum_segments')! >= 1)
    assert.ok(sample(text, 'stratum_live_bytes')! > 0)
    assert.equal(sample(text, 'stratum_disk_bytes'), sample(text, 'stratum_live_bytes')! + sample(text, 'stratum_dead_bytes')!)
    const fsyncs = sample(text, 'stratum_fsyncs_total')!
    assert.ok(fsyncs > 0)
    assert.equal(sample(text, 'stratum_fsync_duration_seconds_count'), fsyncs)
    // Four writes (and the id watermark written on open), each acknowledged after its commit.
    assert.ok(sample(text, 'stratum_group_commit_records_count')! > 0)
    assert.ok(sample(text, 'stratum_group_commit_records_sum')! >= 4)
    assert.equal(sample(text, 'stratum_compaction_runs_total'), 0)
    assert.ok(sample(text, 'stratum_last_recovery_duration_seconds')! >= 0)
    assert.ok(sample(text, 'stratum_process_cpu_user_seconds_total')! > 0, 'process metrics are there')
  })

  it('reads fresh values at each scrape: counters move after calls', async () => {
    const before = await scrape()
    await client.createProblem('d')
    await refusedWith(client.getProblemHtml(999_998), grpc.status.NOT_FOUND)
    const afterCalls = await scrape()
    assert.equal(requests(afterCalls, 'CreateProblem', 'OK'), requests(before, 'CreateProblem', 'OK') + 1)
    assert.equal(requests(afterCalls, 'GetProblemHtml', 'NOT_FOUND'), requests(before, 'GetProblemHtml', 'NOT_FOUND') + 1)
    assert.equal(sample(afterCalls, 'stratum_documents'), sample(before, 'stratum_documents')! + 1)
    assert.ok(sample(afterCalls, 'stratum_fsyncs_total')! > sample(before, 'stratum_fsyncs_total')!)
    assert.ok(sample(afterCalls, 'stratum_group_commit_records_count')! > sample(before, 'stratum_group_commit_records_count')!)
  })

  it('is documented: docs/operations.md lists each of its metrics with its type', async () => {
    const operations = fs.readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')
    const documented = new Map([...operations.matchAll(/^\| `(stratum_[a-z_]+)(?:\{[^}]*\})?` \| (counter|gauge|histogram) \|/gm)].map((row) => [row[1]!, row[2]!]))
    const served = new Map([...(await scrape()).matchAll(/^# TYPE (stratum_[a-z_]+) (\w+)$/gm)].map((line) => [line[1]!, line[2]!]))
    const processMetric = /^stratum_(process|nodejs)_/
    assert.deepEqual(documented, new Map([...served].filter(([name]) => !processMetric.test(name))))
    assert.ok([...served.keys()].some((name) => processMetric.test(name)))
  })

  it('answers /metrics only', async () => {
    const base = `http://${server.metricsAddress}`
    assert.equal((await fetch(`${base}/other`)).status, 404)
    assert.equal((await fetch(`${base}/`)).status, 404)
    const post = await fetch(`${base}/metrics`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
    assert.equal((await fetch(`${base}/metrics?name[]=x`)).status, 200)
  })

  it('gives each server a registry of its own, and closes the endpoint on shutdown', async () => {
    const other = await startServer({ host: '127.0.0.1', port: 0, store: { dir: path.join(dir, 'other'), syncMode: 'none' }, metrics: { host: '127.0.0.1', port: 0 } })
    const otherClient = new StratumClient(other.address)
    try {
      await otherClient.createProblem('x')
      const otherText = await (await fetch(`http://${other.metricsAddress}/metrics`)).text()
      assert.equal(sample(otherText, 'stratum_documents'), 1)
      assert.equal(requests(otherText, 'CreateProblem', 'OK'), 1)
    } finally {
      otherClient.close()
      await other.shutdown()
    }
    await assert.rejects(fetch(`http://${other.metricsAddress}/metrics`))
  })

  it('fails to start when the metrics port is in use, naming it, and releases the gRPC port', async () => {
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const takenPort = (taken.address() as net.AddressInfo).port
    try {
      const failed = startServer({ host: '127.0.0.1', port: 0, store: { dir: path.join(dir, 'refused') }, metrics: { host: '127.0.0.1', port: takenPort } })
      await assert.rejects(failed, (error: unknown) => {
        assert.ok(error instanceof MetricsListenError)
        assert.equal(error.port, takenPort)
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'EADDRINUSE')
        return true
      })
      // Nothing was opened: the store folder was not created.
      assert.equal(fs.existsSync(path.join(dir, 'refused')), false)
    } finally {
      taken.close()
    }
  })
})
