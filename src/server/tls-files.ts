/**
 * The server's TLS files: its certificate chain and key, and the CA that client certificates must
 * be signed by (mutual TLS). Read at start and again on reload, so that renewed certificates apply
 * without a restart; a file that cannot be read or used is a TlsFilesError naming it.
 */
import fs from 'node:fs'
import tls from 'node:tls'

export interface TlsFiles {
  /** PEM certificate chain of the server. */
  certFile: string
  /** PEM private key of the certificate. */
  keyFile: string
  /** PEM CA certificates; when given, clients must present a certificate signed by one of them. */
  clientCaFile?: string
}

export class TlsFilesError extends Error {}

export type TlsOptions = tls.SecureContextOptions & { requestCert: boolean }

export function readTlsFiles(files: TlsFiles): TlsOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file)
    } catch (error) {
      throw new TlsFilesError(`cannot read the ${what} ${file}: ${(error as Error).message}`, { cause: error })
    }
  }
  const options: TlsOptions = {
    cert: read(files.certFile, 'TLS certificate'),
    key: read(files.keyFile, 'TLS key'),
    requestCert: files.clientCaFile !== undefined,
    ...(files.clientCaFile === undefined ? {} : { ca: read(files.clientCaFile, 'client CA certificate') }),
  }
  try {
    // Fails now, naming the files, rather than at the first connection.
    tls.createSecureContext(options)
  } catch (error) {
    const names = [files.certFile, files.keyFile, files.clientCaFile].filter((file) => file !== undefined).join(', ')
    throw new TlsFilesError(`the TLS files ${names} cannot be used: ${(error as Error).message}`, { cause: error })
  }
  return options
}
