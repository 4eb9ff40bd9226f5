/**
 * `stratum verify` (the built command): exit 0 and a summary for a sound store, exit 1 naming the
 * damage for a damaged one, and a refusal on one line for a folder a server has open.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { openStore } from '../../src/engine/index.ts'
import { int64 } from '../../src/engine/values.ts'
import { stratum } from '../support/stratum-cli.ts'
import { startTestServer } from '../support/test-server.ts'

describe('stratum verify', () => {
  it('exits 0 with a summary for a sound store, and 1 naming a damaged record', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-verify-cli-'))
    try {
      const store = await openStore({ dir })
      const problemId = await store.createProblem('<p>x</p>', { title: 'X' })
      await store.addTestCase(problemId, int64(1))
      await store.close()
      const sound = await stratum(['verify', '--data-dir', dir])
      assert.equal(sound.code, 0, sound.stderr)
      assert.match(sound.stdout, /^segment 1 \(format 4, [\d,]+ bytes\): 4 records; hint: none\n.*: 1 segments, 4 records; 1 problems, 1 test cases, 0 outputs; live [\d,]+ bytes, tombstones 0 bytes, dead [\d,]+ bytes\nno damage found\n$/)
      // The test case's value (the third record: the problem's text and columns come first), its first byte.
      const segment = path.join(dir, '000000000001.seg')
      const bytes = fs.readFileSync(segment)
      const records: number[] = []
      for (let at = 40; at < bytes.length; at += 40 + bytes.readUInt32LE(at + 12)) records.push(at)
      bytes[records[2]! + 40]! ^= 0x01
      fs.writeFileSync(segment, bytes)
      const damaged = await stratum(['verify', '--data-dir', dir, '--json'])
      assert.equal(damaged.code, 1, damaged.stderr)
      const report = JSON.parse(damaged.stdout) as { damaged: boolean; segments: Array<{ damagedRecords: Array<{ offset: number; kind: number }> }> }
      assert.equal(report.damaged, true)
      assert.deepStrictEqual(
        report.segments[0]!.damagedRecords.map(({ offset, kind }) => ({ offset, kind })),
        [{ offset: records[2], kind: 4 }],
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says so when a folder holds no segment', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-verify-empty-'))
    try {
      const { code, stdout } = await stratum(['verify', '--data-dir', dir])
      assert.equal(code, 0)
      assert.match(stdout, /^no segment files: an empty store, or not a store folder\n/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses, on one line with exit 1, a folder that a server has open', { timeout: 60_000 }, async () => {
    const server = await startTestServer()
    try {
      const { code, stderr } = await stratum(['verify', '--data-dir', server.dir])
      assert.equal(code, 1)
      assert.match(stderr, /^stratum verify: .* is open in another process: stop it first, then verify\n$/)
    } finally {
      await server.stop()
    }
  })
})
