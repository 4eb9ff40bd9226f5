/**
 * Record images a hostile client can store inside a value: the bytes of a valid-looking record
 * (a delete of another document, an update, a batch), with checksums computed as an attacker
 * would: plain CRC-32C as formats 1 and 2 had, or seeded with guessed seeds. They are built
 * here by hand, not with the engine's encoder, so that the tests that use them also run against
 * older builds of the engine (to show them failing there).
 */
import { crc32c } from '../../src/engine/crc32c.ts'

export interface ForgedRecordFields {
  kind: number
  flags: number
  seq: number
  id: number
  parentId: number
  payload?: Buffer
  /** The group field (bytes 10..11); 0 as formats 1 and 2 require. */
  group?: number
}

const headerBytes = 40

function writeUint53(target: Buffer, offset: number, value: number): void {
  target.writeUInt32LE(value >>> 0, offset)
  target.writeUInt32LE(Math.floor(value / 2 ** 32), offset + 4)
}

/** The bytes of one record, checksummed with `seeds` (0 and 0: plain CRC-32C). */
export function forgedRecord(fields: ForgedRecordFields, seeds: { header: number; record: number } = { header: 0, record: 0 }): Buffer {
  const payload = fields.payload ?? Buffer.alloc(0)
  const record = Buffer.alloc(headerBytes + payload.length)
  record[8] = fields.kind
  record[9] = fields.flags
  record.writeUInt16LE(fields.group ?? 0, 10)
  record.writeUInt32LE(payload.length, 12)
  writeUint53(record, 16, fields.seq)
  writeUint53(record, 24, fields.id)
  writeUint53(record, 32, fields.parentId)
  payload.copy(record, headerBytes)
  record.writeUInt32LE(crc32c(record.subarray(8), seeds.record), 4)
  record.writeUInt32LE(crc32c(record.subarray(4, headerBytes), seeds.header), 0)
  return record
}

/** An int64 value payload (tag 1, then the i64), as the engine encodes it. */
export function int64Payload(value: bigint): Buffer {
  const payload = Buffer.alloc(9)
  payload[0] = 1
  payload.writeBigInt64LE(value, 1)
  return payload
}

/**
 * The int64 list whose encoding holds `image` at `position` bytes into its items (the items
 * start 5 bytes into the value: a tag, then a u32 count). The rest is filled with `fill`.
 */
export function listHolding(image: Buffer, position: number, totalItems: number, fill = 0x5a): bigint[] {
  const area = Buffer.alloc(totalItems * 8, fill)
  if (position + image.length > area.length) throw new RangeError('the image does not fit the list')
  image.copy(area, position)
  const items: bigint[] = []
  for (let offset = 0; offset < area.length; offset += 8) items.push(area.readBigInt64LE(offset))
  return items
}

/** Where the items of an int64 list value start within its record: the header, a tag, a count. */
export const listItemsOffsetInRecord = headerBytes + 5
