/**
 * The server benchmark: Stratum's gRPC server against a no-op gRPC server, in the same run.
 *
 *   npm run bench:server              # the full run
 *   npm run bench:server -- --quick   # a tenth of the calls, for a smoke test
 *
 * Three processes on loopback: this one is the client, a @grpc/grpc-js client with up to 64
 * calls in flight on one channel per server; the two servers are children (bench/server-child.ts):
 * Stratum with its default, durable sync mode (always), and the no-op server, built on the same
 * gRPC library with the same messages, answering canned responses. The no-op server is the
 * ceiling: what the transport costs on this machine. Both get byte-identical requests.
 *
 * Workloads (bench/server-workloads.ts), each at concurrency 1 and 64: GetProblemHtml (4 KiB
 * text), GetTestCase, GetAllTestCases (10 nodes), AddTestCase (durable) and CreateProblem, over a
 * store of 100 problems with 10 test cases each. Each measurement is cut into rounds, the two
 * servers taking turns in an order rotated every round, so that a drift of the machine's speed
 * weighs on both alike.
 *
 * Two more Stratum servers take their turns too: one serving TLS (a P-256 certificate made by
 * openssl for the run) and one checking a bearer token on every call; their rows give their
 * ratios to the plaintext Stratum server, which is what TLS and tokens cost.
 *
 * Reported per row: calls/s, p50 and p99 latency as the client sees it, and the server's CPU
 * time per call (user + system, from the server process's own process.cpuUsage(), read over IPC
 * before and after), with Stratum's ratios to the ceiling. It prints; it asserts nothing.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { StratumClient, int64List } from '../src/client/index.ts'
import { lseMethods, type LseMethodName } from '../src/protocol/proto-definition.ts'
import { blobBytes, blobText, chainNodes, fixtureProblems, workloads, type Fixture, type Workload } from './server-workloads.ts'
import { seededRandom } from '../src/engine/testing/seeded-random.ts'
import { serverCpuMicros, startServerChild, stopServerChild, type ServerChildProcess } from './server-child-process.ts'
import { newToken } from '../src/server/index.ts'
import { makeTestCertificates } from '../test/support/test-certificates.ts'

const quick = process.argv.includes('--quick')
const scale = quick ? 0.1 : 1
const concurrencies = [1, 64] as const
/** Calls measured per workload, server and concurrency. */
const callsAt: Record<(typeof concurrencies)[number], number> = { 1: Math.round(3000 * scale), 64: Math.round(30_000 * scale) }
const warmUpCalls = quick ? 100 : 500
const rounds = 4

type ServerName = 'no-op' | 'stratum' | 'stratum TLS' | 'stratum tokens'

interface ServerChild extends ServerChildProcess {
  name: ServerName
  client: grpc.Client
  /** Sent with every call: the token, for the server that checks them. */
  metadata: grpc.Metadata
  fixture?: Fixture
}

interface Measurement {
  calls: number
  elapsedSeconds: number
  latenciesMicros: number[]
  cpuMicros: number
}

async function startChild(
  name: ServerName,
  args: string[],
  security: { ca?: Buffer; token?: string } = {},
): Promise<ServerChild> {
  const child = await startServerChild(name, args)
  const credentials = security.ca === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(security.ca)
  const client = new grpc.Client(child.address, credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 })
  const metadata = new grpc.Metadata()
  if (security.token !== undefined) metadata.set('authorization', `Bearer ${security.token}`)
  return { ...child, name, client, metadata }
}

async function stopChild(server: ServerChild): Promise<void> {
  server.client.close()
  await stopServerChild(server)
}

const methods = lseMethods()

function unary(server: ServerChild, method: LseMethodName, request: object): Promise<void> {
  const definition = methods[method]
  return new Promise((resolve, reject) => {
    server.client.makeUnaryRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, request, server.metadata, (error) =>
      error ? reject(error) : resolve(),
    )
  })
}


/** Runs calls from..to-1 with `concurrency` loops, each awaiting its call before the next. */
async function runCalls(
  server: ServerChild,
  workload: Workload,
  fixture: Fixture,
  from: number,
  to: number,
  concurrency: number,
  seed: number,
): Promise<Measurement> {
  const random = seededRandom(seed)
  const requests = Array.from({ length: to - from }, (_, offset) => workload.request(from + offset, fixture, random))
  const latenciesMicros = new Array<number>(requests.length)
  let next = 0
  const loop = async (): Promise<void> => {
    while (next < requests.length) {
      const index = next++
      const started = performance.now()
      await unary(server, workload.method, requests[index]!)
      latenciesMicros[index] = (performance.now() - started) * 1000
    }
  }
  const cpuBefore = await serverCpuMicros(server)
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, loop))
  const elapsedSeconds = (performance.now() - started) / 1000
  const cpuMicros = (await serverCpuMicros(server)) - cpuBefore
  return { calls: requests.length, elapsedSeconds, latenciesMicros, cpuMicros }
}

function combine(samples: readonly Measurement[]): Measurement {
  return {
    calls: samples.reduce((sum, sample) => sum + sample.calls, 0),
    elapsedSeconds: samples.reduce((sum, sample) => sum + sample.elapsedSeconds, 0),
    latenciesMicros: samples.flatMap((sample) => sample.latenciesMicros),
    cpuMicros: samples.reduce((sum, sample) => sum + sample.cpuMicros, 0),
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? NaN
}

interface Row {
  workload: string
  concurrency: number
  server: string
  callsPerSecond: number
  p50Micros: number
  p99Micros: number
  cpuMicrosPerCall: number
  throughputRatio?: number
  cpuRatio?: number
}

function summarize(workload: Workload, concurrency: number, server: ServerChild, measurement: Measurement): Row {
  const sorted = [...measurement.latenciesMicros].sort((a, b) => a - b)
  return {
    workload: workload.label,
    concurrency,
    server: server.name,
    callsPerSecond: measurement.calls / measurement.elapsedSeconds,
    p50Micros: percentile(sorted, 0.5),
    p99Micros: percentile(sorted, 0.99),
    cpuMicrosPerCall: measurement.cpuMicros / measurement.calls,
  }
}

/** The store the reads draw from: 100 problems of 4 KiB, each with 10 test cases of 8 int64s. */
async function buildFixture(address: string, options: ConstructorParameters<typeof StratumClient>[1]): Promise<Fixture> {
  const client = new StratumClient(address, options)
  const fixture: Fixture = { problemIds: [], testCases: [] }
  try {
    const html = blobText(blobBytes)
    fixture.problemIds = await Promise.all(Array.from({ length: fixtureProblems }, (_, index) => client.createProblem(html, { title: `P${index}` })))
    for (const problemId of fixture.problemIds) {
      const tcIds = await Promise.all(
        Array.from({ length: chainNodes }, (_, index) => client.addTestCase(problemId, int64List(Array.from({ length: 8 }, (_, item) => BigInt(index * 8 + item))))),
      )
      for (const tcId of tcIds) fixture.testCases.push({ problemId, tcId })
    }
  } finally {
    client.close()
  }
  return fixture
}

function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function printTable(rows: readonly Row[]): void {
  const header = ['workload', 'conc', 'server', 'calls/s', 'p50 µs', 'p99 µs', 'server CPU µs/call', 'calls/s ÷ base', 'CPU/call × base']
  const cells = rows.map((row) => [
    row.workload,
    String(row.concurrency),
    row.server,
    formatNumber(row.callsPerSecond),
    formatNumber(row.p50Micros),
    formatNumber(row.p99Micros),
    formatNumber(row.cpuMicrosPerCall),
    row.throughputRatio === undefined ? '' : formatNumber(row.throughputRatio, 2),
    row.cpuRatio === undefined ? '' : formatNumber(row.cpuRatio, 2),
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)))
  const line = (values: readonly string[]) =>
    values.map((value, column) => (column < 3 ? value.padEnd(widths[column]!) : value.padStart(widths[column]!))).join('  ')
  console.log(line(header))
  for (const row of cells) console.log(line(row))
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bench-server-'))
  console.log(`Stratum server benchmark${quick ? ' (--quick)' : ''}`)
  console.log(
    `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`,
  )
  console.log(`calls per measurement: ${callsAt[1]} at concurrency 1, ${callsAt[64]} at 64, in ${rounds} rounds; Stratum sync mode: always`)
  console.log('ratios: stratum to no-op; stratum TLS and stratum tokens to stratum (plaintext, no tokens)\n')
  const certificates = makeTestCertificates()
  const { token, line } = newToken('write', 'bench')
  const tokenFile = path.join(certificates.dir, 'tokens')
  fs.writeFileSync(tokenFile, `${line}\n`)
  const dirOf = (name: string): string => fs.mkdtempSync(path.join(dataDir, `${name}-`))
  const servers = await Promise.all([
    startChild('no-op', ['noop']),
    startChild('stratum', ['stratum', dirOf('plain')]),
    startChild('stratum TLS', ['stratum-tls', dirOf('tls'), certificates.serverCert, certificates.serverKey], { ca: fs.readFileSync(certificates.caCert) }),
    startChild('stratum tokens', ['stratum-tokens', dirOf('tokens'), tokenFile], { token }),
  ])
  const [noop, stratum, tls, tokens] = servers as [ServerChild, ServerChild, ServerChild, ServerChild]
  /** What each row is compared with: the no-op server for Stratum, plaintext Stratum for TLS and tokens. */
  const baseOf = new Map<ServerChild, ServerChild>([
    [stratum, noop],
    [tls, stratum],
    [tokens, stratum],
  ])
  const rows: Row[] = []
  try {
    // Each Stratum server has its own store, built the same way.
    stratum.fixture = await buildFixture(stratum.address, {})
    tls.fixture = await buildFixture(tls.address, { tls: { ca: fs.readFileSync(certificates.caCert) } })
    tokens.fixture = await buildFixture(tokens.address, { token })
    noop.fixture = stratum.fixture
    let seed = 1
    for (const workload of workloads) {
      for (const concurrency of concurrencies) {
        const total = callsAt[concurrency]
        for (const server of servers) await runCalls(server, workload, server.fixture!, 0, warmUpCalls, concurrency, seed)
        const samples = new Map<ServerChild, Measurement[]>(servers.map((server) => [server, []]))
        for (let round = 0; round < rounds; round++) {
          const from = Math.floor((total * round) / rounds)
          const to = Math.floor((total * (round + 1)) / rounds)
          // Each server runs first, second, third and last in turn, so that drift weighs on all alike.
          const order = servers.map((_, index) => servers[(index + round) % servers.length]!)
          seed++
          for (const server of order) samples.get(server)!.push(await runCalls(server, workload, server.fixture!, from, to, concurrency, seed))
        }
        const summaries = new Map(servers.map((server) => [server, summarize(workload, concurrency, server, combine(samples.get(server)!))]))
        for (const server of servers) {
          const row = summaries.get(server)!
          const base = baseOf.get(server)
          if (base !== undefined) {
            row.throughputRatio = row.callsPerSecond / summaries.get(base)!.callsPerSecond
            row.cpuRatio = row.cpuMicrosPerCall / summaries.get(base)!.cpuMicrosPerCall
          }
          rows.push(row)
        }
        process.stderr.write(`done: ${workload.label} at concurrency ${concurrency}\n`)
      }
    }
  } finally {
    await Promise.all(servers.map(stopChild))
    fs.rmSync(dataDir, { recursive: true, force: true })
    fs.rmSync(certificates.dir, { recursive: true, force: true })
  }
  printTable(rows)
  console.log(`\nload average after: ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`)
}

await main()
