/**
 * A server process of the server benchmark (bench/server.ts) and of the hostile-input long mode
 * (test/fuzz/run.ts), driven over IPC by its parent (bench/server-child-process.ts).
 *
 *   node --import tsx bench/server-child.ts stratum <dataDir>   the real server, default sync (always)
 *   node --import tsx bench/server-child.ts stratum-tls <dataDir> <cert> <key>     the same, over TLS
 *   node --import tsx bench/server-child.ts stratum-tokens <dataDir> <tokenFile>  the same, checking tokens
 *   node --import tsx bench/server-child.ts noop                 the ceiling: same library, same messages
 *
 * The no-op server is @grpc/grpc-js with the service definition of proto/lse.proto (proto-loader's
 * own serializers), answering every call with a canned response of the shape the benchmark's
 * calls get from Stratum: what is left of Stratum's cost once the engine and the server layer
 * are taken away.
 *
 * Messages from the parent: { type: 'cpu' } → { type: 'cpu', userMicros, systemMicros } from this
 * process's own process.cpuUsage(); { type: 'health' } → { type: 'health', ...ChildHealth };
 * { type: 'stop' } → shuts down and exits. On start it sends { type: 'ready', address }.
 *
 * Stratum's error log lines go to stderr, and are counted for the health answer: a server that
 * answers hostile requests properly logs none.
 */
import { Writable } from 'node:stream'
import * as grpc from '@grpc/grpc-js'
import { pino } from 'pino'
import { lseMethodNames, lseMethods } from '../src/protocol/proto-definition.ts'
import { startServer, type ServerOptions } from '../src/server/index.ts'
import { watchEventLoopDelay, type EventLoopDelay } from './measure.ts'
import { blobBytes, cannedResponses } from './server-workloads.ts'

type ParentMessage = { type: 'cpu' } | { type: 'health' } | { type: 'stop' }

/** What a child says of itself when asked for its health. */
export interface ChildHealth {
  rssBytes: number
  /** The kernel's high-water mark of this process's resident set, peaks between samples included. */
  maxRssBytes: number
  /** Event-loop delay since the first health request (none before it, so a benchmark never pays for it). */
  eventLoopDelay: EventLoopDelay
  errorLines: number
}

const [mode, dataDir, ...files] = process.argv.slice(2)

async function startNoop(): Promise<{ address: string; stop: () => Promise<void> }> {
  const methods = lseMethods()
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 32 * 1024 * 1024, 'grpc.max_send_message_length': 32 * 1024 * 1024 })
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {}
  const implementation: grpc.UntypedServiceImplementation = {}
  const canned = cannedResponses(blobBytes)
  for (const name of lseMethodNames) {
    definition[name] = methods[name]
    const response = canned[name] ?? {}
    implementation[name] = (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => callback(null, response)
  }
  server.addService(definition as grpc.ServiceDefinition, implementation)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  )
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  }
}

let errorLines = 0

async function startStratum(dir: string, security: Pick<ServerOptions, 'tls' | 'authTokensFile'> = {}): Promise<{ address: string; stop: () => Promise<void> }> {
  const errorLog = new Writable({
    write(chunk, _encoding, callback) {
      errorLines++
      process.stderr.write(chunk, callback)
    },
  })
  const server = await startServer({ host: '127.0.0.1', port: 0, store: { dir }, logger: pino({ level: 'error' }, errorLog), ...security })
  return { address: server.address, stop: () => server.shutdown('stop asked by the parent') }
}

let loopDelay: (() => EventLoopDelay) | undefined

function health(): ChildHealth {
  loopDelay ??= watchEventLoopDelay()
  return {
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    eventLoopDelay: loopDelay(),
    errorLines,
  }
}

async function start(): Promise<{ address: string; stop: () => Promise<void> } | undefined> {
  if (mode === 'noop') return startNoop()
  if (dataDir === undefined) return undefined
  if (mode === 'stratum') return startStratum(dataDir)
  if (mode === 'stratum-tls' && files.length === 2) return startStratum(dataDir, { tls: { certFile: files[0]!, keyFile: files[1]! } })
  if (mode === 'stratum-tokens' && files.length === 1) return startStratum(dataDir, { authTokensFile: files[0]! })
  return undefined
}

const running = await start()
if (running === undefined) {
  console.error('usage: server-child.ts noop | stratum <dataDir> | stratum-tls <dataDir> <cert> <key> | stratum-tokens <dataDir> <tokenFile>')
  process.exit(2)
}
process.on('message', (message: ParentMessage) => {
  if (message.type === 'cpu') {
    const usage = process.cpuUsage()
    process.send!({ type: 'cpu', userMicros: usage.user, systemMicros: usage.system })
  } else if (message.type === 'health') {
    process.send!({ type: 'health', ...health() })
  } else if (message.type === 'stop') {
    void running.stop().then(() => process.exit(0))
  }
})
process.send!({ type: 'ready', address: running.address })
