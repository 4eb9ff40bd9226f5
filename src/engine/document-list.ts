/**
 * The live documents in id order, with each one's metadata.
 *
 * Parallel typed arrays: document local ids (increasing), and where each one's encoded metadata
 * (its docMeta payload) sits in one shared byte arena. Holding metadata as bytes in an arena
 * costs a document its encoded size plus 12 bytes, with no object of its own for the garbage
 * collector to trace; a Map of strings would cost several hundred bytes.
 *
 * A deleted document leaves a hole (id 0) until holes are half the list, when they are squeezed
 * out, so listing a page stays O(page) and finding a document is a binary search. Replaced
 * metadata leaves garbage in the arena until it is half the arena, when the arena is rewritten.
 */
import assert from 'node:assert/strict'

/** Marks a document whose metadata is not known (lost to damage, see keydir.ts). */
const noMeta = -1
/** The arena is never rewritten below this size: small stores do not churn. */
const arenaCompactMinBytes = 64 * 1024

export class DocumentList {
  private ids = new Uint32Array(1024)
  private metaOffsets = new Uint32Array(1024)
  private metaLengths = new Int32Array(1024)
  private length = 0
  private holes = 0
  private arena = Buffer.alloc(4096)
  private arenaUsedBytes = 0
  private arenaGarbageBytes = 0

  /** Adds a document above every listed one. `encodedMeta` is copied. */
  append(local: number, encodedMeta: Uint8Array | undefined): void {
    assert(local > 0)
    assert(this.length === 0 || this.lastId() < local, 'documents are listed in id order')
    if (this.length === this.ids.length) this.growList()
    this.ids[this.length] = local
    this.metaLengths[this.length] = noMeta
    this.length++
    this.storeMeta(this.length - 1, encodedMeta)
  }

  private growList(): void {
    const grow = <T extends Uint32Array | Int32Array>(array: T, make: (length: number) => T): T => {
      const grown = make(array.length * 2)
      grown.set(array)
      return grown
    }
    this.ids = grow(this.ids, (length) => new Uint32Array(length))
    this.metaOffsets = grow(this.metaOffsets, (length) => new Uint32Array(length))
    this.metaLengths = grow(this.metaLengths, (length) => new Int32Array(length))
  }

  private lastId(): number {
    for (let index = this.length - 1; index >= 0; index--) if (this.ids[index] !== 0) return this.ids[index]!
    return 0
  }

  remove(local: number): void {
    const index = this.indexOf(local)
    assert(index !== undefined, `document ${local} is listed`)
    this.storeMeta(index, undefined)
    this.ids[index] = 0
    this.holes++
    if (this.holes * 2 > this.length) this.squeeze()
  }

  private squeeze(): void {
    let kept = 0
    for (let index = 0; index < this.length; index++) {
      const id = this.ids[index]!
      if (id === 0) continue
      this.ids[kept] = id
      this.metaOffsets[kept] = this.metaOffsets[index]!
      this.metaLengths[kept] = this.metaLengths[index]!
      kept++
    }
    this.length = kept
    this.holes = 0
  }

  /** Index of the first listed document with an id above `afterLocal`. */
  private indexAfter(afterLocal: number): number {
    let low = 0
    let high = this.length
    // Bounded: the range halves each pass. A hole (0) takes the id of the next real entry.
    while (low < high) {
      const middle = (low + high) >>> 1
      let probe = middle
      while (probe < high && this.ids[probe] === 0) probe++
      if (probe === high) high = middle
      else if (this.ids[probe]! <= afterLocal) low = probe + 1
      else high = middle
    }
    while (low < this.length && this.ids[low] === 0) low++
    return low
  }

  private indexOf(local: number): number | undefined {
    const index = this.indexAfter(local - 1)
    return index < this.length && this.ids[index] === local ? index : undefined
  }

  has(local: number): boolean {
    return this.indexOf(local) !== undefined
  }

  /** The document's encoded metadata, as a view valid until the next change to the list. */
  meta(local: number): Buffer | undefined {
    const index = this.indexOf(local)
    if (index === undefined || this.metaLengths[index] === noMeta) return undefined
    const offset = this.metaOffsets[index]!
    return this.arena.subarray(offset, offset + this.metaLengths[index]!)
  }

  /** Replaces the document's metadata; `encodedMeta` is copied. */
  setMeta(local: number, encodedMeta: Uint8Array | undefined): void {
    const index = this.indexOf(local)
    assert(index !== undefined, `document ${local} is listed`)
    this.storeMeta(index, encodedMeta)
  }

  private storeMeta(index: number, encodedMeta: Uint8Array | undefined): void {
    const oldLength = this.metaLengths[index]!
    if (oldLength !== noMeta) this.arenaGarbageBytes += oldLength
    if (encodedMeta === undefined) {
      this.metaLengths[index] = noMeta
    } else {
      this.reserveArena(encodedMeta.length)
      this.arena.set(encodedMeta, this.arenaUsedBytes)
      this.metaOffsets[index] = this.arenaUsedBytes
      this.metaLengths[index] = encodedMeta.length
      this.arenaUsedBytes += encodedMeta.length
    }
    if (this.arenaGarbageBytes * 2 > this.arenaUsedBytes && this.arenaUsedBytes > arenaCompactMinBytes) {
      this.compactArena()
    }
  }

  private reserveArena(sizeBytes: number): void {
    if (this.arenaUsedBytes + sizeBytes <= this.arena.length) return
    const grown = Buffer.alloc(Math.max(this.arena.length * 2, this.arenaUsedBytes + sizeBytes))
    this.arena.copy(grown, 0, 0, this.arenaUsedBytes)
    this.arena = grown
  }

  /**
   * Drops the room kept for growth, and the garbage, once a list is built in one go (by
   * recovery): a store that is only read then holds what it needs and no more.
   */
  trimToSize(): void {
    this.squeeze()
    const trim = <T extends Uint32Array | Int32Array>(array: T): T => array.slice(0, Math.max(16, this.length)) as T
    this.ids = trim(this.ids)
    this.metaOffsets = trim(this.metaOffsets)
    this.metaLengths = trim(this.metaLengths)
    this.compactArena(0)
  }

  /** Rewrites the arena with only the metadata of listed documents, and room for `spareRatio` more. */
  private compactArena(spareRatio = 1): void {
    const liveBytes = this.arenaUsedBytes - this.arenaGarbageBytes
    const compacted = Buffer.alloc(Math.max(16, Math.ceil(liveBytes * (1 + spareRatio))))
    let used = 0
    for (let index = 0; index < this.length; index++) {
      const length = this.metaLengths[index]!
      if (this.ids[index] === 0 || length === noMeta) continue
      const offset = this.metaOffsets[index]!
      this.arena.copy(compacted, used, offset, offset + length)
      this.metaOffsets[index] = used
      used += length
    }
    assert.equal(used, liveBytes, 'the arena holds exactly the listed metadata')
    this.arena = compacted
    this.arenaUsedBytes = used
    this.arenaGarbageBytes = 0
  }

  /** Up to `limit` listed ids above `afterLocal`, in increasing order. */
  list(afterLocal: number, limit: number): number[] {
    const result: number[] = []
    for (let index = this.indexAfter(afterLocal); index < this.length && result.length < limit; index++) {
      const id = this.ids[index]!
      if (id !== 0) result.push(id)
    }
    return result
  }

  clear(): void {
    this.ids = new Uint32Array(1024)
    this.metaOffsets = new Uint32Array(1024)
    this.metaLengths = new Int32Array(1024)
    this.length = 0
    this.holes = 0
    this.arena = Buffer.alloc(4096)
    this.arenaUsedBytes = 0
    this.arenaGarbageBytes = 0
  }

  /** Bytes held: the three arrays and the metadata arena. */
  sizeBytes(): number {
    return this.ids.byteLength + this.metaOffsets.byteLength + this.metaLengths.byteLength + this.arena.length
  }
}
