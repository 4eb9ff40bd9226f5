/**
 * TLS: a server with a certificate serves TLS clients and refuses plaintext ones; with a client
 * CA (mutual TLS) it refuses clients without a certificate or with one from another CA; reload()
 * puts renewed certificates in use without dropping the server. Certificates are made by openssl
 * for the test (test/support/test-certificates.ts).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { StratumClient, StratumClientError } from '../../src/client/index.ts'
import { startServer, type RunningServer } from '../../src/server/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { makeTestCertificates, type TestCertificates } from '../support/test-certificates.ts'

const certs = makeTestCertificates()
const stopped: Array<() => Promise<void>> = []
after(async () => {
  for (const stop of stopped) await stop()
  fs.rmSync(certs.dir, { recursive: true, force: true })
})

async function tlsServer(clientCa: boolean, files: TestCertificates = certs): Promise<RunningServer> {
  const dir = makeTempDir('tls')
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    store: { dir, syncMode: 'none' },
    tls: { certFile: files.serverCert, keyFile: files.serverKey, ...(clientCa ? { clientCaFile: files.caCert } : {}) },
    limits: { handshakeTimeoutMs: 5000 },
  })
  stopped.push(async () => {
    await server.shutdown()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return server
}

function client(server: RunningServer, options: ConstructorParameters<typeof StratumClient>[1]): StratumClient {
  const made = new StratumClient(server.address, { defaultDeadlineMs: 5000, ...options })
  stopped.push(async () => made.close())
  return made
}

async function refusal(call: Promise<unknown>): Promise<grpc.status> {
  try {
    await call
  } catch (error) {
    assert.ok(error instanceof StratumClientError, String(error))
    return error.code
  }
  assert.fail('the call succeeded')
}

const read = (file: string): Buffer => fs.readFileSync(file)

describe('TLS', { timeout: 120_000 }, () => {
  it('serves a TLS client and refuses a plaintext one', async () => {
    const server = await tlsServer(false)
    const secure = client(server, { tls: { ca: read(certs.caCert) } })
    const docId = await secure.createProblem('over TLS')
    assert.equal(await secure.getProblemHtml(docId), 'over TLS')
    assert.equal(await refusal(client(server, {}).getProblemHtml(docId)), grpc.status.UNAVAILABLE)
    assert.ok(server.connectionCounts().tlsFailures >= 1)
  })

  it('under mutual TLS, refuses a client without a certificate or with one from another CA', async () => {
    const server = await tlsServer(true)
    const trusted = client(server, { tls: { ca: read(certs.caCert), cert: read(certs.clientCert), key: read(certs.clientKey) } })
    const docId = await trusted.createProblem('mutual')
    assert.equal(await trusted.getProblemHtml(docId), 'mutual')
    const anonymous = client(server, { tls: { ca: read(certs.caCert) } })
    assert.equal(await refusal(anonymous.getProblemHtml(docId)), grpc.status.UNAVAILABLE)
    const stranger = client(server, { tls: { ca: read(certs.caCert), cert: read(certs.strangerCert), key: read(certs.strangerKey) } })
    assert.equal(await refusal(stranger.getProblemHtml(docId)), grpc.status.UNAVAILABLE)
    assert.ok(server.connectionCounts().tlsFailures >= 2)
  })

  it('reload() puts renewed certificates in use for new connections, and refuses unusable files', async () => {
    // The server's files are copies, renewed in place as an operator (or certbot) would.
    const renewed = makeTestCertificates()
    const live = { ...certs, serverCert: `${certs.dir}/live.crt`, serverKey: `${certs.dir}/live.key` }
    fs.copyFileSync(certs.serverCert, live.serverCert)
    fs.copyFileSync(certs.serverKey, live.serverKey)
    const server = await tlsServer(false, live)
    const before = client(server, { tls: { ca: read(certs.caCert) } })
    const docId = await before.createProblem('before renewal')
    fs.copyFileSync(renewed.serverCert, live.serverCert)
    fs.copyFileSync(renewed.serverKey, live.serverKey)
    server.reload()
    const after = client(server, { tls: { ca: read(renewed.caCert) } })
    assert.equal(await after.getProblemHtml(docId), 'before renewal')
    assert.equal(await refusal(client(server, { tls: { ca: read(certs.caCert) } }).getProblemHtml(docId)), grpc.status.UNAVAILABLE)
    // The connection made before the renewal goes on.
    assert.equal(await before.getProblemHtml(docId), 'before renewal')
    fs.writeFileSync(live.serverKey, 'not a key')
    assert.throws(() => server.reload(), /cannot be used/)
    assert.equal(await client(server, { tls: { ca: read(renewed.caCert) } }).getProblemHtml(docId), 'before renewal')
    fs.rmSync(renewed.dir, { recursive: true, force: true })
  })

  it('refuses to start with a certificate it cannot read, before creating the store', async () => {
    const dir = `${makeTempDir('tls')}/store`
    await assert.rejects(
      startServer({ host: '127.0.0.1', port: 0, store: { dir }, tls: { certFile: `${certs.dir}/missing.crt`, keyFile: certs.serverKey } }),
      /cannot read the TLS certificate .*missing\.crt/,
    )
    assert.equal(fs.existsSync(dir), false)
  })
})
