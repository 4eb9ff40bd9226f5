import assert from 'node:assert/strict'
import { closeSync, cpSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { crc32c } from './crc32c.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { hintFileName } from './hint-file.ts'
import { segmentPath } from './segment-file.ts'
import { openStore } from './store.ts'
import { int64, stringList } from './values.ts'
import type { Store } from './store.ts'

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
    // Sealed segments have hints, and an open from a hint does not read the segment: the damage
    // would be found by the reads of its records (there are none in the header). Scan it.
    unlinkSync(join(dir, hintFileName(1)))
    const warnings: string[] = []
    const store = await openStore({ dir, onWarning: (message) => warnings.push(message) })
    const report = (await store.stats()).lastRecovery
    assert.deepEqual(report.damagedRanges[0], { segmentNumber: 1, offset: 0, lengthBytes: segmentHeaderBytes })
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
    header.writeUInt32LE(5, 8)
    header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
    overwrite(segmentPath(dir, 2), 0, header)
    await assert.rejects(openStore({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNSUPPORTED_FORMAT')
      assert.match(error.message, /segment format version 5; this version of Stratum reads versions 1, 2, 3, 4/)
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

/** Everything a store holds, as one comparable string. */
async function snapshot(store: Store): Promise<string> {
  const parts: string[] = []
  for (const docId of (await store.listProblems({ limit: 100_000 })).ids) {
    const page = await store.getAllTestCases(docId, { includeOutputs: true })
    parts.push(
      JSON.stringify([docId, await store.getProblemHtml(docId), await store.getProblemMeta(docId), page], (_key, item: unknown) =>
        typeof item === 'bigint' ? `${item}n` : item instanceof Map ? [...item] : item,
      ),
    )
  }
  return parts.join('\n')
}

/** A closed store of many segments with updates and deletes, opened once (so it has hints). */
async function hintedStore(): Promise<{ dir: string; expected: string; sealedCount: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-hints-'))
  folders.push(dir)
  let store = await openStore({ dir, segmentSizeBytes: 4096, syncMode: 'none' })
  for (let round = 0; round < 24; round++) {
    const docId = await store.createProblem(`<p>${round}</p>`, { round: String(round) })
    const tcIds: number[] = []
    for (let index = 0; index < 8; index++) tcIds.push(await store.addTestCase(docId, int64(round * 100 + index)))
    await store.setExpectedOutput(docId, tcIds[0]!, stringList(['a', String(round)]))
    await store.updateTestCase(docId, tcIds[1]!, int64(-round))
    await store.deleteTestCase(docId, tcIds[2]!)
    await store.updateProblemColumn(docId, 'seen', 'yes')
    if (round % 4 === 3) await store.deleteProblem(docId)
  }
  await store.close()
  // The writer wrote a hint for every segment it sealed. Set them aside, so that this open scans
  // every segment and writes them again: the two must be the same, byte for byte.
  const sealedHints = readdirSync(dir).filter((name) => name.endsWith('.hint')).sort()
  const written = new Map(sealedHints.map((name) => [name, readFileSync(join(dir, name))]))
  for (const name of sealedHints) unlinkSync(join(dir, name))
  store = await openStore({ dir, segmentSizeBytes: 4096 })
  const first = await store.stats()
  const sealedCount = first.segmentCount - 1
  assert.ok(sealedCount >= 3, `${sealedCount} sealed segments`)
  assert.equal(sealedHints.length, sealedCount, 'every sealed segment got a hint when it was sealed')
  assert.equal(first.lastRecovery.segmentsScanned, first.segmentCount, 'with no hints, the open scans every segment')
  assert.equal(first.lastRecovery.hintsWritten, sealedCount, 'and writes a hint for each sealed one')
  for (const [name, bytes] of written) assert.ok(readFileSync(join(dir, name)).equals(bytes), `${name}: sealed and scanned hints agree`)
  const expected = await snapshot(store)
  await store.close()
  return { dir, expected, sealedCount }
}

describe('hint files', () => {
  it('open sealed segments from their hints, with exactly what a scan gives', async () => {
    const { dir, expected, sealedCount } = await hintedStore()
    const store = await openStore({ dir, segmentSizeBytes: 4096 })
    const report = (await store.stats()).lastRecovery
    assert.equal(report.segmentsFromHints, sealedCount)
    assert.equal(report.segmentsScanned, 1, 'only the newest segment is scanned')
    assert.equal(report.hintsWritten, 0)
    assert.equal(await snapshot(store), expected)
    await store.close()
  })

  it('falls back to a scan, with identical results, when a hint is truncated, bit-flipped, missing or stale', async () => {
    const { dir, expected } = await hintedStore()
    const hintPath = join(dir, hintFileName(2))
    const pristine = readFileSync(hintPath)
    const damages: Array<[string, () => void, RegExp | undefined]> = [
      ['truncated', () => writeFileSync(hintPath, pristine.subarray(0, pristine.length - 9)), /bad checksum/],
      ['bit-flipped', () => writeFileSync(hintPath, Buffer.from(pristine.map((byte, index) => (index === 40 ? byte ^ 0x04 : byte)))), /bad checksum/],
      ['empty', () => writeFileSync(hintPath, Buffer.alloc(0)), /too short/],
      ['missing', () => unlinkSync(hintPath), undefined],
      ['of another segment', () => cpSync(join(dir, hintFileName(1)), hintPath), /names segment 1/],
    ]
    for (const [name, damage, problem] of damages) {
      damage()
      const store = await openStore({ dir, segmentSizeBytes: 4096 })
      const report = (await store.stats()).lastRecovery
      assert.equal(report.segmentsScanned, 2, `${name}: segment 2 and the newest are scanned`)
      assert.equal(report.hintsWritten, 1, `${name}: the hint is written again`)
      if (problem === undefined) assert.deepEqual(report.unusableHints, [], name)
      else assert.match(report.unusableHints[0]?.problem ?? '', problem, name)
      assert.equal(report.damagedRecordCount + report.damagedRangeCount, 0, name)
      assert.equal(await snapshot(store), expected, name)
      await store.close()
      assert.ok(readFileSync(hintPath).equals(pristine), `${name}: the rewritten hint is the same`)
    }
  })

  it('writes no hint for a segment whose scan found damage, so the damage is reported at every open', async () => {
    const { dir } = await hintedStore()
    unlinkSync(join(dir, hintFileName(2)))
    const segment = readFileSync(segmentPath(dir, 2))
    // In the payload of the last record before the syncMark that ends a sealed segment.
    const offset = segment.length - recordHeaderBytes - 3
    overwrite(segmentPath(dir, 2), offset, Buffer.from([segment[offset]! ^ 0xff]))
    for (let open = 0; open < 2; open++) {
      const store = await openStore({ dir, segmentSizeBytes: 4096, onWarning: () => undefined })
      const report = (await store.stats()).lastRecovery
      assert.equal(report.damagedRecordCount, 1, `open ${open}`)
      assert.equal(report.hintsWritten, 0, `open ${open}`)
      await store.close()
    }
    assert.ok(!readdirSync(dir).includes(hintFileName(2)))
  })
})
