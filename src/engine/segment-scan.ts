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
  recordFlagsSeeded,
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
    if (!knownKindBytes.has(contents[offset + 8]!) || (contents[offset + 9]! & ~recordFlagsSeeded) !== 0) continue
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

/**
 * One sync epoch as the scan sees it: the records of the passes written between two syncs, which
 * carry one commit-group tag (see segment-writer.ts: the tag moves on only after a sync).
 */
interface Epoch {
  /** Where it starts: after the epoch (or sync mark) before it, or at a range it starts with. */
  start: number
  hasItems: boolean
  damaged: boolean
  /** Its last record so far carries GROUP_ENDS: the pass that wrote it was written whole. */
  ended: boolean
}

function newEpoch(start: number): Epoch {
  return { start, hasItems: false, damaged: false, ended: false }
}

export interface LogEnd {
  /** Bytes of the segment that are the log: the rest is a torn tail or zeros. */
  keptBytes: number
  /** True when the bytes cut hold a torn write (not just zeros). */
  torn: boolean
  /** The tag of the last group kept, from which the writer counts on (0 when none). */
  lastGroupTag: number
  /** The last thing kept is an intact syncMark, or the segment holds no record: nothing kept can be a torn tail any more. */
  proven: boolean
}

/**
 * Where the log of the newest segment ends. `headerBytes` is where its records start.
 *
 * The proof: the writer writes the records of a new sync epoch (a new tag) only after the sync
 * of the one before returned, so any intact piece of a later epoch shows that every earlier one
 * is whole on disk. The epoch of the last piece found is the tail: it is kept when its last
 * record carries GROUP_ENDS and nothing in it is damaged; otherwise it was never acknowledged
 * (in `always` mode; in the others it is the window a power cut may lose), and it is cut from
 * its start. A range (bytes whose header failed) belongs to the epoch of the record after it
 * when that record's tag is the same as the one before the range, or the next one after a
 * record that ended its pass; otherwise the range held the end of earlier epochs, which are
 * durable: it is damage, kept, and the tail starts after it.
 */
export function findLogEnd(contents: Buffer, headerBytes: number, seeds: RecordSeeds): LogEnd {
  /** Where the last intact syncMark ends: everything before it is proven durable. */
  let provenEnd = -1
  let epoch = newEpoch(headerBytes)
  // The record before: its tag, and whether it ended its pass. The segment's start (and a sync
  // mark) act as a record of the tag before the first, which ended.
  let previousTag = 0
  let previousEnds = true
  let rangeStart: number | undefined
  let endOfItems = contents.length
  let legacyBatch = 0
  let cutShort = false
  for (const item of scanSegment(contents, headerBytes, seeds)) {
    if (item.type === 'zeros') {
      endOfItems = item.offset
      break
    }
    if (item.type === 'range') {
      rangeStart ??= item.offset
      continue
    }
    const header = item.header
    if (item.type === 'record' && item.intact && header.kind === RecordKind.syncMark) {
      // Everything before it was synced before it was written.
      provenEnd = item.end
      epoch = newEpoch(item.end)
      previousTag = header.group
      previousEnds = true
      rangeStart = undefined
      continue
    }
    // Segments of format 1 and 2 have no tags: each write (batch) counts as an epoch of its own.
    const tag = seeds.legacy ? legacyBatch : header.group
    const ends = seeds.legacy ? (header.flags & recordFlagBatchContinues) === 0 : (header.flags & recordFlagGroupEnds) !== 0
    if (seeds.legacy && ends) legacyBatch++
    const sameEpoch = epoch.hasItems && tag === previousTag
    if (!sameEpoch) {
      const next = previousEnds && tag === ((previousTag + 1) & recordGroupMask)
      // A range right before a new epoch is its start when the tags follow; else it held the
      // end of earlier epochs, which are durable: damage, and the new epoch starts here.
      epoch = newEpoch(rangeStart !== undefined && next ? rangeStart : item.offset)
      if (rangeStart !== undefined && next) epoch.damaged = true
    } else if (rangeStart !== undefined) {
      epoch.damaged = true
    }
    rangeStart = undefined
    epoch.hasItems = true
    if (item.type === 'pastEnd' || !item.intact) epoch.damaged = true
    epoch.ended = item.type === 'record' && ends
    previousTag = tag
    previousEnds = ends
    if (item.type === 'pastEnd') {
      cutShort = true
      break
    }
  }
  if (rangeStart !== undefined && !cutShort) {
    // Damage after the last record: the rest of its epoch, or the start of the next one.
    if (previousEnds) epoch = { start: rangeStart, hasItems: true, damaged: true, ended: false }
    else epoch.damaged = true
  }
  const torn = epoch.hasItems && (epoch.damaged || !epoch.ended)
  if (!torn) {
    // The log ends where the last epoch (or sync mark) ended; zeros may follow. A segment that
    // holds no record has nothing to prove (one is created only after the one before is sealed).
    const keptBytes = Math.min(endOfItems, epoch.hasItems ? endOfItems : epoch.start)
    return { keptBytes, torn: false, lastGroupTag: seeds.legacy ? 0 : previousTag, proven: keptBytes === provenEnd || keptBytes === headerBytes }
  }
  const cutAt = epoch.start
  // Format 1 and 2: an intact record after the damage shows it is not a tail (it is not applied).
  if (seeds.legacy && legacyRecordAfter(contents, cutAt + 1)) {
    return { keptBytes: contents.length, torn: false, lastGroupTag: 0, proven: false }
  }
  return { keptBytes: cutAt, torn: true, lastGroupTag: seeds.legacy ? 0 : tagBefore(contents, headerBytes, cutAt, seeds), proven: cutAt === provenEnd }
}

/** The tag of the last record with a trusted header that ends before `cutAt` (0 when none). */
function tagBefore(contents: Buffer, headerBytes: number, cutAt: number, seeds: RecordSeeds): number {
  let tag = 0
  for (const item of scanSegment(contents.subarray(0, cutAt), headerBytes, seeds)) {
    if (item.type === 'record') tag = item.header.group
  }
  return tag
}
