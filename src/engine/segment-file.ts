/**
 * Segment files: names and the file header. See docs/format.md#segment.
 *
 *   segment file := header, record*
 *   header (3,4) := magic: "STRATSEG" (8 bytes), formatVersion: u32, headerCrc: u32 (of bytes 0..11),
 *                   seeds, seeds                     (two copies: one damaged copy loses nothing)
 *   seeds        := headerSeed: u32, recordSeed: u32, seedsCrc: u32 (of the 8 seed bytes)
 *   header (1,2) := magic, formatVersion, headerCrc   (16 bytes; no seeds)
 *
 * The seeds are random secrets mixed into the checksums of the segment's records (see record.ts):
 * a record image stored by a client inside a value cannot pass for a record without them.
 *
 * A segment is named by its number, zero-padded so that names sort in number order:
 * `000000000001.seg`. Numbers start at 1 and are never reused.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { crc32c } from './crc32c.ts'
import { syncDirectoryAsync, type FileSystem } from './file-system.ts'
import { StratumError } from './errors.ts'
import { legacySegmentHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { legacySeeds, type RecordSeeds } from './record.ts'

export const segmentMagic = Buffer.from('STRATSEG', 'latin1')
/**
 * Version 4 is version 3 whose records also say what each write did (the CREATES flag and
 * columnName records), so that watchers can read changes from the log; version 3 seeds its
 * records' checksums and tags their group commits; version 2 may hold idWatermark records
 * (written by compaction); version 1, the first format, never does. All four are read; only
 * version 4 is written. Readers refuse versions they do not know: a reader of version 3 would take
 * the CREATES flag for damage.
 */
export const segmentFormatVersion = 4
/** The first format whose records say what each write did (RecordKind.columnName, recordFlagCreates). */
export const changeNotesFormatVersion = 4
const readableSegmentFormatVersions: readonly number[] = [1, 2, 3, 4]

const seedsOffsets = [16, 28] as const
const seedsBytes = 12

const segmentNamePattern = /^(\d{12})\.seg$/

export function segmentFileName(segmentNumber: number): string {
  return `${String(segmentNumber).padStart(12, '0')}.seg`
}

export function segmentPath(dir: string, segmentNumber: number): string {
  return join(dir, segmentFileName(segmentNumber))
}

/** The segment number a file name stands for, or undefined when it is not a segment file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = segmentNamePattern.exec(name)
  return match === null ? undefined : Number(match[1])
}

/** What a segment's header says: where its records start and the seeds of their checksums. */
export interface SegmentFormat {
  version: number
  headerBytes: number
  seeds: RecordSeeds
  /** Part of the header failed its checksum but another copy gave what was needed. */
  headerDamaged: boolean
}

/** Fresh random seeds for a new segment. */
export function newRecordSeeds(): RecordSeeds {
  const bytes = randomBytes(8)
  return { header: bytes.readUInt32LE(0), record: bytes.readUInt32LE(4), legacy: false }
}

/** The header of a new segment (always the current version) and the seeds it holds. */
export function encodeSegmentHeader(seeds: RecordSeeds = newRecordSeeds()): { bytes: Buffer; seeds: RecordSeeds } {
  const header = Buffer.alloc(segmentHeaderBytes)
  segmentMagic.copy(header, 0)
  header.writeUInt32LE(segmentFormatVersion, 8)
  header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
  for (const offset of seedsOffsets) {
    header.writeUInt32LE(seeds.header, offset)
    header.writeUInt32LE(seeds.record, offset + 4)
    header.writeUInt32LE(crc32c(header.subarray(offset, offset + 8)), offset + 8)
  }
  return { bytes: header, seeds }
}

/** The seeds of the first intact copy in a format-3 or 4 header, if one is. */
function readSeeds(header: Buffer): RecordSeeds | undefined {
  for (const offset of seedsOffsets) {
    if (header.length < offset + seedsBytes) return undefined
    if (crc32c(header.subarray(offset, offset + 8)) !== header.readUInt32LE(offset + 8)) continue
    return { header: header.readUInt32LE(offset), record: header.readUInt32LE(offset + 4), legacy: false }
  }
  return undefined
}

export type SegmentHeaderCheck = SegmentFormat | 'short' | 'damaged'

/**
 * Reads a segment's header from the first bytes of the file. 'short' when the file is shorter
 * than any header; 'damaged' when neither the header nor a copy of the seeds can be trusted (the
 * caller decides, from what follows, whether that is damage or a foreign file). An intact header
 * of another kind of file or of a newer format throws UNSUPPORTED_FORMAT: guessing would risk
 * serving wrong data.
 */
export function readSegmentHeader(header: Buffer, path: string): SegmentHeaderCheck {
  if (header.length < legacySegmentHeaderBytes) return 'short'
  const primaryIntact = crc32c(header.subarray(0, 12)) === header.readUInt32LE(12)
  if (!primaryIntact) {
    // The seeds have copies of their own: with one intact, the records can still be checked.
    const seeds = readSeeds(header)
    // The version is unknown: taken as the newest, whose records are checked the same way.
    return seeds === undefined ? 'damaged' : { version: segmentFormatVersion, headerBytes: segmentHeaderBytes, seeds, headerDamaged: true }
  }
  if (!header.subarray(0, 8).equals(segmentMagic)) {
    throw new StratumError('UNSUPPORTED_FORMAT', `${path} is not a Stratum segment file (bad magic)`)
  }
  const version = header.readUInt32LE(8)
  if (!readableSegmentFormatVersions.includes(version)) {
    throw new StratumError(
      'UNSUPPORTED_FORMAT',
      `${path} has segment format version ${version}; this version of Stratum reads versions ${readableSegmentFormatVersions.join(', ')}`,
    )
  }
  if (version < 3) return { version, headerBytes: legacySegmentHeaderBytes, seeds: legacySeeds, headerDamaged: false }
  if (header.length < segmentHeaderBytes) return 'short'
  const seeds = readSeeds(header)
  if (seeds === undefined) return 'damaged'
  const copiesIntact = seedsOffsets.every((offset) => crc32c(header.subarray(offset, offset + 8)) === header.readUInt32LE(offset + 8))
  return { version, headerBytes: segmentHeaderBytes, seeds, headerDamaged: !copiesIntact }
}

/**
 * Creates segment `segmentNumber` holding only its header and returns a read-write descriptor
 * and the segment's seeds. The header is written under a temporary name, synced, renamed, and the
 * directory synced, so a crash leaves either no segment or a complete empty one (and perhaps a
 * `.tmp` file that the next open removes). The syncs run on the thread pool: the writer creates
 * segments while requests are served.
 */
export async function createSegmentFile(
  fileSystem: FileSystem,
  dir: string,
  segmentNumber: number,
): Promise<{ fd: number; seeds: RecordSeeds }> {
  const path = segmentPath(dir, segmentNumber)
  const temporaryPath = `${path}.tmp`
  const header = encodeSegmentHeader()
  const fd = fileSystem.openSync(temporaryPath, 'w+')
  try {
    fileSystem.writeSync(fd, header.bytes, 0)
    await fileSystem.fsync(fd)
    await fileSystem.rename(temporaryPath, path)
  } catch (error) {
    fileSystem.closeSync(fd)
    throw error
  }
  await syncDirectoryAsync(fileSystem, dir)
  return { fd, seeds: header.seeds }
}
