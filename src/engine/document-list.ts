/**
 * The live documents in id order, with each one's metadata.
 *
 * Two parallel arrays: document local ids (a growable Uint32Array, increasing) and their encoded
 * metadata (the docMeta payload held as a latin1 string: one byte a character, so a document's
 * columns cost their encoded size plus one string header, not a Map of strings). A deleted
 * document leaves a hole (id 0) until holes are half the list, when they are squeezed out, so
 * listing a page stays O(page) and finding a document is a binary search.
 */
import assert from 'node:assert/strict'

export class DocumentList {
  private ids = new Uint32Array(1024)
  private metas: Array<string | undefined> = []
  private length = 0
  private holes = 0
  /** Characters (bytes: latin1) of all metadata strings held. */
  private metaChars = 0

  /** Adds a document above every listed one. */
  append(local: number, encodedMeta: string | undefined): void {
    assert(local > 0)
    assert(this.length === 0 || this.lastId() < local, 'documents are listed in id order')
    if (this.length === this.ids.length) {
      const grown = new Uint32Array(this.ids.length * 2)
      grown.set(this.ids)
      this.ids = grown
    }
    this.ids[this.length] = local
    this.metas[this.length] = encodedMeta
    this.metaChars += encodedMeta?.length ?? 0
    this.length++
  }

  private lastId(): number {
    for (let index = this.length - 1; index >= 0; index--) if (this.ids[index] !== 0) return this.ids[index]!
    return 0
  }

  remove(local: number): void {
    const index = this.indexOf(local)
    assert(index !== undefined, `document ${local} is listed`)
    this.ids[index] = 0
    this.metaChars -= this.metas[index]?.length ?? 0
    this.metas[index] = undefined
    this.holes++
    if (this.holes * 2 > this.length) this.squeeze()
  }

  private squeeze(): void {
    let kept = 0
    for (let index = 0; index < this.length; index++) {
      const id = this.ids[index]!
      if (id === 0) continue
      this.ids[kept] = id
      this.metas[kept] = this.metas[index]
      kept++
    }
    this.length = kept
    this.metas.length = kept
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

  meta(local: number): string | undefined {
    const index = this.indexOf(local)
    return index === undefined ? undefined : this.metas[index]
  }

  setMeta(local: number, encodedMeta: string | undefined): void {
    const index = this.indexOf(local)
    assert(index !== undefined, `document ${local} is listed`)
    this.metaChars += (encodedMeta?.length ?? 0) - (this.metas[index]?.length ?? 0)
    this.metas[index] = encodedMeta
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
    this.metas = []
    this.length = 0
    this.holes = 0
    this.metaChars = 0
  }

  /**
   * Bytes held: the id array, the metadata array's pointers, and the metadata strings (each
   * estimated as its characters plus a 16-byte string header, as V8 lays out one-byte strings).
   */
  sizeBytes(): number {
    return this.ids.byteLength + this.metas.length * 8 + this.length * 16 + this.metaChars
  }
}
