/**
 * The syncMark record (kind 9, segment format 3): a proof of durability. It is written as a group
 * commit of its own, and only once every byte before it in its segment is synced, so an intact one
 * shows recovery that no damage before it can be a torn tail (see segment-scan.ts). Written on
 * close, when a segment is sealed, when a store is opened with a tail not yet proven, and at the end
 * of every compaction output. id, parentId and seq are 0; the payload is empty.
 */
import { encodeRecord, RecordKind, sealRecord, type RecordSeeds } from './record.ts'

/** A sealed syncMark for a segment with `seeds`, in group `groupTag` (which it ends). */
export function encodeSyncMark(seeds: RecordSeeds, groupTag: number): Buffer {
  const mark = encodeRecord({ kind: RecordKind.syncMark, flags: 0, seq: 0, id: 0, parentId: 0 }, 0)
  sealRecord(mark, seeds, groupTag, true)
  return mark
}
