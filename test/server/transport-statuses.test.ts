/**
 * What grpc-js itself answers, before the server's code sees a call, to headers and frames it
 * lets through: a garbage `grpc-timeout`, a message flagged compressed whose bytes are not gzip,
 * an encoding it does not know. The server cannot change these statuses (grpc-js has no hook
 * before them); this pins them, as the README documents them, and checks that the server goes on
 * serving. Should grpc-js improve them, this test says the README needs updating.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, before, describe, it } from 'node:test'
import { lseServiceName } from '../../src/protocol/proto-definition.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

let server: TestServer
let session: http2.ClientHttp2Session

before(async () => {
  server = await startTestServer()
  session = http2.connect(`http://127.0.0.1:${server.server.port}`)
  session.on('error', () => {})
})

after(async () => {
  session.close()
  await server.stop()
})

/** A GetStats call with extra headers and one length-prefixed message; resolves to its status. */
function call(headers: http2.OutgoingHttpHeaders, compressed: boolean, message: Buffer): Promise<{ code: number; details: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': `/${lseServiceName}/GetStats`,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    })
    let code: number | undefined
    let details = ''
    const take = (fields: http2.IncomingHttpHeaders): void => {
      if (fields['grpc-status'] !== undefined) {
        code = Number(fields['grpc-status'])
        details = decodeURIComponent(String(fields['grpc-message'] ?? ''))
      }
    }
    stream.on('response', take)
    stream.on('trailers', take)
    stream.on('error', reject)
    stream.on('close', () => (code === undefined ? reject(new Error('no grpc-status')) : resolve({ code, details })))
    stream.resume()
    const prefix = Buffer.alloc(5)
    prefix.writeUInt8(compressed ? 1 : 0, 0)
    prefix.writeUInt32BE(message.length, 1)
    stream.end(Buffer.concat([prefix, message]))
  })
}

describe('statuses grpc-js gives before the server sees a call', () => {
  it('a garbage grpc-timeout: INTERNAL (13), naming the header', async () => {
    assert.deepEqual(await call({ 'grpc-timeout': 'soon' }, false, Buffer.alloc(0)), { code: 13, details: 'Invalid grpc-timeout value "soon"' })
  })

  it('a message flagged gzip that is not gzip: INTERNAL (13), "Failed to decompress message"', async () => {
    const status = await call({ 'grpc-encoding': 'gzip' }, true, Buffer.from('not gzip at all'))
    assert.deepEqual(status, { code: 13, details: 'Failed to decompress message' })
  })

  it('an unknown encoding: UNIMPLEMENTED (12)', async () => {
    const status = await call({ 'grpc-encoding': 'zstd-or-so' }, true, Buffer.from('x'))
    assert.equal(status.code, 12)
  })

  it('a well-formed call on the same connection still works', async () => {
    assert.equal((await call({ 'grpc-timeout': '5S' }, false, Buffer.alloc(0))).code, 0)
    assert.equal((await server.client.getStats()).problemsInIndex, 0)
  })
})
