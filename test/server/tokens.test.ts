/**
 * Tokens and roles: with a token file, every LseService call needs "authorization: Bearer <token>"
 * of a role that allows it (read < write < admin). No token or an unknown one is UNAUTHENTICATED,
 * too small a role PERMISSION_DENIED, checked before the request is decoded; health checking
 * stays open; reload() applies a new token file at once; tokens never reach the logs.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http2 from 'node:http2'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { protoPath as healthProtoPath } from 'grpc-health-check'
import { pino } from 'pino'
import { StratumClient, StratumClientError } from '../../src/client/index.ts'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { newToken, startServer, type RunningServer } from '../../src/server/index.ts'
import { parseTokenFile, TokenFileError } from '../../src/server/access-tokens.ts'
import { makeTempDir } from '../support/fixture.ts'

const dir = makeTempDir('tokens')
const tokenFile = path.join(dir, 'tokens')
const reader = newToken('read', 'dashboards')
const writer = newToken('write', 'judge-workers')
const admin = newToken('admin', 'operators')
let logText = ''
let server: RunningServer
const clients: StratumClient[] = []

before(async () => {
  fs.writeFileSync(tokenFile, `# role digest name\n${reader.line}\n${writer.line}\n\n${admin.line}\n`)
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => ((logText += String(chunk)), done()) }))
  server = await startServer({ host: '127.0.0.1', port: 0, store: { dir: path.join(dir, 'store'), syncMode: 'none' }, authTokensFile: tokenFile, logger })
})

after(async () => {
  for (const client of clients) client.close()
  await server.shutdown()
  fs.rmSync(dir, { recursive: true, force: true })
})

function client(token?: string): StratumClient {
  const made = new StratumClient(server.address, { defaultDeadlineMs: 5000, ...(token === undefined ? {} : { token }) })
  clients.push(made)
  return made
}

async function refusal(call: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await call
  } catch (error) {
    assert.ok(error instanceof StratumClientError, String(error))
    return { code: error.code, details: error.details }
  }
  assert.fail('the call succeeded')
}

describe('tokens and roles', () => {
  it('lets each role make the calls it allows, and refuses the others PERMISSION_DENIED', async () => {
    const docId = await client(writer.token).createProblem('written')
    assert.equal(await client(reader.token).getProblemHtml(docId), 'written')
    const denied = await refusal(client(reader.token).updateProblemHtml(docId, 'changed'))
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED)
    assert.match(denied.details, /UpdateProblemHtml needs a token of role write or above; this token \(dashboards\) has role read/)
    assert.equal((await refusal(client(writer.token).flush())).code, grpc.status.PERMISSION_DENIED)
    await client(admin.token).flush()
    await client(admin.token).updateProblemHtml(docId, 'by admin')
    assert.equal(await client(reader.token).getProblemHtml(docId), 'by admin')
  })

  it('refuses a call without a token, with an unknown one, or with a malformed header UNAUTHENTICATED', async () => {
    const none = await refusal(client().listProblems().next())
    assert.equal(none.code, grpc.status.UNAUTHENTICATED)
    assert.match(none.details, /needs a token: send the metadata "authorization: Bearer <token>"/)
    assert.equal((await refusal(client('not-a-token').getStats())).code, grpc.status.UNAUTHENTICATED)
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure())
    const identity = (value: Buffer): Buffer => value
    const metadata = new grpc.Metadata()
    metadata.set('authorization', writer.token)
    const code = await new Promise<grpc.status | undefined>((resolve) =>
      // A body that is not protobuf: the token check answers before it is decoded.
      raw.makeUnaryRequest(`/${lseServiceName}/CreateProblem`, identity, identity, Buffer.from([0xff, 0xff]), metadata, (error) => resolve(error?.code)),
    )
    raw.close()
    assert.equal(code, grpc.status.UNAUTHENTICATED)
  })

  it('charges nothing for what a refused call goes on sending', async () => {
    const session = http2.connect(`http://127.0.0.1:${server.port}`)
    session.on('error', () => {})
    const stream = session.request({ ':method': 'POST', ':path': `/${lseServiceName}/AddTestCase`, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false })
    stream.on('error', () => {})
    const status = new Promise<string | undefined>((resolve) => stream.once('response', (headers) => resolve(headers['grpc-status'] as string | undefined)))
    stream.resume()
    assert.equal(await status, String(grpc.status.UNAUTHENTICATED))
    // Refused on its metadata; then 2 MiB of a message that says it has 4, and the stream kept open.
    const prefix = Buffer.alloc(5)
    prefix.writeUInt32BE(4 * 1024 * 1024, 1)
    await new Promise<void>((resolve) => stream.write(Buffer.concat([prefix, Buffer.alloc(2 * 1024 * 1024, 0x0a)]), () => resolve()))
    // Long enough for the server to read what was flushed to it.
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(server.requestMemoryHeldBytes(), 0)
    session.destroy()
  })

  it('keeps health checking open', async () => {
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true })
    const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor
    const health = new Health(server.address, grpc.credentials.createInsecure())
    const response = await new Promise<{ status: string }>((resolve, reject) =>
      (health as any).Check({ service: '' }, (error: grpc.ServiceError | null, answer: { status: string }) => (error ? reject(error) : resolve(answer))),
    )
    health.close()
    assert.equal(response.status, 'SERVING')
  })

  it('applies a new token file on reload(), and keeps the old one when the new one is unusable', async () => {
    const successor = newToken('read', 'successor')
    fs.writeFileSync(tokenFile, `${successor.line}\n`)
    server.reload()
    await client(successor.token).getStats()
    assert.equal((await refusal(client(reader.token).getStats())).code, grpc.status.UNAUTHENTICATED)
    fs.writeFileSync(tokenFile, 'read sha256:short\n')
    assert.throws(() => server.reload(), /line 1: expected "sha256:" and 64 lowercase hex digits/)
    await client(successor.token).getStats()
  })

  it('never logs a token', () => {
    assert.ok(logText.includes('call refused by the token check'))
    for (const { token } of [reader, writer, admin]) assert.ok(!logText.includes(token))
  })

  it('refuses token files it cannot use, naming the line', () => {
    assert.throws(() => parseTokenFile('owner sha256:' + '0'.repeat(64), 'f'), /f, line 1: the role must be one of read, write, admin; got "owner"/)
    assert.throws(() => parseTokenFile('# nothing\n', 'f'), TokenFileError)
    assert.throws(() => parseTokenFile(`read sha256:${'0'.repeat(64)} two words`, 'f'), /the name has no spaces/)
  })
})
