/**
 * One log record: a fixed header and a payload. Layout (see docs/format.md#record), little-endian:
 *
 *   offset size field
 *   0      4    headerCrc     CRC-32C of header bytes 4..39
 *   4      4    recordCrc     CRC-32C of header bytes 8..39, then of the payload
 *   8      1    kind          RecordKind
 *   9      1    flags         bit 0: BATCH_CONTINUES (the next record belongs to the same write)
 *   10     2    reserved      0
 *   12     4    payloadBytes
 *   16     8    seq           write sequence number, < 2^53, strictly increasing per store
 *   24     8    id            document or input node id, < 2^53
 *   32     8    parentId      the document of an input node or output; 0 for document records
 *   40     ...  payload       by kind: see `RecordKind`
 *
 * Two checksums let recovery tell a damaged payload (header intact: the id and its document are
 * known, and reads of it fail with CORRUPTION) from a damaged header (the length cannot be trusted: the scanner searches
 * for the next valid header).
 */
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
   * (its local part may be 0), `parentId` is 0, payload empty. Compaction drops tombstones, and
   * with them perhaps the records of the newest ids; this record keeps recovery from issuing
   * those ids again. Segment format version 2 and later.
   */
  idWatermark: 8,
} as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

const knownKinds = new Set<number>(Object.values(RecordKind))

export const recordFlagBatchContinues = 1

/** Whether records of this kind are tombstones (which compaction keeps only while needed). */
export function isTombstoneKind(kind: number): boolean {
  return kind === RecordKind.docDelete || kind === RecordKind.inputDelete || kind === RecordKind.outputDelete
}

export interface RecordHeader {
  kind: RecordKind
  flags: number
  payloadBytes: number
  seq: number
  id: number
  parentId: number
  recordCrc: number
}

const twoTo32 = 2 ** 32

/**
 * Encodes a record into a new buffer. `writePayload` fills `payloadBytes` bytes starting at
 * the offset it is given and must return the offset after them.
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
  record.writeUInt32LE(crc32c(record.subarray(8)), 4)
  record.writeUInt32LE(crc32c(record.subarray(4, recordHeaderBytes)), 0)
  return record
}

/**
 * Decodes the record at `offset` of `source` if it is whole and intact, with one checksum: the
 * `recordCrc` covers every header field but the two checksums, so when it matches, the header can
 * be trusted without computing `headerCrc`. Undefined when it does not match (or the record would
 * run past the end of `source`): the caller then falls back to `decodeRecordHeader` to tell a
 * damaged payload from a damaged header. This halves the checksum work of a scan.
 */
export function decodeIntactRecord(source: Buffer, offset: number): RecordHeader | undefined {
  if (source.length - offset < recordHeaderBytes) return undefined
  const payloadBytes = source.readUInt32LE(offset + 12)
  const end = offset + recordHeaderBytes + payloadBytes
  if (payloadBytes > recordPayloadMaxBytes || end > source.length) return undefined
  const kind = source[offset + 8]!
  if (!knownKinds.has(kind) || source.readUInt16LE(offset + 10) !== 0) return undefined
  const recordCrc = source.readUInt32LE(offset + 4)
  if (crc32c(source.subarray(offset + 8, end)) !== recordCrc) return undefined
  return headerFields(source, offset, kind, payloadBytes, recordCrc)
}

/**
 * Decodes and checks the header at `offset` of `source`, which must hold at least
 * `recordHeaderBytes` from there. Returns undefined when the header checksum fails or a field is
 * impossible: the header is then not to be trusted at all.
 */
export function decodeRecordHeader(source: Buffer, offset: number): RecordHeader | undefined {
  const headerCrc = source.readUInt32LE(offset)
  if (crc32c(source.subarray(offset + 4, offset + recordHeaderBytes)) !== headerCrc) return undefined
  const kind = source[offset + 8]!
  const payloadBytes = source.readUInt32LE(offset + 12)
  if (!knownKinds.has(kind)) return undefined
  if (source.readUInt16LE(offset + 10) !== 0) return undefined
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
export function recordPayloadIsIntact(source: Buffer, offset: number, header: RecordHeader): boolean {
  const afterHeader = crc32c(source.subarray(offset + 8, offset + recordHeaderBytes))
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
