import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crc32c } from './crc32c.ts'
import { recordHeaderBytes } from './limits.ts'
import {
  decodeIntactRecord,
  decodeProvenRecord,
  decodeRecordHeader,
  encodeRecord,
  legacySeeds,
  recordFlagBatchContinues,
  recordFlagGroupEnds,
  RecordKind,
  recordPayloadIsIntact,
  sealRecord,
  type RecordSeeds,
} from './record.ts'
import { newRecordSeeds } from './segment-file.ts'

const seeds: RecordSeeds = { header: 0x1234_5678, record: 0x9abc_def0, legacy: false }

function sample(sealWith: RecordSeeds = seeds): Buffer {
  const record = encodeRecord(
    { kind: RecordKind.inputPut, flags: recordFlagBatchContinues, seq: 2 ** 40 + 5, id: 2 ** 52 + 3, parentId: 7 },
    5,
    (target, offset) => offset + target.write('hello', offset, 'latin1'),
  )
  sealRecord(record, sealWith, 0xbeef, true)
  return record
}

describe('record', () => {
  it('round-trips every header field, ids and seqs up to 2^53 included', () => {
    const record = sample()
    assert.equal(record.length, recordHeaderBytes + 5)
    const header = decodeRecordHeader(record, 0, seeds)
    assert.ok(header !== undefined)
    assert.equal(header.kind, RecordKind.inputPut)
    assert.equal(header.flags, recordFlagBatchContinues | recordFlagGroupEnds)
    assert.equal(header.group, 0xbeef)
    assert.equal(header.payloadBytes, 5)
    assert.equal(header.seq, 2 ** 40 + 5)
    assert.equal(header.id, 2 ** 52 + 3)
    assert.equal(header.parentId, 7)
    assert.ok(recordPayloadIsIntact(record, 0, header, seeds))
  })

  it('rejects a header with any single byte changed', () => {
    const record = sample()
    for (let offset = 0; offset < recordHeaderBytes; offset++) {
      const damaged = Buffer.from(record)
      damaged[offset] = damaged[offset]! ^ 0x01
      assert.equal(decodeRecordHeader(damaged, 0, seeds), undefined, `a flip at byte ${offset} went unnoticed`)
    }
  })

  it('keeps a trusted header but fails the payload check when only the payload changed', () => {
    const record = sample()
    record[recordHeaderBytes + 2] = record[recordHeaderBytes + 2]! ^ 0x80
    const header = decodeRecordHeader(record, 0, seeds)
    assert.ok(header !== undefined, 'the header is intact')
    assert.equal(recordPayloadIsIntact(record, 0, header, seeds), false)
  })

  it('decodes a record at an offset inside a larger buffer', () => {
    const record = sample()
    const larger = Buffer.concat([Buffer.alloc(13, 0xff), record, Buffer.alloc(3)])
    const header = decodeRecordHeader(larger, 13, seeds)
    assert.ok(header !== undefined && recordPayloadIsIntact(larger, 13, header, seeds))
  })

  it('refuses an unknown kind even with valid checksums', () => {
    const record = encodeRecord({ kind: 99 as RecordKind, flags: 0, seq: 1, id: 1, parentId: 0 }, 0)
    sealRecord(record, seeds, 1, true)
    assert.equal(decodeRecordHeader(record, 0, seeds), undefined)
  })

  it('refuses a payload length over the limit before allocating', () => {
    assert.throws(() => encodeRecord({ kind: RecordKind.docBlob, flags: 0, seq: 1, id: 1, parentId: 0 }, 2 ** 31), RangeError)
  })

  it('decodes an intact record with one checksum, and refuses it when any covered byte changed', () => {
    const record = sample()
    assert.deepEqual(decodeIntactRecord(record, 0, seeds), decodeRecordHeader(record, 0, seeds))
    for (let offset = 4; offset < record.length; offset++) {
      const damaged = Buffer.from(record)
      damaged[offset] = damaged[offset]! ^ 0x10
      assert.equal(decodeIntactRecord(damaged, 0, seeds), undefined, `a flip at byte ${offset} went unnoticed`)
    }
    // The header checksum is not needed when the record checksum holds: the data is intact.
    const headerCrcFlipped = Buffer.from(record)
    headerCrcFlipped[0] = headerCrcFlipped[0]! ^ 0x01
    assert.ok(decodeIntactRecord(headerCrcFlipped, 0, seeds) !== undefined)
    // ...but a proof of a record boundary (resynchronising after damage) needs both.
    assert.equal(decodeProvenRecord(headerCrcFlipped, 0, seeds), undefined)
    assert.ok(decodeProvenRecord(record, 0, seeds) !== undefined)
    assert.equal(decodeIntactRecord(record.subarray(0, record.length - 1), 0, seeds), undefined, 'cut short')
  })

  it('checks records only with the seeds of their segment: an image made without them never passes', () => {
    const record = sample()
    assert.equal(decodeRecordHeader(record, 0, legacySeeds), undefined)
    assert.equal(decodeIntactRecord(record, 0, legacySeeds), undefined)
    for (let attempt = 0; attempt < 200; attempt++) {
      const other = newRecordSeeds()
      assert.equal(decodeProvenRecord(record, 0, other), undefined, 'another segment\'s seeds')
      // A forger who guesses seeds: sealed with a guess, checked with the real ones.
      assert.equal(decodeProvenRecord(sample(other), 0, seeds), undefined, 'a record sealed with guessed seeds')
    }
  })

  it('refuses, in segments of format 1 and 2, the group field and flags they never had', () => {
    const record = encodeRecord({ kind: RecordKind.docDelete, flags: 0, seq: 1, id: 1, parentId: 0 }, 0)
    // A record as format 2 wrote it: plain CRC-32C, group 0, no GROUP_ENDS.
    record.writeUInt32LE(crc32c(record.subarray(8)), 4)
    record.writeUInt32LE(crc32c(record.subarray(4, recordHeaderBytes)), 0)
    assert.ok(decodeProvenRecord(record, 0, legacySeeds) !== undefined)
    const tagged = Buffer.from(record)
    tagged.writeUInt16LE(3, 10)
    tagged.writeUInt32LE(crc32c(tagged.subarray(8)), 4)
    tagged.writeUInt32LE(crc32c(tagged.subarray(4, recordHeaderBytes)), 0)
    assert.equal(decodeProvenRecord(tagged, 0, legacySeeds), undefined)
    assert.throws(() => sealRecord(Buffer.from(record), legacySeeds, 1, true), /current format/)
  })
})
