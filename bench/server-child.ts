/**
 * A server process of the server benchmark (bench/server.ts), driven over IPC by its parent.
 *
 *   node --import tsx bench/server-child.ts stratum <dataDir>   the real server, default sync (always)
 *   node --import tsx bench/server-child.ts noop                 the ceiling: same library, same messages
 *
 * The no-op server is @grpc/grpc-js with the service definition of proto/lse.proto (proto-loader's
 * own serializers), answering every call with a canned response of the shape the benchmark's
 * calls get from Stratum: what is left of Stratum's cost once the engine and the server layer
 * are taken away.
 *
 * Messages from the parent: { type: 'cpu' } → { type: 'cpu', userMicros, systemMicros } from this
 * process's own process.cpuUsage(); { type: 'stop' } → shuts down and exits. On start it sends
 * { type: 'ready', address }.
 */
import * as grpc from '@grpc/grpc-js'
import { lseMethodNames, lseMethods } from '../src/protocol/proto-definition.ts'
import { startServer } from '../src/server/index.ts'
import { blobBytes, cannedResponses } from './server-workloads.ts'

type ParentMessage = { type: 'cpu' } | { type: 'stop' }

const [mode, dataDir] = process.argv.slice(2)

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

async function startStratum(dir: string): Promise<{ address: string; stop: () => Promise<void> }> {
  const server = await startServer({ host: '127.0.0.1', port: 0, store: { dir } })
  return { address: server.address, stop: () => server.shutdown('benchmark over') }
}

const running = mode === 'noop' ? await startNoop() : mode === 'stratum' && dataDir !== undefined ? await startStratum(dataDir) : undefined
if (running === undefined) {
  console.error('usage: server-child.ts noop | stratum <dataDir>')
  process.exit(2)
}
process.on('message', (message: ParentMessage) => {
  if (message.type === 'cpu') {
    const usage = process.cpuUsage()
    process.send!({ type: 'cpu', userMicros: usage.user, systemMicros: usage.system })
  } else if (message.type === 'stop') {
    void running.stop().then(() => process.exit(0))
  }
})
process.send!({ type: 'ready', address: running.address })
