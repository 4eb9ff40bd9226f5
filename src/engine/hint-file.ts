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
import { readUint53, RecordKind, type RecordHeader } from './record.ts'
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

/**
 * Collects the entries of one segment while it is scanned, into one growing buffer (a segment
 * can hold a million records: no object per entry); `finish` encodes the hint file.
 */
export class HintBuilder {
  private bytes = Buffer.allocUnsafe(64 * 1024)
  private length = hintHeaderBytes
  private entryCount = 0

  constructor(private readonly segmentNumber: number) {}

  private reserve(sizeBytes: number): void {
    if (this.length + sizeBytes <= this.bytes.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + sizeBytes))
    this.bytes.copy(grown, 0, 0, this.length)
    this.bytes = grown
  }

  /** Adds an intact record, given as its encoding (see record.ts), found at `offset` of the segment. */
  add(record: Buffer, offset: number): void {
    const kind = record[8]!
    const metaBytes = kind === RecordKind.docMeta ? record.length - recordHeaderBytes : 0
    this.reserve(hintEntryBytes + metaBytes)
    const entry = this.length
    const bytes = this.bytes
    bytes[entry] = kind
    bytes[entry + 1] = record[9]!
    bytes.writeUInt16LE(0, entry + 2)
    bytes.writeUInt32LE(offset, entry + 4)
    bytes.writeUInt32LE(record.length, entry + 8)
    // seq, id and parentId: the same 24 bytes, in the same layout, as in the record header.
    record.copy(bytes, entry + 12, 16, 40)
    this.length += hintEntryBytes
    if (metaBytes > 0) {
      record.copy(bytes, this.length, recordHeaderBytes)
      this.length += metaBytes
    }
    this.entryCount++
  }

  finish(segmentBytes: number): Buffer {
    this.reserve(4)
    const bytes = this.bytes
    hintMagic.copy(bytes, 0)
    bytes.writeUInt32LE(hintFormatVersion, 8)
    bytes.writeUInt32LE(this.segmentNumber, 12)
    bytes.writeUInt32LE(segmentBytes, 16)
    bytes.writeUInt32LE(this.entryCount, 20)
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, this.length)), this.length)
    return bytes.subarray(0, this.length + 4)
  }
}

/**
 * Checks a hint file against the segment it must describe (`segmentBytes` is that segment's
 * size) and, only when all of it is sound, calls `visit` for each entry in order. Returns why the
 * hint cannot be used, or undefined when it was replayed. The header object passed to `visit` is
 * reused from one entry to the next: read it, do not keep it.
 */
export function replayHint(
  bytes: Buffer,
  segmentNumber: number,
  segmentBytes: number,
  visit: (header: RecordHeader, offset: number, metaPayload: Buffer | undefined) => void,
): string | undefined {
  if (bytes.length < hintHeaderBytes + 4) return 'too short'
  const bodyEnd = bytes.length - 4
  if (crc32c(bytes.subarray(0, bodyEnd)) !== bytes.readUInt32LE(bodyEnd)) return 'bad checksum'
  if (!bytes.subarray(0, 8).equals(hintMagic)) return 'bad magic'
  if (bytes.readUInt32LE(8) !== hintFormatVersion) return `format version ${bytes.readUInt32LE(8)}`
  if (bytes.readUInt32LE(12) !== segmentNumber) return `names segment ${bytes.readUInt32LE(12)}`
  if (bytes.readUInt32LE(16) !== segmentBytes) return `describes ${bytes.readUInt32LE(16)} bytes of a ${segmentBytes}-byte segment`
  const entryCount = bytes.readUInt32LE(20)
  // Pass 1 checks the structure, so that a bad hint is refused before anything is applied.
  let offset = hintHeaderBytes
  for (let index = 0; index < entryCount; index++) {
    if (offset + hintEntryBytes > bodyEnd) return 'entries run past the end'
    const sizeBytes = bytes.readUInt32LE(offset + 8)
    if (sizeBytes < recordHeaderBytes) return `entry ${index} is ${sizeBytes} bytes`
    if (bytes.readUInt32LE(offset + 4) + sizeBytes > segmentBytes) return `entry ${index} lies past the segment's end`
    offset += hintEntryBytes
    if (bytes[offset - hintEntryBytes] === RecordKind.docMeta) offset += sizeBytes - recordHeaderBytes
    if (offset > bodyEnd) return 'metadata runs past the end'
  }
  if (offset !== bodyEnd) return 'bytes after the last entry'
  // Pass 2 replays.
  // A hint keeps no group tags: they matter only to the newest segment, which has no hint.
  const header: RecordHeader = { kind: RecordKind.docBlob, flags: 0, group: 0, payloadBytes: 0, seq: 0, id: 0, parentId: 0, recordCrc: 0 }
  offset = hintHeaderBytes
  for (let index = 0; index < entryCount; index++) {
    header.kind = bytes[offset]! as RecordKind
    header.flags = bytes[offset + 1]!
    header.payloadBytes = bytes.readUInt32LE(offset + 8) - recordHeaderBytes
    header.seq = readUint53(bytes, offset + 12)
    header.id = readUint53(bytes, offset + 20)
    header.parentId = readUint53(bytes, offset + 28)
    const recordOffset = bytes.readUInt32LE(offset + 4)
    offset += hintEntryBytes
    let metaPayload: Buffer | undefined
    if (header.kind === RecordKind.docMeta) {
      metaPayload = bytes.subarray(offset, offset + header.payloadBytes)
      offset += header.payloadBytes
    }
    visit(header, recordOffset, metaPayload)
  }
  return undefined
}

/**
 * Writes a hint file under a temporary name, syncs it and renames it into place, with the
 * thread pool doing the writing. No folder sync: the caller syncs the folder once for all the
 * hints it writes, or not at all (a hint lost to a crash is rebuilt by the next open's scan).
 */
export async function writeHintFile(fileSystem: FileSystem, dir: string, segmentNumber: number, bytes: Buffer): Promise<void> {
  const path = join(dir, hintFileName(segmentNumber))
  const temporaryPath = `${path}.tmp`
  const fd = fileSystem.openSync(temporaryPath, 'w')
  try {
    await fileSystem.writev(fd, [bytes], 0)
    await fileSystem.fdatasync(fd)
  } finally {
    fileSystem.closeSync(fd)
  }
  fileSystem.renameSync(temporaryPath, path)
}
