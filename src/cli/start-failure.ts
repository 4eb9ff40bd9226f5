/**
 * Why `stratum serve` could not start, as one line for an operator (the cause and its fix) and
 * the exit code of that cause (exit-codes.ts).
 *
 * Errors from listening are told apart by their errno code (EADDRINUSE, EACCES, …), which Node
 * gives as `code` on an error of `listen` (or `getaddrinfo`, for a host that does not resolve).
 * Errors from opening the store are StratumErrors, with the error of the operating system as their
 * cause.
 */
import fs from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { isStratumError, LockedError, type StratumError } from '../engine/index.ts'
import { MetricsListenError, TlsFilesError, TokenFileError } from '../server/index.ts'
import { exitCodes, type ExitCode } from './exit-codes.ts'

export interface StartFailure {
  exitCode: ExitCode
  /** One line, without its end of line. */
  line: string
}

export interface StartSettings {
  host: string
  port: number
  dataDir: string
}

export function startFailure(error: unknown, settings: StartSettings): StartFailure {
  if (error instanceof TlsFilesError || error instanceof TokenFileError) {
    return { exitCode: exitCodes.credentialsUnusable, line: `${oneLine(error.message)}; fix the file, or point the flag at another` }
  }
  // The metrics port's error names its own address and flags, not the gRPC port's.
  if (error instanceof MetricsListenError) {
    const metricsCode = listenErrorCode(error.cause)
    if (metricsCode !== undefined) return listenFailure(metricsCode, error, metricsAddressNames)
  }
  const listenCode = listenErrorCode(error)
  if (listenCode !== undefined) return listenFailure(listenCode, settings, grpcAddressNames)
  if (isStratumError(error)) {
    const failure = storeFailure(error, path.resolve(settings.dataDir))
    if (failure !== undefined) return failure
  }
  // A cause this module does not know: the error as it is, its stack at debug level.
  return { exitCode: exitCodes.failed, line: `could not start: ${oneLine(messageOf(error))} (--log-level debug logs the details)` }
}

type ErrnoError = Error & { code: string; syscall?: string; path?: string }

/** The first error with an errno code (ENOTDIR, EAI_AGAIN, …) in `error` and its causes. */
function systemErrorIn(error: unknown): ErrnoError | undefined {
  for (let at = error; at instanceof Error; at = at.cause) {
    const code = (at as Partial<ErrnoError>).code
    if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code)) return at as ErrnoError
  }
  return undefined
}

/** The errno code of a failure to listen, or undefined for any other error. */
function listenErrorCode(error: unknown): string | undefined {
  if (isStratumError(error)) return undefined
  const system = systemErrorIn(error)
  if (system !== undefined && ['listen', 'bind', 'getaddrinfo'].includes(system.syscall ?? '')) return system.code
  return undefined
}

/** An address the server listens on: its flags, named in the fix, and what to call its parts. */
interface AddressNames {
  hostFlag: string
  portFlag: string
  host: string
  port: string
}

const grpcAddressNames: AddressNames = { hostFlag: '--host', portFlag: '--port', host: 'host', port: 'port' }
const metricsAddressNames: AddressNames = { hostFlag: '--metrics-host', portFlag: '--metrics-port', host: 'metrics host', port: 'metrics port' }

function listenFailure(code: string, { host, port }: { host: string; port: number }, names: AddressNames): StartFailure {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const everyInterface = `set ${names.hostFlag} to an address of this machine, such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`
  switch (code) {
    case 'EADDRINUSE':
      return { exitCode: exitCodes.portInUse, line: `${names.port} ${port} is in use (on ${host}); stop the process listening on it, or choose another ${names.portFlag}` }
    case 'EACCES':
      return {
        exitCode: exitCodes.cannotListen,
        line:
          port > 0 && port < 1024
            ? `${names.port} ${port} needs privileges (ports below 1024 do); choose a ${names.portFlag} from 1024 up, or grant the server CAP_NET_BIND_SERVICE`
            : `not allowed to listen on ${address}; choose another ${names.portFlag}`,
      }
    case 'EADDRNOTAVAIL':
      return { exitCode: exitCodes.cannotListen, line: `${names.host} ${host} is not an address of this machine; ${everyInterface}` }
    case 'EAFNOSUPPORT':
      return { exitCode: exitCodes.cannotListen, line: `${names.host} ${host} is of an address family this machine does not support (no IPv6?); ${everyInterface}` }
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return { exitCode: exitCodes.cannotListen, line: `${names.host} ${host} does not resolve to an address; ${everyInterface}` }
    default:
      return { exitCode: exitCodes.cannotListen, line: `cannot listen on ${address} (${code}); choose another ${names.hostFlag} or ${names.portFlag}` }
  }
}

function storeFailure(error: StratumError, dir: string): StartFailure | undefined {
  const elsewhere = 'or point --data-dir elsewhere'
  switch (error.code) {
    case 'LOCKED':
      return { exitCode: exitCodes.dataDirLocked, line: lockedLine(error, dir) }
    case 'UNSUPPORTED_FORMAT':
    case 'CORRUPTION':
      return {
        exitCode: exitCodes.dataDirUnusable,
        line: `data folder ${dir} holds files this version of Stratum cannot read: ${oneLine(error.message)}; move them away, run the version that wrote them, ${elsewhere}`,
      }
    case 'INVALID_ARGUMENT':
      return {
        exitCode: exitCodes.dataDirUnusable,
        line: `data folder ${dir} cannot be opened with these settings: ${oneLine(error.message)}; start with the settings it was written with (--shard), ${elsewhere}`,
      }
    case 'DISK_FULL':
      return { exitCode: exitCodes.diskFull, line: `data folder ${dir}: its volume has no room left; free some space, ${elsewhere}` }
  }
  const system = systemErrorIn(error)
  switch (system?.code) {
    case 'ENOTDIR':
    case 'EEXIST': {
      const file = fileOnPath(dir)
      const what = file === dir ? 'is a file' : file !== undefined ? `cannot be created: ${file} is a file` : `is not a folder (${system.message})`
      return { exitCode: exitCodes.dataDirIsFile, line: `data folder ${dir} ${what}; point --data-dir at a folder, or at a path where one can be created` }
    }
    case 'EACCES':
    case 'EPERM':
      return {
        exitCode: exitCodes.dataDirNotWritable,
        line: `data folder ${dir} is not writable by uid ${process.getuid?.() ?? '?'} (${system.message}); give that user read and write access there, ${elsewhere}`,
      }
    case 'EROFS':
      return { exitCode: exitCodes.dataDirNotWritable, line: `data folder ${dir} is on a read-only file system; mount it read-write, ${elsewhere}` }
  }
  return undefined
}

function lockedLine(error: StratumError, dir: string): string {
  const holder = error instanceof LockedError ? error.holder : undefined
  if (holder === undefined) return `data folder ${dir} is held by another process: ${oneLine(error.message)}`
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`
  const since = holder.startedAt === undefined ? '' : ` (started ${holder.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')})`
  return `data folder ${dir} is held by process ${holder.pid}${where}${since}; stop it first`
}

/** The file that stands where `dir` or a folder above it should be, if any. */
function fileOnPath(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      return fs.statSync(at).isDirectory() ? undefined : at
    } catch {
      // Missing (or below a file): look further up.
    }
    if (path.dirname(at) === at) return undefined
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}
