/**
 * The `stratum serve` flags of TLS and tokens, and the rule that keeps a server from being reached
 * unprotected by mistake: beyond loopback, it listens only with TLS and tokens, unless
 * `--insecure` says that the network is private.
 */
import net from 'node:net'
import { Option, type Command } from 'commander'
import type { ServerOptions } from '../server/index.ts'

export interface SecurityOptions {
  tlsCert?: string
  tlsKey?: string
  tlsClientCa?: string
  authTokens?: string
  insecure: boolean
}

export function addSecurityOptions(command: Command): Command {
  return command
    .addOption(new Option('--tls-cert <file>', "serve TLS with this PEM certificate chain (with --tls-key)").env('LSE_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('LSE_TLS_KEY'))
    .addOption(new Option('--tls-client-ca <file>', 'require client certificates signed by this PEM CA (mutual TLS)').env('LSE_TLS_CLIENT_CA'))
    .addOption(new Option('--auth-tokens <file>', 'require a token of the right role on every call; the file of token digests and roles').env('LSE_AUTH_TOKENS'))
    .addOption(new Option('--insecure', 'allow listening beyond loopback without TLS and tokens (a private network only)').env('LSE_INSECURE').default(false))
}

/** What is wrong with the combination of flags, as one line, or undefined. */
export function securityProblem(host: string, options: SecurityOptions): string | undefined {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) return '--tls-cert and --tls-key go together: give both, or neither'
  if (options.tlsClientCa !== undefined && options.tlsCert === undefined) return '--tls-client-ca needs --tls-cert and --tls-key (client certificates are checked over TLS)'
  if (isLoopback(host) || options.insecure) return undefined
  const missing = [options.tlsCert === undefined ? 'TLS (--tls-cert, --tls-key)' : undefined, options.authTokens === undefined ? 'tokens (--auth-tokens)' : undefined]
    .filter((what) => what !== undefined)
    .join(' and ')
  if (missing === '') return undefined
  return `refusing to listen on ${host} without ${missing}: anyone who can reach it could read and change the data; give them, or --insecure on a private network`
}

export function securityOf(options: SecurityOptions): Pick<ServerOptions, 'tls' | 'authTokensFile'> {
  return {
    ...(options.tlsCert === undefined || options.tlsKey === undefined
      ? {}
      : { tls: { certFile: options.tlsCert, keyFile: options.tlsKey, ...(options.tlsClientCa === undefined ? {} : { clientCaFile: options.tlsClientCa }) } }),
    ...(options.authTokens === undefined ? {} : { authTokensFile: options.authTokens }),
  }
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (net.isIPv4(host)) return host.startsWith('127.')
  return host === '::1' || host === '[::1]'
}
