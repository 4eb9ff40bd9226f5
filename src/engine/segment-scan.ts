/**
 * Reading a segment's bytes as records, and telling a torn tail from damage. See
 * docs/format.md#opening-a-store-recovery for the rules and their proof.
 *
 * `scanSegment` walks a segment from its first record and yields what it finds:
 *   - `record`: a header whose checksum holds (so its length, id and kind can be trusted), with
 *     whether its payload holds too;
 *   - `pastEnd`: a trusted header whose record runs past the end of the file. The log ends there:
 *     nothing inside its payload is ever read as a record;
 *   - `range`: bytes whose header cannot be trusted, up to the next *proven* record (both seeded
 *     checksums hold: see record.ts) or the end of the file. Segments of format 1 and 2 have no
 *     seeds, so nothing after such bytes can be proven a record: the range runs to the end;
 *   - `zeros`: every byte from here on is zero (the end of the log in the newest segment).
 *
 * `keptBytes` decides, for the newest segment, where its log ends: the group commit that was being
 * written when the store stopped (the *tail group*) may have reached the disk in part and in any
 * order; it was never acknowledged, and is cut whole when any of it is damaged or it never ended.
 * Every earlier group was synced before the next one was written, so damage there is corruption,
 * and its bytes stay where they are. An intact syncMark proves everything before it synced.
 */
import { recordHeaderBytes } from './limits.ts'
import {
  decodeIntactRecord,
  decodeProvenRecord,
  decodeRecordHeader,
  legacySeeds,
  recordFlagBatchContinues,
  recordFlagGroupEnds,
  recordGroupMask,
  RecordKind,
  recordPayloadIsIntact,
  type RecordHeader,
  type RecordSeeds,
} from './record.ts'

export type ScanItem =
  | { type: 'record'; offset: number; end: number; header: RecordHeader; intact: boolean }
  | { type: 'pastEnd'; offset: number; header: RecordHeader }
  | { type: 'range'; offset: number; end: number }
  | { type: 'zeros'; offset: number }

/** The items of `contents` from `from` (the end of the segment header) to its end, in file order. */
export function* scanSegment(contents: Buffer, from: number, seeds: RecordSeeds): Generator<ScanItem> {
  const sizeBytes = contents.length
  let offset = from
  // Bounded: every pass moves `offset` forward by at least one byte, or ends the walk.
  while (offset < sizeBytes) {
    // The usual case, one checksum: a whole, intact record.
    const whole = decodeIntactRecord(contents, offset, seeds)
    if (whole !== undefined) {
      const end = offset + recordHeaderBytes + whole.payloadBytes
      yield { type: 'record', offset, end, header: whole, intact: true }
      offset = end
      continue
    }
    const header = sizeBytes - offset >= recordHeaderBytes ? decodeRecordHeader(contents, offset, seeds) : undefined
    if (header !== undefined) {
      const end = offset + recordHeaderBytes + header.payloadBytes
      if (end > sizeBytes) {
        yield { type: 'pastEnd', offset, header }
        return
      }
      yield { type: 'record', offset, end, header, intact: recordPayloadIsIntact(contents, offset, header, seeds) }
      offset = end
      continue
    }
    if (isAllZero(contents, offset)) {
      yield { type: 'zeros', offset }
      return
    }
    const next = seeds.legacy ? undefined : findProvenRecord(contents, offset + 1, seeds)
    yield { type: 'range', offset, end: next ?? sizeBytes }
    offset = next ?? sizeBytes
  }
}

const zeroChunk = Buffer.alloc(64 * 1024)

/** True when every byte of `contents` from `from` on is zero. */
function isAllZero(contents: Buffer, from: number): boolean {
  // Bounded: each pass compares one chunk, with memcmp speed.
  for (let offset = from; offset < contents.length; offset += zeroChunk.length) {
    const end = Math.min(contents.length, offset + zeroChunk.length)
    if (!contents.subarray(offset, end).equals(zeroChunk.subarray(0, end - offset))) return false
  }
  return true
}

const knownKindBytes = new Set<number>(Object.values(RecordKind))

/** The offset of the first proven record (both seeded checksums hold) at or after `from`. */
function findProvenRecord(contents: Buffer, from: number, seeds: RecordSeeds): number | undefined {
  const last = contents.length - recordHeaderBytes
  // Bounded by the bytes left; most offsets fail the one-byte filters before any checksum.
  for (let offset = from; offset <= last; offset++) {
    if (!knownKindBytes.has(contents[offset + 8]!) || (contents[offset + 9]! & ~(recordFlagBatchContinues | recordFlagGroupEnds)) !== 0) continue
    if (decodeProvenRecord(contents, offset, seeds) !== undefined) return offset
  }
  return undefined
}

/**
 * Whether a format 1 or 2 segment holds any intact record at or after `from`. Such a record is
 * never applied (it cannot be told from an image stored in a value), but it shows that the bytes
 * before it are not a torn tail.
 */
export function legacyRecordAfter(contents: Buffer, from: number): boolean {
  const seeds = legacySeeds
  const last = contents.length - recordHeaderBytes
  for (let offset = from; offset <= last; offset++) {
    if (!knownKindBytes.has(contents[offset + 8]!) || contents[offset + 10] !== 0 || contents[offset + 11] !== 0) continue
    if (decodeIntactRecord(contents, offset, seeds) !== undefined) return true
  }
  return false
}

/** One group commit as the scan sees it. */
interface GroupSeen {
  /** Where it starts: right after the group (or sync mark) before it. */
  start: number
  /** Its tag, once a record of it with a trusted header is seen. */
  tag: number | undefined
  hasItems: boolean
  damaged: boolean
  /** A range was seen in it: what the range held is unknown. */
  rangeSeen: boolean
  /**
   * Set when a range in it must have held whole groups (the tags after it do not follow): the
   * group proper starts here, and what lies before is durable damage, not part of the tail.
   */
  restartAt: number | undefined
}

function newGroup(start: number): GroupSeen {
  return { start, tag: undefined, hasItems: false, damaged: false, rangeSeen: false, restartAt: undefined }
}

export interface LogEnd {
  /** Bytes of the segment that are the log: the rest is a torn tail or zeros. */
  keptBytes: number
  /** True when the bytes cut hold a torn write (not just zeros). */
  torn: boolean
  /** The tag of the last group kept, from which the writer counts on (0 when none). */
  lastGroupTag: number
  /** The last thing kept is an intact syncMark: nothing before it can be a torn tail any more. */
  proven: boolean
}

/**
 * Where the log of the newest segment ends. `headerBytes` is where its records start.
 *
 * The proof: the writer writes group commit k + 1 only after the fdatasync of group k returned, so
 * any intact piece of a later group shows that every earlier group is whole on disk. The group of
 * the last piece found is the tail group: it is kept when it ended (its last record carries
 * GROUP_ENDS) and nothing in it is damaged; otherwise it was never acknowledged, and it is cut from
 * its start. A range (bytes whose header failed) takes the tag of the group it starts in; tags
 * that do not follow across a range show that the range held whole groups, which are durable,
 * and the cut moves up to the first record after it.
 */
export function findLogEnd(contents: Buffer, headerBytes: number, seeds: RecordSeeds): LogEnd {
  let closed: GroupSeen | undefined
  let closedTag = 0
  /** Where the last intact syncMark ends: everything before it is proven durable. */
  let provenEnd = -1
  let open = newGroup(headerBytes)
  let endOfItems = contents.length
  for (const item of scanSegment(contents, headerBytes, seeds)) {
    if (item.type === 'zeros') {
      endOfItems = item.offset
      break
    }
    if (item.type === 'range') {
      open.hasItems = true
      open.damaged = true
      open.rangeSeen = true
      continue
    }
    const header = item.header
    if (item.type === 'record' && item.intact && header.kind === RecordKind.syncMark) {
      // Everything before it was synced before it was written.
      closed = undefined
      closedTag = header.group
      provenEnd = item.end
      open = newGroup(item.end)
      continue
    }
    open.hasItems = true
    if (!seeds.legacy) {
      if (open.tag === undefined) {
        open.tag = header.group
        if (open.rangeSeen && header.group !== ((closedTag + 1) & recordGroupMask)) open.restartAt = item.offset
      } else if (header.group !== open.tag) {
        // A group that began inside damage: the damage before it belongs to earlier groups.
        open.tag = header.group
        open.restartAt = item.offset
      }
    }
    if (item.type === 'pastEnd' || !item.intact) open.damaged = true
    if (item.type === 'pastEnd') break
    const ends = seeds.legacy ? (header.flags & recordFlagBatchContinues) === 0 : (header.flags & recordFlagGroupEnds) !== 0
    if (ends) {
      closed = open
      closedTag = header.group
      open = newGroup(item.end)
    }
  }
  const tail = open.hasItems ? open : closed
  const isTorn = tail !== undefined && (tail === open || tail.damaged)
  if (!isTorn) {
    // Nothing is open: the log ends where the last group (or sync mark) ended; zeros may follow.
    const keptBytes = Math.min(endOfItems, open.start)
    return { keptBytes, torn: false, lastGroupTag: closedTag, proven: keptBytes === provenEnd }
  }
  const cutAt = tail.restartAt ?? tail.start
  // Format 1 and 2: an intact record after the damage shows it is not a tail (it is not applied).
  if (seeds.legacy && tail.rangeSeen && legacyRecordAfter(contents, cutAt + 1)) {
    return { keptBytes: contents.length, torn: false, lastGroupTag: 0, proven: false }
  }
  // The usual case needs no second look: the tail is the open group, cut where it began.
  const lastGroupTag = tail === open && tail.restartAt === undefined ? closedTag : tagBefore(contents, headerBytes, cutAt, seeds)
  return { keptBytes: cutAt, torn: true, lastGroupTag, proven: cutAt === provenEnd }
}

/** The tag of the last record with a trusted header that ends before `cutAt` (0 when none). */
function tagBefore(contents: Buffer, headerBytes: number, cutAt: number, seeds: RecordSeeds): number {
  let tag = 0
  for (const item of scanSegment(contents.subarray(0, cutAt), headerBytes, seeds)) {
    if (item.type === 'record') tag = item.header.group
  }
  return tag
}
