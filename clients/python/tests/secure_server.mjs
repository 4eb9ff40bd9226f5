#!/usr/bin/env node
// A server with TLS and/or a token file, for the Python client's tests: startServer() with the
// options given as one JSON argument, `{"dataDir", "tls"?: {"certFile", "keyFile",
// "clientCaFile"?}, "authTokensFile"?}`. It logs as `stratum serve` does (JSON lines on stdout,
// "listening" with the port) and shuts down gracefully on SIGTERM, so that server_process.py runs
// it like the command. It calls the library rather than `stratum serve` so that the tests depend
// only on startServer's options, not on the command's flags.
import { register } from 'tsx/esm/api'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

register()
const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const { startServer } = await import(pathToFileURL(path.join(repoDir, 'src', 'server', 'index.ts')).href)
const { pino } = await import('pino')

const options = JSON.parse(process.argv[2] ?? '{}')
const logger = pino({ base: { service: 'stratum' }, level: 'info' }, pino.destination({ dest: 1, sync: true }))
const server = await startServer({
  host: '127.0.0.1',
  port: 0,
  logger,
  shutdownGraceMs: 5000,
  store: { dir: options.dataDir, syncMode: 'none' },
  ...(options.tls === undefined ? {} : { tls: options.tls }),
  ...(options.authTokensFile === undefined ? {} : { authTokensFile: options.authTokensFile }),
})
process.once('SIGTERM', () => {
  server.shutdown('SIGTERM').then(
    () => process.exit(0),
    (error) => {
      logger.error({ err: error }, 'shutdown failed')
      process.exit(1)
    },
  )
})
