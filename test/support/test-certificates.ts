/**
 * Throwaway certificates for TLS tests, made with openssl in a temporary folder: a CA, a server
 * certificate for 127.0.0.1 and localhost, a client certificate from the same CA, and a client
 * certificate from another CA (which mutual TLS must refuse). Never committed.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { makeTempDir } from './fixture.ts'

export interface TestCertificates {
  dir: string
  caCert: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  /** A client certificate signed by a CA the server does not know. */
  strangerCert: string
  strangerKey: string
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`])
}

function makeSigned(dir: string, ca: string, name: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`])
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions)
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`])
}

export function makeTestCertificates(): TestCertificates {
  const dir = makeTempDir('certs')
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  makeSigned(dir, 'ca', 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  makeSigned(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\n')
  makeSigned(dir, 'other-ca', 'stranger', 'extendedKeyUsage=clientAuth\n')
  const file = (name: string): string => path.join(dir, name)
  return {
    dir,
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.crt'),
    strangerKey: file('stranger.key'),
  }
}
