/**
 * The health and reflection services answer a request that is not a valid protobuf message
 * INVALID_ARGUMENT, naming the method and the fault, where grpc-js alone answers INTERNAL (or,
 * for a string that runs past the end, protobufjs reads what is there); unary, server streaming
 * and bidirectional methods alike. Legal encodings protobufjs misreads (a padded tag) are read as
 * protobuf says, and valid requests are still served afterwards.
 */
import assert from 'node:assert/strict'
import * as grpc from '@grpc/grpc-js'
import { after, before, describe, it } from 'node:test'
import { rawClient } from '../support/hostile-sender.ts'
import { startTestServer, type TestServer } from '../support/test-server.ts'

const S = grpc.status
const identity = (bytes: Buffer): Buffer => bytes
/** A length-delimited field 1 that claims 3 bytes and has none: no protobuf decoder can read it. */
const undecodable = Buffer.from('0a03', 'hex')
const callDeadlineMs = 10_000

let server: TestServer
let raw: grpc.Client

before(async () => {
  server = await startTestServer()
  raw = rawClient(`127.0.0.1:${server.server.port}`)
})

after(async () => {
  raw.close()
  await server.stop()
})

function unary(path: string, bytes: Buffer): Promise<{ code: grpc.status; details: string; response?: Buffer }> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + callDeadlineMs }, (error, response) => {
      resolve(error === null ? { code: S.OK, details: '', response } : { code: error.code, details: error.details })
    })
  })
}

/** Ends with the call's status; collects its answers. */
function streamed(call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>): Promise<{ code: grpc.status; details: string; answers: number }> {
  return new Promise((resolve) => {
    let answers = 0
    call.on('data', () => answers++)
    call.on('error', () => {})
    call.on('status', (status: grpc.StatusObject) => resolve({ code: status.code, details: status.details, answers }))
  })
}

describe('requests to the health and reflection services that do not decode', () => {
  for (const method of ['Check', 'List']) {
    it(`health ${method}: INVALID_ARGUMENT naming the method`, async () => {
      const { code, details } = await unary(`/grpc.health.v1.Health/${method}`, undecodable)
      assert.equal(code, S.INVALID_ARGUMENT, details)
      assert.match(details, new RegExp(`^grpc\\.health\\.v1\\.Health/${method}: malformed Health(Check|List)Request: a field of 3 bytes runs past the end at byte 2$`))
    })
  }

  it('health Watch (server streaming): INVALID_ARGUMENT, and no status is streamed', async () => {
    const call = raw.makeServerStreamRequest('/grpc.health.v1.Health/Watch', identity, identity, undecodable, new grpc.Metadata(), { deadline: Date.now() + callDeadlineMs })
    const { code, details, answers } = await streamed(call)
    assert.equal(code, S.INVALID_ARGUMENT, details)
    assert.match(details, /^grpc\.health\.v1\.Health\/Watch: malformed HealthCheckRequest: a field of 3 bytes runs past the end/)
    assert.equal(answers, 0)
  })

  it('reflection (bidirectional): INVALID_ARGUMENT at the first bad message', async () => {
    const call = raw.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', identity, identity, new grpc.Metadata(), {
      deadline: Date.now() + callDeadlineMs,
    })
    const ended = streamed(call)
    call.write(undecodable)
    call.end()
    const { code, details, answers } = await ended
    assert.equal(code, S.INVALID_ARGUMENT, details)
    assert.match(details, /^grpc\.reflection\.v1\.ServerReflection\/ServerReflectionInfo: malformed ServerReflectionRequest: /)
    assert.equal(answers, 0)
  })

  it('a tag written as a 6-byte varint (legal protobuf) is read as protobuf reads it', async () => {
    const service = Buffer.from('lse.v1.LseService')
    const padded = Buffer.concat([Buffer.from('8a8080808000', 'hex'), Buffer.from([service.length]), service])
    const check = await unary('/grpc.health.v1.Health/Check', padded)
    assert.equal(check.code, S.OK, check.details)
    assert.deepEqual(check.response, Buffer.from('0801', 'hex'))
  })

  it('valid requests are served as before', async () => {
    // HealthCheckRequest { service: "" } is the empty message; the server is SERVING (1).
    const check = await unary('/grpc.health.v1.Health/Check', Buffer.alloc(0))
    assert.equal(check.code, S.OK, check.details)
    assert.deepEqual(check.response, Buffer.from('0801', 'hex'))
    // ServerReflectionRequest { list_services: "" } (field 7) lists the services.
    const call = raw.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', identity, identity, new grpc.Metadata(), {
      deadline: Date.now() + callDeadlineMs,
    })
    const ended = streamed(call)
    call.write(Buffer.from('3a00', 'hex'))
    call.end()
    const listed = await ended
    assert.equal(listed.code, S.OK, listed.details)
    assert.equal(listed.answers, 1)
  })
})
