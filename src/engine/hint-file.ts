/**
 * Hint files: the index entries of one sealed segment, so that opening a store need not read and
 * checksum every record. See docs/format.md#hint-files.
 *
 *   hint  := magic: "STRATHNT" (8 bytes), formatVersion: u32 (1), segmentNumber: u32,
 *            segmentBytes: u32, entryCount: u32, entry[entryCount], hintCrc: u32
 *   entry := kind: u8, flags: u8, reserved: u16 (0), offset: u32, sizeBytes: u32,
 *            seq: u64, id: u64, parentId: u64, payload (docMeta entries only: sizeBytes - 40 bytes)
 *
 * `hintCrc` is the CRC-32C of every byte before it. A hint is used only when it is whole, its
 * checksum holds, and it names its segment and that segment's exact size; otherwise the segment
 * is scanned as if there were no hint. A hint is only written for a segment whose scan found no
 * damage at all, so replaying it gives what a scan would.
 */
import { join } from 'node:path'
import { crc32c } from './crc32c.ts'
import type { FileSystem } from './file-system.ts'
import { recordHeaderBytes } from './limits.ts'
import { readUint53, RecordKind, writeUint53, type RecordHeader } from './record.ts'
import { segmentFileName } from './segment-file.ts'

export const hintMagic = Buffer.from('STRATHNT', 'latin1')
export const hintFormatVersion = 1
const hintHeaderBytes = 24
const hintEntryBytes = 36

export function hintFileName(segmentNumber: number): string {
  return segmentFileName(segmentNumber).replace(/\.seg$/, '.hint')
}

const hintNamePattern = /^(\d{12})\.hint$/

export function parseHintFileName(name: string): number | undefined {
  const match = hintNamePattern.exec(name)
  return match === null ? undefined : Number(match[1])
}

/** One record of a hinted segment: its header fields, place, and (metadata only) its payload. */
export interface HintEntry {
  header: RecordHeader
  offset: number
  metaPayload: Buffer | undefined
}

/** Collects the entries of one segment while it is scanned; `finish` encodes the hint file. */
export class HintBuilder {
  private readonly parts: Buffer[] = []
  private entryCount = 0

  constructor(private readonly segmentNumber: number) {}

  /** Adds an intact record found at `offset` of `contents`. */
  add(header: RecordHeader, offset: number, contents: Buffer): void {
    const entry = Buffer.alloc(hintEntryBytes)
    entry[0] = header.kind
    entry[1] = header.flags
    entry.writeUInt32LE(offset, 4)
    entry.writeUInt32LE(recordHeaderBytes + header.payloadBytes, 8)
    writeUint53(entry, 12, header.seq)
    writeUint53(entry, 20, header.id)
    writeUint53(entry, 28, header.parentId)
    this.parts.push(entry)
    if (header.kind === RecordKind.docMeta) {
      const start = offset + recordHeaderBytes
      this.parts.push(Buffer.from(contents.subarray(start, start + header.payloadBytes)))
    }
    this.entryCount++
  }

  finish(segmentBytes: number): Buffer {
    const header = Buffer.alloc(hintHeaderBytes)
    hintMagic.copy(header, 0)
    header.writeUInt32LE(hintFormatVersion, 8)
    header.writeUInt32LE(this.segmentNumber, 12)
    header.writeUInt32LE(segmentBytes, 16)
    header.writeUInt32LE(this.entryCount, 20)
    const body = Buffer.concat([header, ...this.parts])
    const trailer = Buffer.alloc(4)
    trailer.writeUInt32LE(crc32c(body), 0)
    return Buffer.concat([body, trailer])
  }
}

/**
 * The entries of a hint file, or the reason it cannot be used. `segmentBytes` is the size of the
 * segment file it must describe.
 */
export function parseHint(
  bytes: Buffer,
  segmentNumber: number,
  segmentBytes: number,
): { entries: HintEntry[] } | { problem: string } {
  if (bytes.length < hintHeaderBytes + 4) return { problem: 'too short' }
  const bodyEnd = bytes.length - 4
  if (crc32c(bytes.subarray(0, bodyEnd)) !== bytes.readUInt32LE(bodyEnd)) return { problem: 'bad checksum' }
  if (!bytes.subarray(0, 8).equals(hintMagic)) return { problem: 'bad magic' }
  if (bytes.readUInt32LE(8) !== hintFormatVersion) return { problem: `format version ${bytes.readUInt32LE(8)}` }
  if (bytes.readUInt32LE(12) !== segmentNumber) return { problem: `names segment ${bytes.readUInt32LE(12)}` }
  if (bytes.readUInt32LE(16) !== segmentBytes) {
    return { problem: `describes ${bytes.readUInt32LE(16)} bytes of a ${segmentBytes}-byte segment` }
  }
  const entryCount = bytes.readUInt32LE(20)
  const entries: HintEntry[] = []
  let offset = hintHeaderBytes
  // Bounded by entryCount, and each entry must fit before the trailer.
  for (let index = 0; index < entryCount; index++) {
    if (offset + hintEntryBytes > bodyEnd) return { problem: 'entries run past the end' }
    const kind = bytes[offset]! as RecordKind
    const sizeBytes = bytes.readUInt32LE(offset + 8)
    if (sizeBytes < recordHeaderBytes) return { problem: `entry ${index} is ${sizeBytes} bytes` }
    const header: RecordHeader = {
      kind,
      flags: bytes[offset + 1]!,
      payloadBytes: sizeBytes - recordHeaderBytes,
      seq: readUint53(bytes, offset + 12),
      id: readUint53(bytes, offset + 20),
      parentId: readUint53(bytes, offset + 28),
      recordCrc: 0,
    }
    const recordOffset = bytes.readUInt32LE(offset + 4)
    if (recordOffset + sizeBytes > segmentBytes) return { problem: `entry ${index} lies past the segment's end` }
    offset += hintEntryBytes
    let metaPayload: Buffer | undefined
    if (kind === RecordKind.docMeta) {
      if (offset + header.payloadBytes > bodyEnd) return { problem: 'metadata runs past the end' }
      metaPayload = bytes.subarray(offset, offset + header.payloadBytes)
      offset += header.payloadBytes
    }
    entries.push({ header, offset: recordOffset, metaPayload })
  }
  if (offset !== bodyEnd) return { problem: 'bytes after the last entry' }
  return { entries }
}

/**
 * Writes a hint file under a temporary name, syncs it and renames it into place. The caller
 * syncs the folder once for all the hints it writes.
 */
export function writeHintFile(fileSystem: FileSystem, dir: string, segmentNumber: number, bytes: Buffer): void {
  const path = join(dir, hintFileName(segmentNumber))
  const temporaryPath = `${path}.tmp`
  const fd = fileSystem.openSync(temporaryPath, 'w')
  try {
    fileSystem.writeSync(fd, bytes, 0)
    fileSystem.fsyncSync(fd)
  } finally {
    fileSystem.closeSync(fd)
  }
  fileSystem.renameSync(temporaryPath, path)
}

