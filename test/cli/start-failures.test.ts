/**
 * `stratum serve` that cannot start: one line on stderr naming the cause and its fix, the exit
 * code of that cause (src/cli/exit-codes.ts), and no stack trace unless --log-level debug.
 *
 * Permissions are tested as an unprivileged user: as root, the CLI runs as uid 65534 (nobody),
 * since root may write anywhere and listen on any port.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openStore } from '../../src/engine/index.ts'
import { crc32c } from '../../src/engine/crc32c.ts'
import { segmentMagic, segmentPath } from '../../src/engine/segment-file.ts'
import { exitCodes } from '../../src/cli/exit-codes.ts'
import { makeTempDir } from '../support/fixture.ts'
import { stratum, type Finished } from '../support/stratum-cli.ts'

const nobody = { uid: 65534, gid: 65534 }
const unprivileged = process.getuid?.() === 0 ? nobody : undefined

/** Checks that `result` is a failed start: exit `code`, one line on stderr matching `line`, no stack. */
function assertFailedStart(result: Finished, code: number, line: RegExp): void {
  const context = JSON.stringify(result)
  assert.equal(result.code, code, context)
  assert.match(result.stderr, /^stratum serve: [^\n]+\n$/, `one line on stderr: ${context}`)
  assert.match(result.stderr, line, context)
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at |"stack"/, `no stack trace: ${context}`)
}

function serve(args: readonly string[], as?: typeof nobody): Promise<Finished> {
  return stratum(['serve', '--port', '0', ...args], {}, as)
}

/** A folder that the user the permission tests run as owns. */
function ownedFolder(prefix: string): string {
  const dir = makeTempDir(prefix)
  if (unprivileged !== undefined) fs.chownSync(dir, unprivileged.uid, unprivileged.gid)
  return dir
}

describe('stratum serve that cannot start', () => {
  const temp = makeTempDir('start-failures')
  after(() => fs.rmSync(temp, { recursive: true, force: true }))

  describe('because of its address', () => {
    let blocker: net.Server
    let busyPort = 0
    before(async () => {
      blocker = net.createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      busyPort = (blocker.address() as net.AddressInfo).port
    })
    after(() => new Promise<void>((resolve) => blocker.close(() => resolve())))

    it('port in use: exit 3', async () => {
      const dataDir = path.join(temp, 'port-in-use')
      const result = await stratum(['serve', '--port', String(busyPort), '--data-dir', dataDir])
      assertFailedStart(result, exitCodes.portInUse, new RegExp(`^stratum serve: port ${busyPort} is in use \\(on 127\\.0\\.0\\.1\\); stop the process listening on it, or choose another --port\\n$`))
    })

    it('metrics port in use: exit 3, naming the metrics port, and no data folder', async () => {
      const dataDir = path.join(temp, 'metrics-port-in-use')
      const result = await serve(['--metrics-port', String(busyPort), '--data-dir', dataDir])
      assertFailedStart(result, exitCodes.portInUse, new RegExp(`^stratum serve: metrics port ${busyPort} is in use \\(on 127\\.0\\.0\\.1\\); stop the process listening on it, or choose another --metrics-port\\n$`))
      assert.equal(fs.existsSync(dataDir), false)
    })

    it('port in use: leaves no data folder behind', async () => {
      const dataDir = path.join(temp, 'port-in-use-no-folder')
      const result = await stratum(['serve', '--port', String(busyPort), '--data-dir', dataDir])
      assert.equal(result.code, exitCodes.portInUse)
      assert.equal(fs.existsSync(dataDir), false)
    })

    it('a host that is not this machine\'s, or does not resolve: exit 4', async () => {
      const [notHere, unknown] = await Promise.all([
        // 192.0.2.0/24 is reserved for documentation: no machine has it. --insecure: an address
        // beyond loopback is otherwise refused before it is tried.
        serve(['--host', '192.0.2.1', '--insecure', '--data-dir', path.join(temp, 'not-here')]),
        serve(['--host', 'no-such-host.invalid', '--insecure', '--data-dir', path.join(temp, 'unknown-host')]),
      ])
      assertFailedStart(notHere!, exitCodes.cannotListen, /^stratum serve: host 192\.0\.2\.1 is not an address of this machine; set --host to .*127\.0\.0\.1.*0\.0\.0\.0/)
      assertFailedStart(unknown!, exitCodes.cannotListen, /^stratum serve: host no-such-host\.invalid does not resolve to an address; set --host to /)
    })

    it('a port below 1024 without the privilege: exit 4', async (t) => {
      if (Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 80) {
        return t.skip('any user may listen on port 80 on this machine')
      }
      if (!(await canRunAsUnprivileged())) return t.skip('the checkout is not readable by uid 65534')
      const dataDir = ownedFolder('privileged-port')
      try {
        const result = await stratum(['serve', '--port', '80', '--data-dir', dataDir], {}, unprivileged)
        assertFailedStart(result, exitCodes.cannotListen, /^stratum serve: port 80 needs privileges \(ports below 1024 do\); choose a --port from 1024 up, or grant the server CAP_NET_BIND_SERVICE\n$/)
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    })
  })

  describe('because of its data folder', () => {
    it('a file, or a file on its path: exit 5', async () => {
      const file = path.join(temp, 'a-file')
      fs.writeFileSync(file, 'not a folder')
      const [itself, above] = await Promise.all([serve(['--data-dir', file]), serve(['--data-dir', path.join(file, 'data')])])
      const fix = 'point --data-dir at a folder, or at a path where one can be created'
      assertFailedStart(itself!, exitCodes.dataDirIsFile, new RegExp(`^stratum serve: data folder ${file} is a file; ${fix}\\n$`))
      assertFailedStart(above!, exitCodes.dataDirIsFile, new RegExp(`^stratum serve: data folder ${file}/data cannot be created: ${file} is a file; ${fix}\\n$`))
    })

    it('not writable: exit 6', async (t) => {
      if (!(await canRunAsUnprivileged())) return t.skip('the checkout is not readable by uid 65534')
      const readOnly = ownedFolder('read-only')
      fs.chmodSync(readOnly, 0o555)
      try {
        const [itself, below] = await Promise.all([
          serve(['--data-dir', readOnly], unprivileged),
          serve(['--data-dir', path.join(readOnly, 'data')], unprivileged),
        ])
        const uid = (unprivileged ?? { uid: process.getuid!() }).uid
        assertFailedStart(
          itself!,
          exitCodes.dataDirNotWritable,
          new RegExp(`^stratum serve: data folder ${readOnly} is not writable by uid ${uid} \\(EACCES: permission denied, open '${readOnly}/LOCK'\\); give that user read and write access there, or point --data-dir elsewhere\\n$`),
        )
        assertFailedStart(below!, exitCodes.dataDirNotWritable, new RegExp(`^stratum serve: data folder ${readOnly}/data is not writable by uid ${uid} \\(EACCES: permission denied, mkdir `))
      } finally {
        fs.rmSync(readOnly, { recursive: true, force: true })
      }
    })

    it('held by another process: exit 7, naming it and when it started', async () => {
      const dataDir = path.join(temp, 'held')
      const store = await openStore({ dir: dataDir })
      try {
        const result = await serve(['--data-dir', dataDir])
        assertFailedStart(
          result,
          exitCodes.dataDirLocked,
          new RegExp(`^stratum serve: data folder ${dataDir} is held by process ${process.pid} \\(started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); stop it first\\n$`),
        )
        const started = Date.parse(/\(started ([^)]+)\)/.exec(result.stderr)![1]!)
        assert.ok(Math.abs(started - (Date.now() - process.uptime() * 1000)) < 5_000, `started ${new Date(started).toISOString()}`)
      } finally {
        await store.close()
      }
    })

    it('of a format this version cannot read, or of another shard: exit 8', async () => {
      const newer = path.join(temp, 'newer-format')
      fs.mkdirSync(newer)
      const header = Buffer.alloc(16)
      segmentMagic.copy(header, 0)
      header.writeUInt32LE(99, 8)
      header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
      fs.writeFileSync(segmentPath(newer, 1), header)

      const otherShard = path.join(temp, 'other-shard')
      const store = await openStore({ dir: otherShard, shard: 1 })
      await store.createProblem('of shard 1')
      await store.close()

      const [format, shard] = await Promise.all([serve(['--data-dir', newer]), serve(['--data-dir', otherShard, '--shard', '0'])])
      assertFailedStart(
        format!,
        exitCodes.dataDirUnusable,
        new RegExp(`^stratum serve: data folder ${newer} holds files this version of Stratum cannot read: .*000000000001\\.seg has segment format version 99.*; move them away, run the version that wrote them, or point --data-dir elsewhere\\n$`),
      )
      assertFailedStart(shard!, exitCodes.dataDirUnusable, new RegExp(`^stratum serve: data folder ${otherShard} cannot be opened with these settings: .*shard 1.*shard 0; start with the settings it was written with \\(--shard\\)`))
    })
  })

  it('logs the stack of the error at --log-level debug, still with one line on stderr', async () => {
    const file = path.join(temp, 'a-file-for-debug')
    fs.writeFileSync(file, 'not a folder')
    const result = await serve(['--data-dir', file, '--log-level', 'debug'])
    assert.equal(result.code, exitCodes.dataDirIsFile)
    assert.match(result.stderr, /^stratum serve: data folder [^\n]+ is a file;[^\n]+\n$/)
    const line = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as { msg: string; err?: { stack?: string } })
      .find((entry) => entry.msg === 'could not start')
    assert.match(line?.err?.stack ?? '', /ENOTDIR[\s\S]*\n\s+at /, result.stdout)
  })
})

let unprivilegedRuns: Promise<boolean> | undefined

/** Whether the command runs as the unprivileged user: it must be able to read the checkout. */
function canRunAsUnprivileged(): Promise<boolean> {
  unprivilegedRuns ??= stratum(['serve', '--help'], {}, unprivileged).then((result) => result.code === 0)
  return unprivilegedRuns
}
