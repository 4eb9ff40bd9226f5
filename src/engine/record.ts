/**
 * One log record: a fixed header and a payload. Layout (see docs/format.md#record), little-endian:
 *
 *   offset size field
 *   0      4    headerCrc     CRC-32C of header bytes 4..39, seeded with the segment's header seed
 *   4      4    recordCrc     CRC-32C of header bytes 8..39, then of the payload, seeded with its record seed
 *   8      1    kind          RecordKind
 *   9      1    flags         bit 0: BATCH_CONTINUES (the next record belongs to the same write)
 *                             bit 1: GROUP_ENDS (the last record of a group commit in this segment)
 *                             bit 2: CREATES (the write created what the record holds; format 4)
 *   10     2    group         the group commit that wrote it, counted per segment, mod 2^16
 *   12     4    payloadBytes
 *   16     8    seq           write sequence number, < 2^53, strictly increasing per store
 *   24     8    id            document or input node id, < 2^53
 *   32     8    parentId      the document of an input node or output; 0 for document records
 *   40     ...  payload       by kind: see `RecordKind`
 *
 * Two checksums let recovery tell a damaged payload (header intact: the id and its document are
 * known, and reads of it fail with CORRUPTION) from a damaged header (the length cannot be trusted).
 *
 * Both are seeded with secrets drawn at random when the segment is created and kept in its header
 * (`RecordSeeds`), so that bytes a client stores (a blob, a column, a value) can never pass for a
 * record: a client cannot see the seeds, and without them an image of a record has a 2^-64 chance
 * of passing both checks. Recovery resynchronises after a damaged header only on a record that
 * passes both (see recovery.ts and docs/format.md#forgery). Segments of format 1 and 2 have no
 * seeds (0, which gives plain CRC-32C) and are never resynchronised.
 *
 * A record is encoded (`encodeRecord`) when a write is made and sealed (`sealRecord`: group,
 * flags, checksums) when its segment and group commit are known, just before it is written.
 */
import assert from 'node:assert/strict'
import { crc32c } from './crc32c.ts'
import { recordHeaderBytes, recordPayloadMaxBytes } from './limits.ts'

/** Record kinds. Never renumber: stored files depend on them. */
export const RecordKind = {
  /** A document's text/HTML. payload: utf8. Also creates the document. */
  docBlob: 1,
  /** A document's metadata columns. payload: stringMap body (count, then key/value strings). */
  docMeta: 2,
  /** Tombstone of a document, its input nodes and their outputs. payload: empty. */
  docDelete: 3,
  /** An input node of document `parentId`. payload: a value. Creates or replaces the node. */
  inputPut: 4,
  /** Tombstone of an input node and its output. payload: empty. */
  inputDelete: 5,
  /** The output of input node `id` (of document `parentId`). payload: a value. */
  outputPut: 6,
  /** Tombstone of the output of input node `id`. payload: empty. */
  outputDelete: 7,
  /**
   * Written first in every segment a compaction writes: `id` is the highest id issued before it
   * (its local part may be 0), payload empty. Compaction drops tombstones, and with them perhaps
   * the records of the newest ids; this record keeps recovery from issuing those ids again.
   * Segment format version 2 and later. `parentId` (format 4; 0 before) is the compaction's
   * history cut: the newest sequence number its inputs held (0 when they held no write). The log
   * no longer holds the changes up to it as they were written.
   */
  idWatermark: 8,
  /**
   * A proof of durability (segment format 3): written as a group commit of its own once
   * everything before it in the segment is synced (on close, when a segment is sealed, when a store
   * is opened, at the end of every compaction output). Recovery never takes damage before an
   * intact one for a torn tail. id, parentId and seq are 0, payload empty; it indexes nothing.
   */
  syncMark: 9,
  /**
   * The name of the column a column update changed (segment format 4): written just before the
   * write's docMeta record (flagged BATCH_CONTINUES), so that the log alone says what the write
   * did, for watchers reading it (change-log.ts). `id` is the document, parentId 0, payload the
   * name in UTF-8. It indexes nothing, and compaction drops it.
   */
  columnName: 10,
} as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

const knownKinds = new Set<number>(Object.values(RecordKind))

export const recordFlagBatchContinues = 1
/** Set on the last record of each group commit in a segment (format 3). */
export const recordFlagGroupEnds = 2
/**
 * Set on the first record of a write that created what it holds (format 4): a document's blob,
 * a new input node, an output where there was none. Together with `columnName`, it lets a reader
 * of the log alone tell what each write did (created or updated, which column): see change-log.ts.
 * Compaction clears it with the other flags: its outputs are no longer a history.
 */
export const recordFlagCreates = 4
/** Commit-group tags are kept mod 2^16 (the header's group field). */
export const recordGroupMask = 0xffff

/**
 * The secrets a segment mixes into the checksums of its records: `header` seeds `headerCrc`,
 * `record` seeds `recordCrc`. `legacy` marks segments of format 1 and 2, which have none (both 0)
 * and whose group field is always 0 and flags never carry GROUP_ENDS.
 */
export interface RecordSeeds {
  header: number
  record: number
  legacy: boolean
}

export const legacySeeds: RecordSeeds = Object.freeze({ header: 0, record: 0, legacy: true })

/** The flag bits a record of a segment with these seeds may carry. */
function knownFlags(seeds: RecordSeeds): number {
  return seeds.legacy ? recordFlagBatchContinues : recordFlagsSeeded
}

/** The flag bits of a seeded segment's records (format 3 never sets CREATES; a reader accepts it). */
export const recordFlagsSeeded = recordFlagBatchContinues | recordFlagGroupEnds | recordFlagCreates

/** Whether records of this kind are tombstones (which compaction keeps only while needed). */
export function isTombstoneKind(kind: number): boolean {
  return kind === RecordKind.docDelete || kind === RecordKind.inputDelete || kind === RecordKind.outputDelete
}

export interface RecordHeader {
  kind: RecordKind
  flags: number
  /** The group commit tag (format 3; 0 in older segments). */
  group: number
  payloadBytes: number
  seq: number
  id: number
  parentId: number
  recordCrc: number
}

const twoTo32 = 2 ** 32

/**
 * Encodes a record into a new buffer, unsealed: its group is 0 and its checksums are not set
 * until `sealRecord` is called with the seeds of the segment it goes to. `writePayload` fills
 * `payloadBytes` bytes starting at the offset it is given and must return the offset after them.
 */
export function encodeRecord(
  header: { kind: RecordKind; flags: number; seq: number; id: number; parentId: number },
  payloadBytes: number,
  writePayload?: (target: Buffer, offset: number) => number,
): Buffer {
  if (!(payloadBytes >= 0 && payloadBytes <= recordPayloadMaxBytes)) {
    throw new RangeError(`payload of ${payloadBytes} bytes is over recordPayloadMaxBytes`)
  }
  const record = Buffer.allocUnsafe(recordHeaderBytes + payloadBytes)
  record[8] = header.kind
  record[9] = header.flags
  record.writeUInt16LE(0, 10)
  record.writeUInt32LE(payloadBytes, 12)
  writeUint53(record, 16, header.seq)
  writeUint53(record, 24, header.id)
  writeUint53(record, 32, header.parentId)
  if (writePayload !== undefined) {
    const end = writePayload(record, recordHeaderBytes)
    if (end !== record.length) throw new Error(`payload writer ended at ${end}, record is ${record.length} bytes`)
  }
  record.writeUInt32LE(0, 0)
  record.writeUInt32LE(0, 4)
  return record
}

/**
 * Flags an encoded, not yet sealed record as continued by the next one of the same write (an
 * atomic batch: see docs/format.md#batches). Sealing keeps the flag and checksums it.
 */
export function markBatchContinues(record: Buffer): void {
  record[9] = record[9]! | recordFlagBatchContinues
}

/**
 * Seals an encoded record for the segment whose seeds are `seeds`: sets its commit group and
 * whether it ends that group, then both checksums. The BATCH_CONTINUES and CREATES flags are kept.
 * REQUIRES: `record` is one whole record (header and payload), e.g. from `encodeRecord`.
 */
export function sealRecord(record: Buffer, seeds: RecordSeeds, group: number, groupEnds: boolean): void {
  assert(!seeds.legacy, 'records are only written to segments of the current format')
  assert(group >= 0 && group <= recordGroupMask, 'a group tag fits 16 bits')
  assert.equal(record.length, recordHeaderBytes + record.readUInt32LE(12), 'a whole record')
  record[9] = (record[9]! & (recordFlagBatchContinues | recordFlagCreates)) | (groupEnds ? recordFlagGroupEnds : 0)
  record.writeUInt16LE(group, 10)
  record.writeUInt32LE(crc32c(record.subarray(8), seeds.record), 4)
  record.writeUInt32LE(crc32c(record.subarray(4, recordHeaderBytes), seeds.header), 0)
}

/**
 * Decodes the record at `offset` of `source` if it is whole and intact, with one checksum: the
 * `recordCrc` covers every header field but the two checksums, so when it matches, the header can
 * be trusted without computing `headerCrc`. Undefined when it does not match (or the record would
 * run past the end of `source`): the caller then falls back to `decodeRecordHeader` to tell a
 * damaged payload from a damaged header. This halves the checksum work of a scan.
 */
export function decodeIntactRecord(source: Buffer, offset: number, seeds: RecordSeeds): RecordHeader | undefined {
  if (source.length - offset < recordHeaderBytes) return undefined
  const payloadBytes = source.readUInt32LE(offset + 12)
  const end = offset + recordHeaderBytes + payloadBytes
  if (payloadBytes > recordPayloadMaxBytes || end > source.length) return undefined
  const kind = source[offset + 8]!
  if (!fieldsArePossible(source, offset, kind, seeds)) return undefined
  const recordCrc = source.readUInt32LE(offset + 4)
  if (crc32c(source.subarray(offset + 8, end), seeds.record) !== recordCrc) return undefined
  return headerFields(source, offset, kind, payloadBytes, recordCrc)
}

/**
 * Decodes the record at `offset` only when both its checksums hold: the proof that a record
 * boundary is there, which recovery asks before it resynchronises after a damaged header (one
 * seeded checksum is 32 bits; two independent ones make a forged image pass with odds 2^-64).
 */
export function decodeProvenRecord(source: Buffer, offset: number, seeds: RecordSeeds): RecordHeader | undefined {
  if (source.length - offset < recordHeaderBytes) return undefined
  if (crc32c(source.subarray(offset + 4, offset + recordHeaderBytes), seeds.header) !== source.readUInt32LE(offset)) return undefined
  return decodeIntactRecord(source, offset, seeds)
}

/** The cheap checks of a header's fields: a known kind, known flags, a group field of 0 in old formats. */
function fieldsArePossible(source: Buffer, offset: number, kind: number, seeds: RecordSeeds): boolean {
  if (!knownKinds.has(kind)) return false
  if ((source[offset + 9]! & ~knownFlags(seeds)) !== 0) return false
  return !seeds.legacy || source.readUInt16LE(offset + 10) === 0
}

/**
 * Decodes and checks the header at `offset` of `source`, which must hold at least
 * `recordHeaderBytes` from there. Returns undefined when the header checksum fails or a field is
 * impossible: the header is then not to be trusted at all.
 */
export function decodeRecordHeader(source: Buffer, offset: number, seeds: RecordSeeds): RecordHeader | undefined {
  const headerCrc = source.readUInt32LE(offset)
  if (crc32c(source.subarray(offset + 4, offset + recordHeaderBytes), seeds.header) !== headerCrc) return undefined
  const kind = source[offset + 8]!
  const payloadBytes = source.readUInt32LE(offset + 12)
  if (!fieldsArePossible(source, offset, kind, seeds)) return undefined
  if (payloadBytes > recordPayloadMaxBytes) return undefined
  return headerFields(source, offset, kind, payloadBytes, source.readUInt32LE(offset + 4))
}

/** The remaining fields of a header already checked; undefined when an id or seq is 2^53 or more. */
function headerFields(
  source: Buffer,
  offset: number,
  kind: number,
  payloadBytes: number,
  recordCrc: number,
): RecordHeader | undefined {
  const header = {
    kind: kind as RecordKind,
    flags: source[offset + 9]!,
    group: source.readUInt16LE(offset + 10),
    payloadBytes,
    seq: readUint53(source, offset + 16),
    id: readUint53(source, offset + 24),
    parentId: readUint53(source, offset + 32),
    recordCrc,
  }
  if (Number.isNaN(header.seq) || Number.isNaN(header.id) || Number.isNaN(header.parentId)) return undefined
  return header
}

/**
 * True when the payload following a trusted header matches the record checksum.
 * REQUIRES: `source` holds the whole record from `offset`.
 */
export function recordPayloadIsIntact(source: Buffer, offset: number, header: RecordHeader, seeds: RecordSeeds): boolean {
  const afterHeader = crc32c(source.subarray(offset + 8, offset + recordHeaderBytes), seeds.record)
  const end = offset + recordHeaderBytes + header.payloadBytes
  return crc32c(source.subarray(offset + recordHeaderBytes, end), afterHeader) === header.recordCrc
}

export function writeUint53(target: Buffer, offset: number, value: number): void {
  target.writeUInt32LE(value >>> 0, offset)
  target.writeUInt32LE(Math.floor(value / twoTo32), offset + 4)
}

/** Reads a u64 that must be below 2^53; a larger one reads as NaN so that checks reject it. */
export function readUint53(source: Buffer, offset: number): number {
  const high = source.readUInt32LE(offset + 4)
  if (high >= 2 ** 21) return Number.NaN
  return high * twoTo32 + source.readUInt32LE(offset)
}
