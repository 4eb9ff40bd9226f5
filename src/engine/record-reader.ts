/**
 * Reads records that the keydir points to, checking each against its checksum and against what
 * the keydir expects to find there (pair assertions: the id, kind and length written are the
 * ones read). A mismatch is CORRUPTION: the bytes are never returned as data.
 *
 * Reads go through the block cache, so a document's chain, written together, usually costs one
 * block read, and a hot record none.
 */
import type { BlockCache } from './block-cache.ts'
import { crc32c } from './crc32c.ts'
import { CorruptionError } from './errors.ts'
import { recordHeaderBytes } from './limits.ts'
import { readUint53, type RecordKind } from './record.ts'
import type { SegmentFiles } from './segment-files.ts'

/** A checked record: `bytes[payloadStart, payloadEnd)` is its payload. Read-only. */
export interface CheckedRecord {
  bytes: Buffer
  payloadStart: number
  payloadEnd: number
}

export class RecordReader {
  constructor(
    private readonly cache: BlockCache,
    private readonly files: SegmentFiles,
  ) {}

  /**
   * Reads and checks the record of `id` and `kind` at `offset` of a segment.
   *
   * One checksum suffices here, where recovery needs two: the index already knows the record's
   * length, so only `recordCrc` (over header bytes 8.. and the payload) is checked, and the
   * `recordCrc` field itself is covered because a damaged one would not match. The checksum is
   * seeded with the segment's record seed (see record.ts).
   */
  read(segmentNumber: number, offset: number, sizeBytes: number, id: number, kind: RecordKind): CheckedRecord {
    return this.check(this.cache.read(segmentNumber, offset, sizeBytes), 0, segmentNumber, offset, sizeBytes, id, kind)
  }

  /**
   * Reads `[offset, offset + sizeBytes)` of a segment, to be cut into records with `check`: a
   * document's records, side by side after a compaction, cost one read together.
   */
  readSpan(segmentNumber: number, offset: number, sizeBytes: number): Buffer {
    return this.cache.read(segmentNumber, offset, sizeBytes)
  }

  /**
   * Checks the record found at `start` of `bytes` (read from `offset` of a segment) as `read`
   * does, and returns it.
   */
  check(bytes: Buffer, start: number, segmentNumber: number, offset: number, sizeBytes: number, id: number, kind: RecordKind): CheckedRecord {
    let problem: string | undefined
    if (bytes.readUInt32LE(start + 12) !== sizeBytes - recordHeaderBytes) problem = 'length differs from the index'
    else if (bytes[start + 8] !== kind || readUint53(bytes, start + 24) !== id) {
      problem = `holds id ${readUint53(bytes, start + 24)} of kind ${bytes[start + 8]}, not id ${id} of kind ${kind}`
    } else if (crc32c(bytes.subarray(start + 8, start + sizeBytes), this.files.seeds(segmentNumber).record) !== bytes.readUInt32LE(start + 4)) {
      problem = 'bad checksum'
    }
    if (problem !== undefined) {
      throw new CorruptionError(
        `the record of id ${id} at segment ${segmentNumber} offset ${offset} is damaged: ${problem}`,
        { segmentNumber, offset },
      )
    }
    return { bytes, payloadStart: start + recordHeaderBytes, payloadEnd: start + sizeBytes }
  }
}
