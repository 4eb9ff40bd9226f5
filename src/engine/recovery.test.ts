import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { crc32c } from './crc32c.ts'
import { segmentPath } from './segment-file.ts'
import { openStore } from './store.ts'
import { int64 } from './values.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

/** A closed store of two segments at least, and the ids it holds. */
async function storeWithSealedSegment(): Promise<{ dir: string; docId: number; tcIds: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-recovery-'))
  folders.push(dir)
  const store = await openStore({ dir, segmentSizeBytes: 4096 })
  const docId = await store.createProblem('<p>first</p>', { title: 't' })
  const tcIds: number[] = []
  for (let index = 0; index < 100; index++) tcIds.push(await store.addTestCase(docId, int64(index)))
  assert.ok((await store.stats()).segmentCount >= 2)
  await store.close()
  return { dir, docId, tcIds }
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, bytes, 0, bytes.length, offset)
  closeSync(fd)
}

describe('recovery', () => {
  it('opens past a damaged header of a sealed segment, reporting it, and reads its records', async () => {
    const { dir, docId, tcIds } = await storeWithSealedSegment()
    overwrite(segmentPath(dir, 1), 3, Buffer.from([0x00]))
    const warnings: string[] = []
    const store = await openStore({ dir, onWarning: (message) => warnings.push(message) })
    const report = (await store.stats()).lastRecovery
    assert.deepEqual(report.damagedRanges[0], { segmentNumber: 1, offset: 0, lengthBytes: 16 })
    assert.match(warnings.join('\n'), /damaged records/)
    assert.equal(await store.getProblemHtml(docId), '<p>first</p>')
    const page = await store.getAllTestCases(docId)
    assert.deepEqual(page?.testCases.map((testCase) => testCase.tcId), tcIds)
    await store.close()
  })

  it('refuses a segment file that is not a Stratum segment with UNSUPPORTED_FORMAT', async () => {
    const { dir } = await storeWithSealedSegment()
    writeFileSync(segmentPath(dir, 1), 'this is some other file, not a segment at all')
    await assert.rejects(openStore({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNSUPPORTED_FORMAT')
      assert.match(error.message, /000000000001\.seg is not a Stratum segment file/)
      return true
    })
    // The failed open released the lock: the folder can be opened once the file is removed.
    rmSync(segmentPath(dir, 1))
    await (await openStore({ dir })).close()
  })

  it('refuses a segment of a newer format version, naming both versions', async () => {
    const { dir } = await storeWithSealedSegment()
    const header = Buffer.alloc(16)
    header.write('STRATSEG', 0, 'latin1')
    header.writeUInt32LE(2, 8)
    header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
    overwrite(segmentPath(dir, 2), 0, header)
    await assert.rejects(openStore({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNSUPPORTED_FORMAT')
      assert.match(error.message, /segment format version 2; this version of Stratum reads version 1/)
      return true
    })
  })

  it('removes a segment left half-created by a crash, and reports it', async () => {
    const { dir, docId } = await storeWithSealedSegment()
    writeFileSync(`${segmentPath(dir, 99)}.tmp`, Buffer.alloc(7))
    const store = await openStore({ dir })
    assert.deepEqual((await store.stats()).lastRecovery.removedTemporaryFiles, ['000000000099.seg.tmp'])
    assert.ok(!readdirSync(dir).some((name) => name.endsWith('.tmp')))
    assert.equal(await store.getProblemHtml(docId), '<p>first</p>')
    await store.close()
  })

  it('reads the zeros the writer fills ahead of its tail as the end of the log, not as damage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratum-recovery-'))
    folders.push(dir)
    const store = await openStore({ dir })
    const docId = await store.createProblem('zero tail')
    const tcId = await store.addTestCase(docId, int64(7))
    const logicalBytes = (await store.stats()).activeSegmentBytes
    assert.ok(statSync(segmentPath(dir, 1)).size > logicalBytes, 'the active segment is zero-filled ahead')
    // A crash: the store is never closed; its lock is left to a dead process.
    unlinkSync(join(dir, 'LOCK'))
    const reopened = await openStore({ dir, onWarning: () => assert.fail('a zero tail is not damage') })
    const report = (await reopened.stats()).lastRecovery
    assert.equal(report.tornTail, null)
    assert.equal(report.damagedRangeCount, 0)
    assert.deepEqual(await reopened.getTestCase(docId, tcId), int64(7))
    await reopened.addTestCase(docId, int64(8))
    await reopened.close()
    assert.equal(statSync(segmentPath(dir, 1)).size, (await openStoreStats(dir)).activeSegmentBytes, 'close cuts the zeros')
  })
})

async function openStoreStats(dir: string) {
  const store = await openStore({ dir })
  const stats = await store.stats()
  await store.close()
  return stats
}
