/**
 * Verifying a closed store: it finds what recovery would (live records and bytes as the store
 * counts them), reports damaged records and ranges with their offsets, a torn tail as no damage,
 * and a hint file that disagrees with its segment; and it changes no byte of the folder.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { crc32c } from './crc32c.ts'
import { StratumError } from './errors.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { tempStores } from './testing/temp-stores.ts'
import { int64, string } from './values.ts'
import { verifyStore } from './verify.ts'

const { tempDir, open, close } = tempStores('stratum-verify-test-', { syncMode: 'always', compactionIntervalMs: 0, segmentSizeBytes: 4096 })

/** A closed store over several sealed segments, with updates, deletes and outputs. */
async function closedStore(): Promise<{ dir: string; stats: { documents: number; inputNodes: number; outputNodes: number; liveBytes: number } }> {
  const dir = tempDir()
  const store = await open({ dir })
  const kept = await store.createProblem('<p>kept</p>', { title: 'A' })
  const gone = await store.createProblem('<p>gone</p>')
  await store.addTestCase(gone, int64(1))
  for (let index = 0; index < 20; index++) {
    const tc = await store.addTestCase(kept, string(`case ${index} ${'x'.repeat(300)}`))
    if (index % 3 === 0) await store.setExpectedOutput(kept, tc, int64(index))
    if (index % 5 === 0) await store.updateTestCase(kept, tc, string(`again ${index}`))
    if (index % 7 === 6) await store.deleteTestCase(kept, tc)
  }
  await store.updateProblemColumn(kept, 'title', 'B')
  await store.deleteProblem(gone)
  const { documents, inputNodes, outputNodes, liveBytes } = await store.stats()
  await close(store)
  return { dir, stats: { documents, inputNodes, outputNodes, liveBytes } }
}

function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
}

/** The offset of the `index`th record (from 0) of a segment file, by the lengths in the headers. */
function recordOffset(bytes: Buffer, index: number): number {
  let offset = segmentHeaderBytes
  for (let record = 0; record < index; record++) offset += recordHeaderBytes + bytes.readUInt32LE(offset + 12)
  return offset
}

describe('verifyStore', () => {
  it('finds what the store counts, hints matching, and changes nothing', async () => {
    const { dir, stats } = await closedStore()
    const before = snapshot(dir)
    const report = await verifyStore(dir)
    assert.equal(report.damaged, false)
    assert.ok(report.segments.length >= 3, `${report.segments.length} segments`)
    assert.ok(report.segments.slice(0, -1).every((segment) => segment.hint === 'matches'), JSON.stringify(report.segments.map((segment) => segment.hint)))
    assert.deepStrictEqual(
      { documents: report.documents, inputNodes: report.inputNodes, outputNodes: report.outputNodes, liveBytes: report.liveBytes },
      stats,
    )
    assert.ok(report.deadBytes > 0 && report.tombstoneBytes > 0)
    assert.deepStrictEqual(snapshot(dir), before, 'no byte of the folder changed')
  })

  it('reports a damaged payload as a damaged record and a damaged header as a range, with their offsets', async () => {
    const { dir } = await closedStore()
    const path = join(dir, '000000000002.seg')
    const bytes = readFileSync(path)
    const payloadHit = recordOffset(bytes, 1)
    const headerHit = recordOffset(bytes, 3)
    bytes[payloadHit + recordHeaderBytes]! ^= 0x01
    bytes[headerHit + 20]! ^= 0x01
    writeFileSync(path, bytes)
    const report = await verifyStore(dir)
    assert.equal(report.damaged, true)
    const segment = report.segments.find((candidate) => candidate.segmentNumber === 2)!
    assert.deepStrictEqual(
      segment.damagedRecords.map((record) => record.offset),
      [payloadHit],
    )
    assert.equal(segment.damagedRangeCount, 1)
    assert.equal(segment.damagedRanges[0]!.offset, headerHit)
  })

  it('reports a torn tail of the newest segment, which the next open cuts, as no damage', async () => {
    const { dir } = await closedStore()
    const newest = readdirSync(dir).filter((name) => name.endsWith('.seg')).sort().at(-1)!
    const path = join(dir, newest)
    const bytes = readFileSync(path)
    // Half a record's header: a write cut short.
    writeFileSync(path, Buffer.concat([bytes, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])]))
    const report = await verifyStore(dir)
    assert.equal(report.damaged, false)
    assert.deepStrictEqual(report.segments.at(-1)!.tornTail, { offset: bytes.length, droppedBytes: 20 })
  })

  it('refuses a folder whose LOCK names a live process, which the kernel lock may not see (another network namespace)', async () => {
    const { dir } = await closedStore()
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      writeFileSync(join(dir, 'LOCK'), `${JSON.stringify({ pid: holder.pid, startTime: null, host: hostname() })}\n`)
      await assert.rejects(verifyStore(dir), (error: unknown) => error instanceof StratumError && error.code === 'LOCKED' && /in use by process \d+/.test(error.message))
    } finally {
      holder.kill()
    }
  })

  it('reports a hint file that passes its checks but disagrees with its segment', async () => {
    const { dir } = await closedStore()
    const path = join(dir, '000000000001.hint')
    const hint = readFileSync(path)
    // The first entry's seq (entries start at 24; seq at 12 into an entry), checksum made right.
    hint.writeUInt32LE(hint.readUInt32LE(24 + 12) + 1, 24 + 12)
    hint.writeUInt32LE(crc32c(hint.subarray(0, hint.length - 4)), hint.length - 4)
    writeFileSync(path, hint)
    const report = await verifyStore(dir)
    assert.equal(report.damaged, true)
    assert.match(report.segments[0]!.hint, /^000000000001\.hint disagrees with its segment at record 1 \(offset 40\)$/)
  })
})
