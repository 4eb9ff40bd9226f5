/**
 * `findLogEnd` on segments built record by record: where the newest segment's log ends for each
 * shape of damage. A segment here is a list of records, each with its group tag and whether it
 * ends its pass (GROUP_ENDS), as the writer seals them; damage is done to the bytes afterwards.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { segmentHeaderBytes } from './limits.ts'
import { encodeRecord, RecordKind, sealRecord } from './record.ts'
import { encodeSegmentHeader } from './segment-file.ts'
import { findLogEnd, type LogEnd } from './segment-scan.ts'
import { encodeSyncMark } from './sync-mark.ts'

const { bytes: header, seeds } = encodeSegmentHeader()

interface Spec {
  tag: number
  ends: boolean
  /** A syncMark instead of a data record. */
  mark?: boolean
  payloadBytes?: number
}

/** The segment's bytes and where each record starts and ends. */
function segment(specs: Spec[]): { bytes: Buffer; starts: number[]; ends: number[] } {
  const parts = [header]
  const starts: number[] = []
  const ends: number[] = []
  let offset = segmentHeaderBytes
  for (const [index, spec] of specs.entries()) {
    let record: Buffer
    if (spec.mark === true) record = encodeSyncMark(seeds, spec.tag)
    else {
      record = encodeRecord({ kind: RecordKind.inputPut, flags: 0, seq: index + 1, id: index + 2, parentId: 1 }, spec.payloadBytes ?? 9, (target, at) => {
        target.fill(0x61 + (index % 26), at, at + (spec.payloadBytes ?? 9))
        return at + (spec.payloadBytes ?? 9)
      })
      sealRecord(record, seeds, spec.tag, spec.ends)
    }
    starts.push(offset)
    offset += record.length
    ends.push(offset)
    parts.push(record)
  }
  return { bytes: Buffer.concat(parts), starts, ends }
}

function flip(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes)
  copy[offset] = copy[offset]! ^ 0x10
  return copy
}

function logEnd(bytes: Buffer): Pick<LogEnd, 'keptBytes' | 'torn'> {
  const { keptBytes, torn } = findLogEnd(bytes, segmentHeaderBytes, seeds)
  return { keptBytes, torn }
}

// Three group commits of `always` mode: tags 1, 2 (two records), 3.
const threeGroups: Spec[] = [
  { tag: 1, ends: true },
  { tag: 2, ends: false },
  { tag: 2, ends: true },
  { tag: 3, ends: true },
]

describe('findLogEnd', () => {
  it('keeps a whole log, and cuts zeros after it without calling them torn', () => {
    const { bytes } = segment(threeGroups)
    assert.deepEqual(logEnd(bytes), { keptBytes: bytes.length, torn: false })
    assert.deepEqual(logEnd(Buffer.concat([bytes, Buffer.alloc(4096)])), { keptBytes: bytes.length, torn: false })
  })

  it('cuts the last group whole when any of it is damaged, missing or cut short', () => {
    const { bytes, starts, ends } = segment(threeGroups)
    const lastStart = starts[3]!
    assert.deepEqual(logEnd(flip(bytes, ends[3]! - 1)), { keptBytes: lastStart, torn: true }, 'its payload')
    assert.deepEqual(logEnd(flip(bytes, lastStart + 20)), { keptBytes: lastStart, torn: true }, 'its header')
    assert.deepEqual(logEnd(bytes.subarray(0, ends[3]! - 3)), { keptBytes: lastStart, torn: true }, 'cut short')
    // Group 2 last: its first record's sectors reached the disk, its last did not (zeros).
    const twoGroups = segment(threeGroups.slice(0, 3))
    const holed = Buffer.from(twoGroups.bytes)
    holed.fill(0, twoGroups.starts[2]!, twoGroups.ends[2]!)
    assert.deepEqual(logEnd(holed), { keptBytes: twoGroups.starts[1]!, torn: true }, 'a group that never ended')
    // Out of order: the group's first record is zeros, its last one made it.
    const outOfOrder = Buffer.from(twoGroups.bytes)
    outOfOrder.fill(0, twoGroups.starts[1]!, twoGroups.ends[1]!)
    assert.deepEqual(logEnd(outOfOrder), { keptBytes: twoGroups.starts[1]!, torn: true }, 'its start lost, its end there')
  })

  it('keeps damage in a group that a later group follows: it is corruption, not a tail', () => {
    const { bytes, starts, ends } = segment(threeGroups)
    assert.deepEqual(logEnd(flip(bytes, ends[1]! - 1)), { keptBytes: bytes.length, torn: false }, 'a payload of group 2')
    assert.deepEqual(logEnd(flip(bytes, starts[1]! + 20)), { keptBytes: bytes.length, torn: false }, 'a header of group 2')
    // The header of group 2's last record: the range runs into group 3, whose tag follows 2 but
    // after a record that did not end its pass: the range held the end of group 2, durable.
    assert.deepEqual(logEnd(flip(bytes, starts[2]! + 20)), { keptBytes: bytes.length, torn: false }, 'the end of group 2')
  })

  it('never cuts a whole last group that follows damage in the group before it', () => {
    // Acknowledged groups 1, 2 and 3; bit rot in the header of group 2's last record, after a crash
    // (no sync mark). Group 3 is whole: nothing may be cut.
    const { bytes, starts } = segment(threeGroups)
    const damaged = flip(bytes, starts[2]! + 24)
    assert.deepEqual(logEnd(damaged), { keptBytes: bytes.length, torn: false })
  })

  it('cuts a torn last group after damage in the group before it, and keeps the damage', () => {
    const specs: Spec[] = [...threeGroups, { tag: 4, ends: false }, { tag: 4, ends: true }]
    const { bytes, starts, ends } = segment(specs)
    const damaged = flip(flip(bytes, starts[2]! + 24), ends[5]! - 1)
    assert.deepEqual(logEnd(damaged), { keptBytes: starts[4]!, torn: true })
  })

  it('takes a range that held whole groups (the tags do not follow) for durable damage', () => {
    const specs: Spec[] = [
      { tag: 1, ends: true },
      { tag: 2, ends: true },
      { tag: 3, ends: true },
      { tag: 4, ends: true },
    ]
    const { bytes, starts } = segment(specs)
    // Groups 2 and 3 lost in one range (both headers damaged): group 4 is whole and kept.
    const damaged = flip(flip(bytes, starts[1]! + 20), starts[2]! + 20)
    assert.deepEqual(logEnd(damaged), { keptBytes: bytes.length, torn: false })
    // The same with group 4 cut short: no whole record follows the range, so nothing after it can
    // be proven a record; it is all the tail (recovery keeps the bytes it cuts aside).
    assert.deepEqual(logEnd(damaged.subarray(0, damaged.length - 2)), { keptBytes: starts[1]!, torn: true })

  })

  it('treats the passes between two syncs (one tag) as one window: cut whole when any of it is damaged', () => {
    // interval mode: tag 1 synced; then three passes with tag 2, not yet synced.
    const specs: Spec[] = [
      { tag: 1, ends: true },
      { tag: 2, ends: true },
      { tag: 2, ends: true },
      { tag: 2, ends: true },
    ]
    const { bytes, starts, ends } = segment(specs)
    assert.deepEqual(logEnd(bytes), { keptBytes: bytes.length, torn: false })
    assert.deepEqual(logEnd(flip(bytes, ends[1]! - 1)), { keptBytes: starts[1]!, torn: true }, 'damage in its first pass')
    assert.deepEqual(logEnd(flip(bytes, starts[2]! + 20)), { keptBytes: starts[1]!, torn: true }, 'a header in its middle')
  })

  it('never takes damage before an intact sync mark for a tail', () => {
    const specs: Spec[] = [{ tag: 1, ends: true }, { tag: 2, ends: true }, { tag: 3, ends: true, mark: true }]
    const { bytes, starts, ends } = segment(specs)
    assert.deepEqual(findLogEnd(bytes, segmentHeaderBytes, seeds), { keptBytes: bytes.length, torn: false, lastGroupTag: 3, proven: true })
    assert.deepEqual(logEnd(flip(bytes, ends[1]! - 1)), { keptBytes: bytes.length, torn: false }, 'the last record before the mark')
    assert.deepEqual(logEnd(flip(bytes, starts[1]! + 20)), { keptBytes: bytes.length, torn: false }, 'its header')
    // A damaged mark proves nothing: it is cut, and what it followed is the tail again.
    assert.deepEqual(logEnd(flip(bytes, starts[2]! + 30)), { keptBytes: starts[2]!, torn: true })
  })

  it('ends the log at a whole header whose record runs past the end of the file', () => {
    const specs: Spec[] = [{ tag: 1, ends: true }, { tag: 2, ends: true, payloadBytes: 500 }]
    const { bytes, starts } = segment(specs)
    for (const cut of [starts[1]! + 40, starts[1]! + 41, starts[1]! + 300, bytes.length - 1]) {
      assert.deepEqual(logEnd(bytes.subarray(0, cut)), { keptBytes: starts[1]!, torn: true }, `cut at ${cut}`)
    }
  })
})
