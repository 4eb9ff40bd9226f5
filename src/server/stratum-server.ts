/**
 * The gRPC server: LseService over one store, with standard health checking and reflection.
 *
 *   const server = await startServer({ host: '127.0.0.1', port: 0, store: { dir: './data' } })
 *   server.address            // '127.0.0.1:40123'
 *   await server.shutdown()   // stop accepting, finish calls in flight, flush, close the store
 */
import * as grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { ReflectionService } from '@grpc/reflection'
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check'
import path from 'node:path'
import { pino, type Logger } from 'pino'
import { openStore, type Store, type StoreOptions } from '../engine/index.ts'
import {
  lseMethodNames,
  lseMethods,
  lseProtoFileName,
  lseServiceName,
  writesHealthName,
  protoDir,
  protoLoaderOptions,
} from '../protocol/proto-definition.ts'
import { ShutdownGate } from './call-gate.ts'
import { connectionCallsInterceptor } from './connection-calls.ts'
import { ConnectionListener, type ConnectionCounts } from './connection-listener.ts'
import { ServerMetrics } from './metrics.ts'
import { listenForMetrics, type MetricsEndpoint } from './metrics-endpoint.ts'
import { createLseHandlers } from './lse-handlers.ts'
import { requestMaxBytes, responseMaxBytes } from './message-limits.ts'
import { RequestMemoryBudget } from './request-memory.ts'
import { CheckedServices } from './checked-services.ts'
import { OpenCalls } from './open-calls.ts'
import { WatchCalls } from './watch-call.ts'
import { ResponseDelivery } from './response-delivery.ts'
import { requestReceiptInterceptor } from './request-receipt.ts'
import { serverLimits, type ServerLimits } from './server-limits.ts'
import { readTokenFile, type TokenEntry } from './access-tokens.ts'
import { strictDeserializer } from './strict-requests.ts'
import { readTlsFiles, type TlsFiles } from './tls-files.ts'
import { tokenCheckInterceptor } from './token-check.ts'
import { unaryCall } from './unary-call.ts'

export const defaultHost = '127.0.0.1'
export const defaultPort = 50051
/** How long shutdown waits for calls in flight (and open streams) before it cancels them. */
export const defaultShutdownGraceMs = 10_000

export interface ServerOptions {
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string
  /** TCP port; 0 picks a free one. @defaultValue 50051 */
  port?: number
  /** Options of the store the server opens (and owns: shutdown closes it). */
  store: StoreOptions
  /** Where start, stop and error lines go. @defaultValue a logger that drops everything */
  logger?: Logger
  shutdownGraceMs?: number
  /** Connection and in-flight limits; each one not given takes its default (server-limits.ts). */
  limits?: Partial<ServerLimits>
  /** Serve TLS with these files (and require client certificates when `clientCaFile` is given). @defaultValue plaintext */
  tls?: TlsFiles
  /** A token file (access-tokens.ts): every LseService call then needs a token of the right role. @defaultValue no token check */
  authTokensFile?: string
  /** Serve Prometheus metrics over HTTP at `http://host:port/metrics` (port 0 picks a free one). @defaultValue off */
  metrics?: { host: string; port: number }
}

export interface RunningServer {
  readonly host: string
  /** The port bound, the chosen one when `port` was 0. */
  readonly port: number
  /** `host:port`, ready for a client. */
  readonly address: string
  /** `host:port` of the metrics endpoint, when `metrics` was given. */
  readonly metricsAddress: string | undefined
  readonly store: Store
  /** What the listener holds and has closed (handshake timeouts, evictions...). */
  connectionCounts(): ConnectionCounts
  /** Bytes held by the requests in flight (bounded by requestsInFlightMaxBytes). */
  requestMemoryHeldBytes(): number
  /** Calls open now, all connections together (bounded by `callsMax`). */
  openCalls(): number
  /**
   * Reads the TLS files and the token file again: new connections get the new certificates, and
   * every call from now on is checked against the new tokens. When a file cannot be used, it
   * throws and the server keeps what it had.
   */
  reload(): void
  /** Stops accepting calls, finishes those in flight, flushes and closes the store. Idempotent. */
  shutdown(reason?: string): Promise<void>
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: 'silent' })
  const host = options.host ?? defaultHost
  const limits = serverLimits(options.limits)
  // Files first too: a bad certificate or token file fails before anything is opened.
  const tlsOptions = options.tls === undefined ? undefined : readTlsFiles(options.tls)
  let tokens: readonly TokenEntry[] | undefined = options.authTokensFile === undefined ? undefined : readTokenFile(options.authTokensFile)
  // The port first: a port in use fails in milliseconds, before a store is created or recovered.
  // Connections made while the store opens wait for it (connection-listener.ts).
  const listener = await ConnectionListener.listen(host, options.port ?? defaultPort, limits, logger)
  const port = listener.port
  // The metrics port too, and the registry with it: the store's observer goes into its options.
  let metrics: ServerMetrics | undefined
  let metricsEndpoint: MetricsEndpoint | undefined
  if (options.metrics !== undefined) {
    metrics = new ServerMetrics()
    try {
      metricsEndpoint = await listenForMetrics(options.metrics.host, options.metrics.port, metrics.registry, logger)
    } catch (error) {
      listener.close()
      throw error
    }
  }
  listener.setTls(tlsOptions)
  // Health: '' and the service follow whether calls can be served at all; the writes entry also
  // goes NOT_SERVING while the disk is full (reads are still served then).
  const health = new HealthImplementation({ '': 'SERVING', [lseServiceName]: 'SERVING', [writesHealthName]: 'SERVING' })
  let store: Store
  try {
    store = await openStore({
      ...options.store,
      onWarning: (message, details) => logger.warn({ details }, message),
      onStatusChange: (status, error) => {
        // Once per change: calls refused meanwhile are not logged one by one.
        if (status === 'failed') logger.error({ err: error }, 'the store failed: every call is refused until the server is restarted')
        else logger.info({ status }, 'store status changed')
        const serving = status === 'failed' ? 'NOT_SERVING' : 'SERVING'
        health.setStatus('', serving)
        health.setStatus(lseServiceName, serving)
        health.setStatus(writesHealthName, status === 'open' ? 'SERVING' : 'NOT_SERVING')
      },
      observer: metrics?.storeObserver ?? options.store.observer,
    })
  } catch (error) {
    listener.close()
    await metricsEndpoint?.close()
    throw error
  }
  metrics?.watchStore(store)
  const startedAtMs = Date.now()
  const gate = new ShutdownGate()
  const memory = new RequestMemoryBudget(limits.requestsInFlightMaxBytes)
  const delivery = new ResponseDelivery(memory, limits, logger)
  const checkedServices = new CheckedServices()
  const openCalls = new OpenCalls(limits.callsMax, logger)
  const server = new grpc.Server({
    'grpc.max_receive_message_length': requestMaxBytes,
    'grpc.max_send_message_length': responseMaxBytes,
    'grpc.max_concurrent_streams': limits.streamsPerConnectionMax,
    'grpc.max_connection_idle_ms': limits.connectionIdleMs,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    // Nearest the transport first: metrics see every status, those the receipt sends included.
    interceptors: [
      ...(metrics === undefined ? [] : [metrics.rpcInterceptor]),
      openCalls.interceptor(),
      requestReceiptInterceptor(memory, limits, logger),
      delivery.interceptor(),
      connectionCallsInterceptor(listener),
      tokenCheckInterceptor(() => tokens, logger),
      checkedServices.interceptor(),
    ],
  })
  const watches = new WatchCalls(store, gate, memory, logger, lseMethods().Watch.responseSerialize)
  addLseService(server, store, startedAtMs, gate, memory, watches, logger)
  health.addToServer(checkedServices.adder(server))
  new ReflectionService(reflectedDefinition()).addToServer(checkedServices.adder(server))
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure())
  listener.start((socket) => injector.injectConnection(socket))
  const address = `${formatHost(host)}:${port}`
  const metricsAddress = metricsEndpoint === undefined ? undefined : `${formatHost(metricsEndpoint.host)}:${metricsEndpoint.port}`
  logger.info(
    {
      host,
      port,
      address,
      dataDir: options.store.dir,
      syncMode: options.store.syncMode ?? 'always',
      tls: options.tls === undefined ? 'off' : options.tls.clientCaFile === undefined ? 'on' : 'mutual',
      tokens: tokens === undefined ? 'off' : tokens.length,
      metrics: metricsAddress === undefined ? 'off' : `http://${metricsAddress}/metrics`,
    },
    'listening',
  )

  let stopping: Promise<void> | undefined
  const shutdownOnce = async (reason: string): Promise<void> => {
    logger.info({ reason, callsInFlight: gate.callsInFlight }, 'shutting down')
    health.setStatus('', 'NOT_SERVING')
    health.setStatus(lseServiceName, 'NOT_SERVING')
    health.setStatus(writesHealthName, 'NOT_SERVING')
    // The transport refuses new calls at once (GOAWAY, and the listener is closed) and lets the
    // calls it has received finish; the gate then waits for any handler still running (after a
    // forced stop) and refuses whatever might still reach it, before the store is closed.
    listener.close()
    // Watches never end by themselves: ended first, so that the transport need not wait for them.
    watches.stop()
    await stopServer(server, options.shutdownGraceMs ?? defaultShutdownGraceMs)
    delivery.close()
    await gate.close()
    await metricsEndpoint?.close()
    try {
      await store.flush()
    } finally {
      await store.close()
    }
    logger.info({ uptimeMs: Date.now() - startedAtMs }, 'stopped')
  }
  return {
    host,
    port,
    address,
    metricsAddress,
    store,
    connectionCounts: () => listener.connectionCounts,
    requestMemoryHeldBytes: () => memory.held,
    openCalls: () => openCalls.count,
    reload() {
      const newTls = options.tls === undefined ? undefined : readTlsFiles(options.tls)
      const newTokens = options.authTokensFile === undefined ? undefined : readTokenFile(options.authTokensFile)
      listener.setTls(newTls)
      tokens = newTokens
      logger.info({ tls: newTls !== undefined, tokens: newTokens?.length ?? 'off' }, 'reloaded the TLS and token files')
    },
    shutdown(reason = 'shutdown requested') {
      stopping ??= shutdownOnce(reason)
      return stopping
    },
  }
}

function addLseService(
  server: grpc.Server,
  store: Store,
  startedAtMs: number,
  gate: ShutdownGate,
  memory: RequestMemoryBudget,
  watches: WatchCalls,
  logger: Logger,
): void {
  const methods = lseMethods()
  const handlers = createLseHandlers(store, startedAtMs)
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {}
  const implementation: grpc.UntypedServiceImplementation = {}
  for (const name of lseMethodNames) {
    definition[name] = { ...methods[name], requestDeserialize: strictDeserializer(name, methods[name], memory) }
    const handler = handlers[name] as (request: unknown) => Promise<object>
    implementation[name] = unaryCall(name, handler, gate, logger, memory)
  }
  definition.Watch = {
    ...methods.Watch,
    requestDeserialize: strictDeserializer('Watch', methods.Watch, memory),
    responseSerialize: WatchCalls.responseSerializer(methods.Watch.responseSerialize) as (response: object) => Buffer,
  }
  implementation.Watch = watches.handler() as grpc.UntypedHandleCall
  server.addService(definition as grpc.ServiceDefinition, implementation)
}

/** The contract and the health service, for reflection (so that `list` shows both). */
function reflectedDefinition(): protoLoader.PackageDefinition {
  const healthProtoRoot = path.resolve(path.dirname(healthProtoPath), '..', '..')
  return protoLoader.loadSync([lseProtoFileName, 'health/v1/health.proto'], {
    ...protoLoaderOptions,
    includeDirs: [protoDir, healthProtoRoot],
  })
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Stops listening and waits for open calls; past `graceMs`, cancels what is left. */
function stopServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, graceMs)
    server.tryShutdown(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
