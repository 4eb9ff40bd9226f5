/**
 * The causes of a failed start as errors of the forms that test/cli/start-failures.test.ts
 * cannot bring about on any machine: a listen error as Node throws it (with `code` and
 * `syscall`), a missing address family, a read-only file system, a full disk, an unknown error.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DiskFullError, StratumError } from '../engine/errors.ts'
import { MetricsListenError } from '../server/metrics-endpoint.ts'
import { exitCodes } from './exit-codes.ts'
import { startFailure } from './start-failure.ts'

const settings = { host: '::1', port: 50051, dataDir: '/srv/stratum' }

function systemError(code: string, syscall: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, syscall })
}

function opening(cause: unknown): StratumError {
  return new StratumError('IO_ERROR', `opening the store in ${settings.dataDir}: ${String(cause)}`, { cause })
}

describe('startFailure', () => {
  it('reads the errno code of a listen error from its code', () => {
    assert.deepEqual(startFailure(systemError('EADDRINUSE', 'listen', 'address already in use ::1:50051'), settings), {
      exitCode: exitCodes.portInUse,
      line: 'port 50051 is in use (on ::1); stop the process listening on it, or choose another --port',
    })
  })

  it('names the metrics port and its flags when that port is the one that cannot be listened on', () => {
    const inUse = new MetricsListenError('127.0.0.1', 9464, systemError('EADDRINUSE', 'listen', 'address already in use 127.0.0.1:9464'))
    assert.deepEqual(startFailure(inUse, settings), {
      exitCode: exitCodes.portInUse,
      line: 'metrics port 9464 is in use (on 127.0.0.1); stop the process listening on it, or choose another --metrics-port',
    })
    const elsewhere = new MetricsListenError('10.9.9.9', 9464, systemError('EADDRNOTAVAIL', 'listen', 'address not available'))
    assert.match(startFailure(elsewhere, settings).line, /^metrics host 10\.9\.9\.9 is not an address of this machine; set --metrics-host to /)
  })

  it('names an address family the machine lacks, and any other listen error with its address', () => {
    assert.equal(startFailure(systemError('EAFNOSUPPORT', 'listen', 'address family not supported'), settings).exitCode, exitCodes.cannotListen)
    assert.deepEqual(startFailure(systemError('EINVAL', 'listen', 'invalid argument'), settings), {
      exitCode: exitCodes.cannotListen,
      line: 'cannot listen on [::1]:50051 (EINVAL); choose another --host or --port',
    })
  })

  it('tells a read-only file system and a full disk apart from other failures of the data folder', () => {
    assert.deepEqual(startFailure(opening(systemError('EROFS', 'open', "read-only file system, open '/srv/stratum/LOCK'")), settings), {
      exitCode: exitCodes.dataDirNotWritable,
      line: 'data folder /srv/stratum is on a read-only file system; mount it read-write, or point --data-dir elsewhere',
    })
    const full = new DiskFullError('/srv/stratum/000000000001.seg', 4096, systemError('ENOSPC', 'write', 'no space left on device'))
    assert.equal(startFailure(full, settings).exitCode, exitCodes.diskFull)
  })

  it('reports an error of no known cause as it is, with exit code 1', () => {
    assert.deepEqual(startFailure(opening(systemError('EIO', 'read', 'i/o error')), settings), {
      exitCode: exitCodes.failed,
      line: 'could not start: opening the store in /srv/stratum: Error: EIO: i/o error (--log-level debug logs the details)',
    })
    assert.equal(startFailure(new TypeError('x is not a function\n  somewhere'), settings).line, 'could not start: x is not a function somewhere (--log-level debug logs the details)')
  })
})
