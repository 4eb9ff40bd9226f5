/** The gRPC server's public surface. */
export { startServer, defaultHost, defaultPort, defaultShutdownGraceMs } from './stratum-server.ts'
export type { RunningServer, ServerOptions } from './stratum-server.ts'
export { grpcStatusOf } from './status-codes.ts'
export { requestMaxBytes, responseMaxBytes } from './message-limits.ts'
export { defaultServerLimits } from './server-limits.ts'
export type { ServerLimits } from './server-limits.ts'
export type { ConnectionCounts } from './connection-listener.ts'
