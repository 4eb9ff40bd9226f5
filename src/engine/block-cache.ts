/**
 * A cache of segment blocks in memory, so that a hot read costs no system call.
 *
 * Segments are cached in aligned blocks of `blockSizeBytes`, kept until the cache is over
 * `capacityBytes`, least recently used first out. A record inside one cached block is returned as
 * a view of it (no copy); one across two blocks is copied out. Records larger than
 * `directReadMinBytes` bypass the cache: a multi-megabyte blob would push out thousands of
 * small records to be read once.
 *
 * Admission on second touch: the first miss on a block reads just the record asked for and only
 * remembers the block's key (in a bounded "recently missed" set); a second miss on it within that
 * window reads and caches the whole block. In a store much larger than the cache, uniformly random
 * reads then cost one small read each instead of a 16 KiB one that would be evicted unused, while
 * a hot block, or a chain read touching several records of one block, is cached at once.
 *
 * Segment bytes never change once written (the log is append-only), so a cached block is never
 * stale. The one exception is the last block of the active segment, which grows: a block records
 * how many bytes it holds, and is read again when a request needs bytes past them.
 */
import assert from 'node:assert/strict'
import type { SegmentFiles } from './segment-files.ts'

/** Block size: big enough that a document's chain usually sits in one or two blocks. */
export const blockSizeBytes = 16 * 1024
/** Records this big or bigger are read directly, not through the cache. */
const directReadMinBytes = 64 * 1024
/** blockIndex < 2^16 for segments up to 1 GiB; the key packs it with the segment number. */
const blocksPerSegmentMax = 2 ** 16

export class BlockCache {
  private readonly blocks = new Map<number, Buffer>()
  /** Keys of blocks missed once recently, oldest first; at most `recentMissesMax` of them. */
  private readonly recentMisses = new Set<number>()
  private readonly recentMissesMax: number
  private cachedBytes = 0
  hits = 0
  misses = 0

  constructor(
    private readonly files: SegmentFiles,
    private readonly capacityBytes: number,
  ) {
    // Remember as many missed blocks as the cache holds blocks: a block missed twice within the
    // time it would stay cached is worth caching.
    this.recentMissesMax = Math.max(16, Math.ceil(capacityBytes / blockSizeBytes))
  }

  get sizeBytes(): number {
    return this.cachedBytes
  }

  /**
   * The bytes `[offset, offset + sizeBytes)` of a segment. The result may be a view of a cached
   * block: callers must not write to it. It stays valid (and unchanged) for as long as it is held.
   */
  read(segmentNumber: number, offset: number, sizeBytes: number): Buffer {
    if (sizeBytes >= directReadMinBytes || this.capacityBytes === 0) return this.readDirect(segmentNumber, offset, sizeBytes)
    const firstBlock = Math.floor(offset / blockSizeBytes)
    const end = offset + sizeBytes
    const lastBlock = Math.floor((end - 1) / blockSizeBytes)
    if (firstBlock === lastBlock) {
      const block = this.block(segmentNumber, firstBlock, end)
      if (block === undefined) return this.readDirect(segmentNumber, offset, sizeBytes)
      const start = offset - firstBlock * blockSizeBytes
      return block.subarray(start, start + sizeBytes)
    }
    // Across blocks: copy the pieces out. Bounded: directReadMinBytes spans few blocks.
    const blocks: Buffer[] = []
    for (let blockIndex = firstBlock; blockIndex <= lastBlock; blockIndex++) {
      const block = this.block(segmentNumber, blockIndex, end)
      if (block === undefined) return this.readDirect(segmentNumber, offset, sizeBytes)
      blocks.push(block)
    }
    const target = Buffer.allocUnsafe(sizeBytes)
    for (let blockIndex = firstBlock; blockIndex <= lastBlock; blockIndex++) {
      const block = blocks[blockIndex - firstBlock]!
      const blockStart = blockIndex * blockSizeBytes
      const from = Math.max(offset, blockStart)
      const to = Math.min(end, blockStart + blockSizeBytes)
      block.copy(target, from - offset, from - blockStart, to - blockStart)
    }
    return target
  }

  /** Drops the blocks of a segment that was removed, and its recent misses. */
  dropSegment(segmentNumber: number): void {
    const first = segmentNumber * blocksPerSegmentMax
    const isOfSegment = (key: number): boolean => key >= first && key < first + blocksPerSegmentMax
    for (const [key, block] of this.blocks) if (isOfSegment(key)) this.forget(key, block)
    for (const key of this.recentMisses) if (isOfSegment(key)) this.recentMisses.delete(key)
  }

  private readDirect(segmentNumber: number, offset: number, sizeBytes: number): Buffer {
    const target = Buffer.allocUnsafe(sizeBytes)
    this.files.read(segmentNumber, offset, sizeBytes, target)
    return target
  }

  /**
   * Block `blockIndex` of a segment, holding at least the bytes up to `neededEnd` that it covers;
   * or undefined on a first miss, when the caller reads just what it needs.
   */
  private block(segmentNumber: number, blockIndex: number, neededEnd: number): Buffer | undefined {
    assert(blockIndex < blocksPerSegmentMax)
    const key = segmentNumber * blocksPerSegmentMax + blockIndex
    const blockStart = blockIndex * blockSizeBytes
    const neededBytes = Math.min(neededEnd - blockStart, blockSizeBytes)
    const cached = this.blocks.get(key)
    if (cached !== undefined && cached.length >= neededBytes) {
      this.hits++
      // Re-inserting moves the block to the young end of the Map's order.
      this.blocks.delete(key)
      this.blocks.set(key, cached)
      return cached
    }
    this.misses++
    if (cached !== undefined) {
      // The growing last block of the active segment: read it again, it was worth caching.
      this.forget(key, cached)
    } else if (!this.recentMisses.delete(key)) {
      this.recentMisses.add(key)
      if (this.recentMisses.size > this.recentMissesMax) {
        for (const oldest of this.recentMisses) {
          this.recentMisses.delete(oldest)
          break
        }
      }
      return undefined
    }
    const fileBytes = this.files.sizesBytes.get(segmentNumber) ?? 0
    const readBytes = Math.min(blockSizeBytes, fileBytes - blockStart)
    assert(readBytes >= neededBytes, `segment ${segmentNumber} holds ${fileBytes} bytes, a read needs ${neededEnd}`)
    const block = Buffer.allocUnsafe(readBytes)
    this.files.read(segmentNumber, blockStart, readBytes, block)
    this.blocks.set(key, block)
    this.cachedBytes += block.length
    // Bounded: each pass removes one block, and the newest is never removed.
    for (const [oldKey, oldBlock] of this.blocks) {
      if (this.cachedBytes <= this.capacityBytes || oldKey === key) break
      this.forget(oldKey, oldBlock)
    }
    return block
  }

  private forget(key: number, block: Buffer): void {
    this.blocks.delete(key)
    this.cachedBytes -= block.length
  }
}
