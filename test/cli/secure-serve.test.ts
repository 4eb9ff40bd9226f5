/**
 * `stratum serve` with TLS and tokens, as an operator runs it: a token made by `stratum token
 * new`, admin commands with --tls-ca and --token (or LSE_TOKEN), a new token file applied on
 * SIGHUP without a restart, and the refusal to listen beyond loopback unprotected unless
 * --insecure is given.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { exitCodes } from '../../src/cli/exit-codes.ts'
import { makeTempDir } from '../support/fixture.ts'
import { makeTestCertificates } from '../support/test-certificates.ts'
import { cleanEnv, logLine, startCollecting, stratum, stratumBin, waitFor } from '../support/stratum-cli.ts'

const certs = makeTestCertificates()
const dir = makeTempDir('secure-serve')
after(() => {
  fs.rmSync(certs.dir, { recursive: true, force: true })
  fs.rmSync(dir, { recursive: true, force: true })
})

async function madeToken(role: string, name: string): Promise<{ token: string; line: string }> {
  const made = await stratum(['token', 'new', '--role', role, '--name', name])
  assert.equal(made.code, 0, made.stderr)
  const match = /^token: (\S+)\nline: {2}(.+)\n$/.exec(made.stdout)
  assert.ok(match !== null, made.stdout)
  return { token: match[1]!, line: match[2]! }
}

describe('stratum serve with TLS and tokens', () => {
  it('serves admin commands that bring the CA and a token, and takes a new token file on SIGHUP', { timeout: 90_000 }, async () => {
    const admin = await madeToken('admin', 'ops')
    const reader = await madeToken('read', 'dashboards')
    const tokens = path.join(dir, 'tokens')
    fs.writeFileSync(tokens, `${admin.line}\n${reader.line}\n`)
    const args = ['serve', '--port', '0', '--data-dir', path.join(dir, 'data'), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--auth-tokens', tokens]
    const server = startCollecting(process.execPath, [stratumBin, ...args], { env: cleanEnv() })
    try {
      const { port } = await waitFor(() => logLine<{ port: number }>(server.stdout(), 'listening'), 20_000, server.stderr)
      const address = `localhost:${port}`
      const withCa = ['--address', address, '--tls-ca', certs.caCert]

      // Health needs TLS but no token: a container's health check carries none.
      assert.deepEqual(await stratum(['health', ...withCa]), { code: 0, stdout: 'SERVING\n', stderr: '' })
      const flushed = await stratum(['flush', ...withCa, '--token', admin.token])
      assert.deepEqual([flushed.code, flushed.stdout], [0, 'flushed\n'], flushed.stderr)
      const stats = await stratum(['stats', ...withCa], { LSE_TOKEN: reader.token })
      assert.equal(stats.code, 0, stats.stderr)
      const denied = await stratum(['flush', ...withCa], { LSE_TOKEN: reader.token })
      assert.equal(denied.code, exitCodes.failed)
      assert.match(denied.stderr, /^stratum flush: Flush needs a token of role admin or above; this token \(dashboards\) has role read \(PERMISSION_DENIED\)\n$/)
      const anonymous = await stratum(['stats', ...withCa])
      assert.match(anonymous.stderr, /needs a token.*\(UNAUTHENTICATED\)/)
      const plaintext = await stratum(['stats', '--address', address, '--token', admin.token, '--deadline-ms', '3000'])
      assert.equal(plaintext.code, exitCodes.failed)
      assert.match(plaintext.stderr, /UNAVAILABLE/)

      // The reader's token is dropped from the file; SIGHUP applies it.
      fs.writeFileSync(tokens, `${admin.line}\n`)
      server.child.kill('SIGHUP')
      await waitFor(() => logLine(server.stdout(), 'reloaded the TLS and token files'), 20_000, server.stderr)
      const revoked = await stratum(['stats', ...withCa], { LSE_TOKEN: reader.token })
      assert.match(revoked.stderr, /unknown token.*\(UNAUTHENTICATED\)/)
      // A token file that cannot be used is logged, and the server keeps the one it had.
      fs.writeFileSync(tokens, 'nonsense\n')
      server.child.kill('SIGHUP')
      await waitFor(() => logLine(server.stdout(), 'reload failed: the server keeps its TLS files and tokens'), 20_000, server.stderr)
      assert.equal((await stratum(['stats', ...withCa, '--token', admin.token])).code, 0)
    } finally {
      server.child.kill('SIGTERM')
    }
    assert.equal(await server.exited, 0, server.stderr())
    for (const secret of [admin.token, reader.token]) assert.ok(!server.stdout().includes(secret), 'no token in the logs')
  })

  it('refuses to listen beyond loopback without TLS and tokens, unless --insecure is given', { timeout: 60_000 }, async () => {
    const data = path.join(dir, 'open-data')
    const refused = await stratum(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', data])
    assert.equal(refused.code, exitCodes.insecure)
    assert.equal(refused.stderr, 'stratum serve: refusing to listen on 0.0.0.0 without TLS (--tls-cert, --tls-key) and tokens (--auth-tokens): anyone who can reach it could read and change the data; give them, or --insecure on a private network\n')
    assert.equal(fs.existsSync(data), false)
    const halfTls = await stratum(['serve', '--port', '0', '--data-dir', data, '--tls-cert', certs.serverCert])
    assert.equal(halfTls.code, exitCodes.usage)
    const badTokens = await stratum(['serve', '--port', '0', '--data-dir', data, '--auth-tokens', path.join(dir, 'missing')])
    assert.equal(badTokens.code, exitCodes.credentialsUnusable)
    assert.match(badTokens.stderr, /^stratum serve: cannot read the token file .*missing.*; fix the file, or point the flag at another\n$/)

    const server = startCollecting(process.execPath, [stratumBin, 'serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', data, '--insecure'], { env: cleanEnv() })
    try {
      const { port } = await waitFor(() => logLine<{ port: number }>(server.stdout(), 'listening'), 20_000, server.stderr)
      assert.equal((await stratum(['stats', '--address', `127.0.0.1:${port}`])).code, 0)
    } finally {
      server.child.kill('SIGTERM')
    }
    assert.equal(await server.exited, 0, server.stderr())
  })
})
