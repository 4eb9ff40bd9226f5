/**
 * The syncMark record (kind 9, segment format 3): a proof of durability. It is written as a group
 * commit of its own, and only once every byte before it in its segment is synced, so an intact one
 * shows recovery that no damage before it can be a torn tail (see segment-scan.ts). Written on
 * close, when a segment is sealed, when a store is opened with a tail not yet proven, and at the end
 * of every compaction output. id and parentId are 0; the payload is empty. `seq` is 0, but for the
 * mark an open after a crash writes (format 4): the sequence counter's new floor (recovery.ts,
 * `nextSeqAfter`), so that a clean close with no write after it does not lose the jump.
 */
import { encodeRecord, RecordKind, sealRecord, type RecordSeeds } from './record.ts'

/** A sealed syncMark for a segment with `seeds`, in group `groupTag` (which it ends). */
export function encodeSyncMark(seeds: RecordSeeds, groupTag: number, seq = 0): Buffer {
  const mark = encodeRecord({ kind: RecordKind.syncMark, flags: 0, seq, id: 0, parentId: 0 }, 0)
  sealRecord(mark, seeds, groupTag, true)
  return mark
}
