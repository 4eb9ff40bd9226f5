import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { recordHeaderBytes } from './limits.ts'
import { decodeIntactRecord, decodeRecordHeader, encodeRecord, recordFlagBatchContinues, RecordKind, recordPayloadIsIntact } from './record.ts'

function sample(): Buffer {
  return encodeRecord(
    { kind: RecordKind.inputPut, flags: recordFlagBatchContinues, seq: 2 ** 40 + 5, id: 2 ** 52 + 3, parentId: 7 },
    5,
    (target, offset) => offset + target.write('hello', offset, 'latin1'),
  )
}

describe('record', () => {
  it('round-trips every header field, ids and seqs up to 2^53 included', () => {
    const record = sample()
    assert.equal(record.length, recordHeaderBytes + 5)
    const header = decodeRecordHeader(record, 0)
    assert.ok(header !== undefined)
    assert.equal(header.kind, RecordKind.inputPut)
    assert.equal(header.flags, recordFlagBatchContinues)
    assert.equal(header.payloadBytes, 5)
    assert.equal(header.seq, 2 ** 40 + 5)
    assert.equal(header.id, 2 ** 52 + 3)
    assert.equal(header.parentId, 7)
    assert.ok(recordPayloadIsIntact(record, 0, header))
  })

  it('rejects a header with any single byte changed', () => {
    const record = sample()
    for (let offset = 0; offset < recordHeaderBytes; offset++) {
      const damaged = Buffer.from(record)
      damaged[offset] = damaged[offset]! ^ 0x01
      assert.equal(decodeRecordHeader(damaged, 0), undefined, `a flip at byte ${offset} went unnoticed`)
    }
  })

  it('keeps a trusted header but fails the payload check when only the payload changed', () => {
    const record = sample()
    record[recordHeaderBytes + 2] = record[recordHeaderBytes + 2]! ^ 0x80
    const header = decodeRecordHeader(record, 0)
    assert.ok(header !== undefined, 'the header is intact')
    assert.equal(recordPayloadIsIntact(record, 0, header), false)
  })

  it('decodes a record at an offset inside a larger buffer', () => {
    const record = sample()
    const larger = Buffer.concat([Buffer.alloc(13, 0xff), record, Buffer.alloc(3)])
    const header = decodeRecordHeader(larger, 13)
    assert.ok(header !== undefined && recordPayloadIsIntact(larger, 13, header))
  })

  it('refuses an unknown kind even with valid checksums', () => {
    const record = encodeRecord({ kind: 99 as RecordKind, flags: 0, seq: 1, id: 1, parentId: 0 }, 0)
    assert.equal(decodeRecordHeader(record, 0), undefined)
  })

  it('refuses a payload length over the limit before allocating', () => {
    assert.throws(() => encodeRecord({ kind: RecordKind.docBlob, flags: 0, seq: 1, id: 1, parentId: 0 }, 2 ** 31), RangeError)
  })

  it('decodes an intact record with one checksum, and refuses it when any covered byte changed', () => {
    const record = sample()
    assert.deepEqual(decodeIntactRecord(record, 0), decodeRecordHeader(record, 0))
    for (let offset = 4; offset < record.length; offset++) {
      const damaged = Buffer.from(record)
      damaged[offset] = damaged[offset]! ^ 0x10
      assert.equal(decodeIntactRecord(damaged, 0), undefined, `a flip at byte ${offset} went unnoticed`)
    }
    // The header checksum is not needed when the record checksum holds: the data is intact.
    const headerCrcFlipped = Buffer.from(record)
    headerCrcFlipped[0] = headerCrcFlipped[0]! ^ 0x01
    assert.ok(decodeIntactRecord(headerCrcFlipped, 0) !== undefined)
    assert.equal(decodeIntactRecord(record.subarray(0, record.length - 1), 0), undefined, 'cut short')
  })
})
