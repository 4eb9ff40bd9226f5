/**
 * Segment files: names and the file header. See docs/format.md#segment.
 *
 *   segment file := header, record*
 *   header       := magic: "STRATSEG" (8 bytes), formatVersion: u32, headerCrc: u32 (of bytes 0..11)
 *
 * A segment is named by its number, zero-padded so that names sort in number order:
 * `000000000001.seg`. Numbers start at 1 and are never reused.
 */
import { join } from 'node:path'
import { crc32c } from './crc32c.ts'
import { syncDirectoryAsync, type FileSystem } from './file-system.ts'
import { StratumError } from './errors.ts'
import { segmentHeaderBytes } from './limits.ts'

export const segmentMagic = Buffer.from('STRATSEG', 'latin1')
/**
 * Version 2 may hold idWatermark records (written by compaction); version 1, the first format,
 * never does, and is read as it is. Readers refuse versions they do not know.
 */
export const segmentFormatVersion = 2
const readableSegmentFormatVersions: readonly number[] = [1, 2]

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

export function encodeSegmentHeader(): Buffer {
  // Always the current version: a segment is only ever written whole by one version.
  const header = Buffer.alloc(segmentHeaderBytes)
  segmentMagic.copy(header, 0)
  header.writeUInt32LE(segmentFormatVersion, 8)
  header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12)
  return header
}

export type SegmentHeaderCheck = 'ok' | 'short' | 'damaged'

/**
 * Checks a segment's header. A header that fails its checksum is 'damaged' (the caller decides,
 * from what follows it, whether that is damage or a foreign file). An intact header of another
 * kind of file or of a newer format throws UNSUPPORTED_FORMAT: guessing would risk serving wrong data.
 */
export function checkSegmentHeader(header: Buffer, path: string): SegmentHeaderCheck {
  if (header.length < segmentHeaderBytes) return 'short'
  if (crc32c(header.subarray(0, 12)) !== header.readUInt32LE(12)) return 'damaged'
  if (!header.subarray(0, 8).equals(segmentMagic)) {
    throw new StratumError('UNSUPPORTED_FORMAT', `${path} is not a Stratum segment file (bad magic)`)
  }
  const version = header.readUInt32LE(8)
  if (!readableSegmentFormatVersions.includes(version)) {
    throw new StratumError(
      'UNSUPPORTED_FORMAT',
      `${path} has segment format version ${version}; this version of Stratum reads versions ${readableSegmentFormatVersions.join(' and ')}`,
    )
  }
  return 'ok'
}

/**
 * Creates segment `segmentNumber` holding only its header and returns a read-write descriptor.
 * The header is written under a temporary name, synced, renamed, and the directory synced, so a
 * crash leaves either no segment or a complete empty one (and perhaps a `.tmp` file that the next
 * open removes). The syncs run on the thread pool: the writer creates segments while requests
 * are served.
 */
export async function createSegmentFile(fileSystem: FileSystem, dir: string, segmentNumber: number): Promise<number> {
  const path = segmentPath(dir, segmentNumber)
  const temporaryPath = `${path}.tmp`
  const fd = fileSystem.openSync(temporaryPath, 'w+')
  try {
    fileSystem.writeSync(fd, encodeSegmentHeader(), 0)
    await fileSystem.fsync(fd)
    await fileSystem.rename(temporaryPath, path)
  } catch (error) {
    fileSystem.closeSync(fd)
    throw error
  }
  await syncDirectoryAsync(fileSystem, dir)
  return fd
}
