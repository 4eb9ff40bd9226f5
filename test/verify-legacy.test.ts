/**
 * `verifyStore` on a store of segment format 2 whose newest segment ends in a record cut short:
 * a torn tail, as recovery sees it, not damage.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { crc32c } from '../src/engine/crc32c.ts'
import { RecordKind } from '../src/engine/record.ts'
import { segmentPath } from '../src/engine/segment-file.ts'
import { verifyStore } from '../src/engine/verify.ts'
import { forgedRecord } from './support/forged-record.ts'

describe('verifyStore, format 2', () => {
  it('reports a record cut short at the end of the newest segment as a torn tail, not damage', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-verify-legacy-'))
    try {
      const header = Buffer.alloc(16)
      header.write('STRATSEG', 0, 'latin1')
      header.writeUInt32LE(2, 8)
      header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
      const blob = forgedRecord({ kind: RecordKind.docBlob, flags: 1, seq: 1, id: 1, parentId: 0, payload: Buffer.from('old') })
      const meta = forgedRecord({ kind: RecordKind.docMeta, flags: 0, seq: 2, id: 1, parentId: 0, payload: Buffer.alloc(4) })
      const cut = forgedRecord({ kind: RecordKind.docBlob, flags: 0, seq: 3, id: 1, parentId: 0, payload: Buffer.from('new text') }).subarray(0, 30)
      fs.writeFileSync(segmentPath(dir, 1), Buffer.concat([header, blob, meta, cut]))
      const report = await verifyStore(dir)
      assert.equal(report.damaged, false, JSON.stringify(report.segments))
      assert.deepStrictEqual(report.segments[0]!.tornTail, { offset: 16 + blob.length + meta.length, droppedBytes: 30 })
      assert.equal(report.documents, 1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
