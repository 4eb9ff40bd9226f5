/**
 * A real server for end-to-end tests: loopback, an ephemeral port, a temporary folder (or the
 * given one), and a client connected to it. `stop()` shuts both down; `restart()` starts a new
 * server on the same folder (and a new port), as a process restart would.
 */
import fs from 'node:fs'
import { StratumClient } from '../../src/client/index.ts'
import { startServer, type RunningServer, type ServerLimits } from '../../src/server/index.ts'
import type { StoreOptions } from '../../src/engine/index.ts'
import { makeTempDir } from './fixture.ts'

export interface TestServer {
  readonly dir: string
  readonly server: RunningServer
  readonly client: StratumClient
  restart(): Promise<void>
  /** Stops the server and the client; removes the folder unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>
}

export async function startTestServer(
  options: { dir?: string; store?: Omit<StoreOptions, 'dir'>; shutdownGraceMs?: number; limits?: Partial<ServerLimits> } = {},
): Promise<TestServer> {
  const dir = options.dir ?? makeTempDir('server')
  const start = () =>
    startServer({ host: '127.0.0.1', port: 0, store: { syncMode: 'none', ...options.store, dir }, shutdownGraceMs: options.shutdownGraceMs ?? 5000, limits: options.limits })
  let server = await start()
  let client = new StratumClient(server.address)
  return {
    dir,
    get server() {
      return server
    },
    get client() {
      return client
    },
    async restart() {
      client.close()
      await server.shutdown('restart')
      server = await start()
      client = new StratumClient(server.address)
    },
    async stop({ keepDir = false } = {}) {
      client.close()
      await server.shutdown('test over')
      if (!keepDir) fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
