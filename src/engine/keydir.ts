/**
 * The in-memory index: for every id, where its records live, plus each document's chain of input
 * nodes, its metadata, and the ordered list of live documents.
 *
 * Memory layout. Ids are issued from one counter, so the local part of an id (see limits.ts)
 * indexes a table directly: lookups are O(1) with no hashing. The table is split into pages of
 * 2^12 slots, each a set of typed arrays (45 bytes a slot), allocated when first used and freed
 * when every id in the page is dead. A V8 Map would hold at most 2^24 entries and cost about 111
 * bytes each; this costs 45 bytes an id, whatever the id's kind, 16 of them the versions (the
 * sequence numbers of the records a slot points to, below 2^53: a float64 each). Segment numbers are stored as
 * 16-bit segment slots (see `segmentSlotsMax`), record sizes in 16 bits with a side map for the
 * rare record of 64 KiB or more, and document metadata lives in the document list.
 *
 * A slot's columns mean, by kind:
 *   document:   a = blob record, b = metadata record, parent = live input count,
 *               prev = first input, next = last input; its version is the higher of aSeq, bSeq
 *   (every column has the sequence number of the record it points to: 0 for none)
 *   input node: a = value record, b = output record (segment 0: none), parent = document,
 *               prev/next = neighbours in the document's chain (0: none)
 *
 * Invariants:
 *   - A live input's parent is a live document, and the input is in that document's chain.
 *   - A chain is in increasing id order (ids are monotonic and nodes are only appended).
 *   - `liveBytesOf(segment)` is the sum of the sizes of the records the table points to in it.
 *   - Pointers are local ids; local id 0 is never issued and means "none".
 */
import assert from 'node:assert/strict'
import { DocumentList } from './document-list.ts'
import { decodeMeta } from './document-meta.ts'
import { limitExceeded } from './errors.ts'
import { chainMaxNodes } from './limits.ts'

export const SlotKind = { empty: 0, doc: 1, input: 2, dead: 3 } as const
export type SlotKind = (typeof SlotKind)[keyof typeof SlotKind]

/** The two record columns of a slot. */
export type Column = 'a' | 'b'

const kindMask = 3
const corruptFlag: Record<Column, number> = { a: 4, b: 8 }

/**
 * 2^12 ids a page: small enough that a small store's last, partly used page wastes little
 * (at most 4,095 slots, 135 KB), large enough that a 20-million-node store has only ~5,000 pages.
 */
export const pageBits = 12
export const pageSlots = 1 << pageBits
const slotMask = pageSlots - 1

/**
 * Most segments the index can point into at once: each segment takes a slot when a record in it
 * is first indexed, and gives it back when compaction removes it. Slot 0 means "no record", so
 * 65,535 remain: at the default 64 MiB a segment, 4 TiB of log.
 */
export const segmentSlotsMax = 2 ** 16 - 1

/** Where a record lives. `segmentNumber` 0 means no record. */
export interface Location {
  segmentNumber: number
  offset: number
  sizeBytes: number
}

/** Bytes of typed arrays in one page, for memory reports. */
export const pageBytes = pageSlots * (2 * 8 + 5 * 4 + 4 * 2 + 1)

/**
 * One page of the table: its columns are views of one buffer, allocated (and zeroed) at once, so
 * that a store of millions of ids makes a few thousand allocations, not ten times as many.
 */
class Page {
  private readonly buffer = new ArrayBuffer(pageBytes)
  // 8-byte columns first, then 4-byte ones, then 2-byte ones, then the 1-byte one: every view is aligned.
  /** Sequence numbers of the records the columns point to (their versions), 0 for no record. */
  readonly aSeq = new Float64Array(this.buffer, 0, pageSlots)
  readonly bSeq = new Float64Array(this.buffer, 8 * pageSlots, pageSlots)
  readonly aOffset = new Uint32Array(this.buffer, 16 * pageSlots + 0 * 4 * pageSlots, pageSlots)
  readonly bOffset = new Uint32Array(this.buffer, 16 * pageSlots + 1 * 4 * pageSlots, pageSlots)
  readonly parent = new Uint32Array(this.buffer, 16 * pageSlots + 2 * 4 * pageSlots, pageSlots)
  readonly prev = new Uint32Array(this.buffer, 16 * pageSlots + 3 * 4 * pageSlots, pageSlots)
  readonly next = new Uint32Array(this.buffer, 16 * pageSlots + 4 * 4 * pageSlots, pageSlots)
  /** Segment slots (see `Keydir.segmentNumberOfSlot`), 0 for no record. */
  readonly aSegment = new Uint16Array(this.buffer, 36 * pageSlots + 0 * 2 * pageSlots, pageSlots)
  readonly bSegment = new Uint16Array(this.buffer, 36 * pageSlots + 1 * 2 * pageSlots, pageSlots)
  /** Record sizes below `sizeOverflow`; larger ones are in `Keydir.largeSizes`. */
  readonly aSize = new Uint16Array(this.buffer, 36 * pageSlots + 2 * 2 * pageSlots, pageSlots)
  readonly bSize = new Uint16Array(this.buffer, 36 * pageSlots + 3 * 2 * pageSlots, pageSlots)
  readonly kind = new Uint8Array(this.buffer, 44 * pageSlots, pageSlots)
  /** Slots of kind doc or input. The page is freed when this drops to 0 and it is full. */
  liveCount = 0
}

/**
 * Record sizes are stored in 16 bits: nodes and metadata are almost always smaller than 64 KiB.
 * This value in a size column means the size is in `Keydir.largeSizes` instead.
 */
const sizeOverflow = 0xffff

export class Keydir {
  private readonly pages: Array<Page | undefined> = []
  private readonly docs = new DocumentList()
  /** Metadata of documents found by recovery, until `rebuildAfterRecovery` lists them. */
  private recoveredMeta: Array<Array<Buffer | undefined> | undefined> | undefined = []
  /** Segment number of each segment slot (grown as slots are taken), and back. */
  private segmentNumberOfSlot = new Uint32Array(64)
  private readonly slotOfSegment = new Map<number, number>()
  private nextSegmentSlot = 1
  /** Slots given back by removed segments, taken again before new ones. */
  private readonly freeSegmentSlots: number[] = []
  /** Local ids below this one have all been issued; pages entirely below it may be freed. */
  private issuedBelow = 1
  documentCount = 0
  inputCount = 0
  outputCount = 0
  /** Live bytes of each segment slot: a typed array, since every record indexed updates it. */
  private liveBytesOfSlot = new Float64Array(64)
  /** The last segment looked up in `segmentSlot`: recovery and appends go to one segment at a time. */
  private lastSegmentNumber = 0
  private lastSegmentSlot = 0
  /** Sizes of records of 64 KiB or more, by `local * 2 + (column b ? 1 : 0)`. */
  private readonly largeSizes = new Map<number, number>()

  // ---- slots ----

  private page(local: number): Page | undefined {
    return this.pages[local >>> pageBits]
  }

  private pageFor(local: number): Page {
    const index = local >>> pageBits
    let page = this.pages[index]
    if (page === undefined) {
      page = new Page()
      this.pages[index] = page
    }
    return page
  }

  kind(local: number): SlotKind {
    const page = this.page(local)
    return page === undefined ? SlotKind.empty : ((page.kind[local & slotMask]! & kindMask) as SlotKind)
  }

  isCorrupt(local: number, column: Column): boolean {
    const page = this.page(local)
    return page !== undefined && (page.kind[local & slotMask]! & corruptFlag[column]) !== 0
  }

  parent(local: number): number {
    return this.page(local)?.parent[local & slotMask] ?? 0
  }

  location(local: number, column: Column): Location | undefined {
    const location: Location = { segmentNumber: 0, offset: 0, sizeBytes: 0 }
    return this.locationInto(local, column, location) ? location : undefined
  }

  /**
   * Like `location`, into `target` instead of a new object (for walks over millions of entries);
   * false when there is no record.
   */
  locationInto(local: number, column: Column, target: Location): boolean {
    const page = this.page(local)
    if (page === undefined) return false
    const slot = local & slotMask
    const segmentSlot = column === 'a' ? page.aSegment[slot]! : page.bSegment[slot]!
    if (segmentSlot === 0) return false
    target.segmentNumber = this.segmentNumberOfSlot[segmentSlot]!
    target.offset = column === 'a' ? page.aOffset[slot]! : page.bOffset[slot]!
    target.sizeBytes = this.sizeOf(local, column, column === 'a' ? page.aSize[slot]! : page.bSize[slot]!)
    return true
  }

  /** The sequence number of the record column `column` of `local` points to (its version); 0 for none. */
  seqOf(local: number, column: Column): number {
    const page = this.page(local)
    if (page === undefined) return 0
    return column === 'a' ? page.aSeq[local & slotMask]! : page.bSeq[local & slotMask]!
  }

  /** Records the sequence number of the record column `column` of `local` now points to. */
  setSeq(local: number, column: Column, seq: number): void {
    const page = this.pageFor(local)
    if (column === 'a') page.aSeq[local & slotMask] = seq
    else page.bSeq[local & slotMask] = seq
  }

  private sizeOf(local: number, column: Column, stored: number): number {
    return stored === sizeOverflow ? this.largeSizes.get(local * 2 + (column === 'b' ? 1 : 0))! : stored
  }

  /**
   * Points `column` of `local` at `location` (or at nothing), keeping the live byte counts and the
   * corrupt flag of the column: a damaged record found by recovery (its header intact, so its
   * place and size are known) is pointed at like any other, with `corrupt` set, so that reads of
   * it fail instead of serving an older version. A corrupt column with no location is a lost
   * record: one that must exist but sat in a stretch of the log whose headers were damaged.
   * Pointing at nothing clears the column's sequence number; pointing at a record keeps it, for
   * `setSeq` (a record moved by compaction keeps its own).
   */
  setLocation(local: number, column: Column, location: Location | undefined, corrupt = false): void {
    const page = this.pageFor(local)
    const slot = local & slotMask
    const segments = column === 'a' ? page.aSegment : page.bSegment
    const offsets = column === 'a' ? page.aOffset : page.bOffset
    const sizes = column === 'a' ? page.aSize : page.bSize
    const oldSegmentSlot = segments[slot]!
    if (oldSegmentSlot !== 0) this.addLiveBytesOfSlot(oldSegmentSlot, -this.sizeOf(local, column, sizes[slot]!))
    if (sizes[slot] === sizeOverflow) this.largeSizes.delete(local * 2 + (column === 'b' ? 1 : 0))
    if (location === undefined) {
      segments[slot] = 0
      offsets[slot] = 0
      sizes[slot] = 0
      if (column === 'a') page.aSeq[slot] = 0
      else page.bSeq[slot] = 0
    } else {
      assert(location.segmentNumber > 0)
      const segmentSlot = this.segmentSlot(location.segmentNumber)
      segments[slot] = segmentSlot
      offsets[slot] = location.offset
      if (location.sizeBytes < sizeOverflow) sizes[slot] = location.sizeBytes
      else {
        sizes[slot] = sizeOverflow
        this.largeSizes.set(local * 2 + (column === 'b' ? 1 : 0), location.sizeBytes)
      }
      this.addLiveBytesOfSlot(segmentSlot, location.sizeBytes)
    }
    page.kind[slot] = corrupt ? page.kind[slot]! | corruptFlag[column] : page.kind[slot]! & ~corruptFlag[column]
  }

  private addLiveBytesOfSlot(segmentSlot: number, deltaBytes: number): void {
    const total = this.liveBytesOfSlot[segmentSlot]! + deltaBytes
    assert(total >= 0, `live bytes of segment ${this.segmentNumberOfSlot[segmentSlot]} went negative`)
    this.liveBytesOfSlot[segmentSlot] = total
  }

  /** Bytes of the records the table points to in a segment. */
  liveBytesOf(segmentNumber: number): number {
    const slot = this.slotOfSegment.get(segmentNumber)
    return slot === undefined ? 0 : this.liveBytesOfSlot[slot]!
  }

  /** Live bytes by segment number, for the segments that hold any. */
  get liveBytesBySegment(): Map<number, number> {
    const bySegment = new Map<number, number>()
    for (const [segmentNumber, slot] of this.slotOfSegment) {
      const bytes = this.liveBytesOfSlot[slot]!
      if (bytes > 0) bySegment.set(segmentNumber, bytes)
    }
    return bySegment
  }

  /**
   * Gives segment `segmentNumber` its slot now, before any write to it is accepted, so that
   * publishing a write can never fail for want of one. LIMIT_EXCEEDED when all are taken.
   */
  reserveSegment(segmentNumber: number): void {
    this.segmentSlot(segmentNumber)
  }

  /** The slot of a segment, given one on first use. LIMIT_EXCEEDED when all are taken. */
  private segmentSlot(segmentNumber: number): number {
    if (segmentNumber === this.lastSegmentNumber) return this.lastSegmentSlot
    const slot = this.takeSegmentSlot(segmentNumber)
    this.lastSegmentNumber = segmentNumber
    this.lastSegmentSlot = slot
    return slot
  }

  private takeSegmentSlot(segmentNumber: number): number {
    const known = this.slotOfSegment.get(segmentNumber)
    if (known !== undefined) return known
    const freed = this.freeSegmentSlots.pop()
    if (freed !== undefined) {
      this.segmentNumberOfSlot[freed] = segmentNumber
      this.slotOfSegment.set(segmentNumber, freed)
      return freed
    }
    const slot = this.nextSegmentSlot++
    if (slot > segmentSlotsMax) {
      this.nextSegmentSlot--
      throw limitExceeded(
        `${segmentSlotsMax} segments hold live records; raise segmentSizeBytes or compact the store`,
      )
    }
    if (slot >= this.segmentNumberOfSlot.length) {
      const length = Math.min(segmentSlotsMax + 1, this.segmentNumberOfSlot.length * 2)
      const grown = new Uint32Array(length)
      grown.set(this.segmentNumberOfSlot)
      this.segmentNumberOfSlot = grown
      const grownBytes = new Float64Array(length)
      grownBytes.set(this.liveBytesOfSlot)
      this.liveBytesOfSlot = grownBytes
    }
    this.segmentNumberOfSlot[slot] = segmentNumber
    this.slotOfSegment.set(segmentNumber, slot)
    return slot
  }

  /**
   * Points `column` of `local` at `to` if it still points at `from` (segment and offset), and
   * says whether it did: compaction's switch-over, which must leave alone every entry that a
   * write changed while the compaction ran.
   */
  moveIfAt(local: number, column: Column, fromSegmentNumber: number, fromOffset: number, to: Location): boolean {
    const page = this.page(local)
    if (page === undefined) return false
    const slot = local & slotMask
    const fromSlot = this.slotOfSegment.get(fromSegmentNumber)
    if (fromSlot === undefined) return false
    const segments = column === 'a' ? page.aSegment : page.bSegment
    const offsets = column === 'a' ? page.aOffset : page.bOffset
    if (segments[slot] !== fromSlot || offsets[slot] !== fromOffset) return false
    const corrupt = this.isCorrupt(local, column)
    this.setLocation(local, column, to, corrupt)
    return true
  }

  /** Gives back the slot of a removed segment. REQUIRES: nothing points into it. */
  releaseSegment(segmentNumber: number): void {
    assert(this.liveBytesOf(segmentNumber) === 0, `segment ${segmentNumber} still holds live records`)
    const slot = this.slotOfSegment.get(segmentNumber)
    if (slot === undefined) return
    this.slotOfSegment.delete(segmentNumber)
    this.segmentNumberOfSlot[slot] = 0
    if (this.lastSegmentNumber === segmentNumber) this.lastSegmentNumber = 0
    this.freeSegmentSlots.push(slot)
  }

  private setKind(local: number, kind: SlotKind): void {
    const page = this.pageFor(local)
    const slot = local & slotMask
    const old = (page.kind[slot]! & kindMask) as SlotKind
    const wasLive = old === SlotKind.doc || old === SlotKind.input
    const isLive = kind === SlotKind.doc || kind === SlotKind.input
    page.liveCount += Number(isLive) - Number(wasLive)
    page.kind[slot] = (page.kind[slot]! & ~kindMask) | kind
  }

  /** Records that every local id below `localId` has been issued. */
  noteIssued(localIdBelow: number): void {
    this.issuedBelow = Math.max(this.issuedBelow, localIdBelow)
  }

  /** Frees the page of `local` if every id in it is issued and dead: its reads resolve to empty. */
  private maybeFreePage(local: number): void {
    const index = local >>> pageBits
    const page = this.pages[index]
    if (page === undefined || page.liveCount !== 0) return
    if ((index + 1) * pageSlots > this.issuedBelow) return
    for (let slot = 0; slot < pageSlots; slot++) {
      assert(page.aSegment[slot] === 0 && page.bSegment[slot] === 0, 'a page with no live slot points at no record')
    }
    this.pages[index] = undefined
  }

  // ---- documents ----

  /** Creates a document. `encodedMeta` is its metadata record's payload (copied); the seqs are its records'. */
  createDoc(local: number, blob: Location, blobSeq: number, meta: Location, metaSeq: number, encodedMeta: Uint8Array): void {
    assert(this.kind(local) === SlotKind.empty, `document ${local} must be new`)
    this.setKind(local, SlotKind.doc)
    this.setLocation(local, 'a', blob)
    this.setSeq(local, 'a', blobSeq)
    this.setLocation(local, 'b', meta)
    this.setSeq(local, 'b', metaSeq)
    this.docs.append(local, encodedMeta)
    this.documentCount++
  }

  /** The document's metadata columns, decoded from memory; undefined when none are known. */
  meta(local: number): Map<string, string> | undefined {
    const encoded = this.docs.meta(local)
    return encoded === undefined ? undefined : decodeMeta(encoded, 0, encoded.length)
  }

  /** Sets a document's metadata to its encoded payload (copied), or forgets it. */
  setMeta(local: number, encodedMeta: Uint8Array | undefined): void {
    if (this.recoveredMeta !== undefined && !this.docs.has(local)) {
      const pageIndex = local >>> pageBits
      const page = (this.recoveredMeta[pageIndex] ??= [])
      // A copy: the caller's bytes may be a view of a whole segment read for recovery.
      page[local & slotMask] = encodedMeta === undefined ? undefined : Buffer.from(encodedMeta)
      return
    }
    this.docs.setMeta(local, encodedMeta)
  }

  /** Live input count of a document. */
  chainLength(docLocal: number): number {
    return this.parent(docLocal)
  }

  /** Marks a document and every node of its chain dead, dropping their records. */
  deleteDoc(local: number): void {
    assert(this.kind(local) === SlotKind.doc)
    let node = this.firstInput(local)
    for (let visited = 0; node !== 0; visited++) {
      assert(visited < chainMaxNodes, 'a chain walk hit chainMaxNodes')
      const following = this.nextInput(node)
      this.killInput(node)
      this.maybeFreePage(node)
      node = following
    }
    this.setLocation(local, 'a', undefined)
    this.setLocation(local, 'b', undefined)
    this.setKind(local, SlotKind.dead)
    this.docs.remove(local)
    this.documentCount--
    this.maybeFreePage(local)
  }

  // ---- input nodes ----

  firstInput(docLocal: number): number {
    return this.page(docLocal)?.prev[docLocal & slotMask] ?? 0
  }

  nextInput(local: number): number {
    return this.page(local)?.next[local & slotMask] ?? 0
  }

  /** Creates input `local` at the end of its document's chain. REQUIRES: local > every id in it. */
  addInput(docLocal: number, local: number, value: Location, seq: number): void {
    assert(this.kind(docLocal) === SlotKind.doc)
    assert(this.kind(local) === SlotKind.empty, `input ${local} must be new`)
    const docPage = this.pageFor(docLocal)
    assert(docPage.next[docLocal & slotMask]! < local, 'chains are in increasing id order')
    this.setKind(local, SlotKind.input)
    this.setLocation(local, 'a', value)
    this.setSeq(local, 'a', seq)
    this.pageFor(local).parent[local & slotMask] = docLocal
    this.linkAtTail(docLocal, local)
  }

  /** Links input `local` after the last input of its document's chain, and counts it. */
  private linkAtTail(docLocal: number, local: number): void {
    const docPage = this.pageFor(docLocal)
    const docSlot = docLocal & slotMask
    const tail = docPage.next[docSlot]!
    const page = this.pageFor(local)
    const slot = local & slotMask
    page.prev[slot] = tail
    page.next[slot] = 0
    if (tail === 0) docPage.prev[docSlot] = local
    else this.pageFor(tail).next[tail & slotMask] = local
    docPage.next[docSlot] = local
    docPage.parent[docSlot]!++
    this.inputCount++
  }

  /** Unlinks input `local` from its chain and marks it and its output dead. */
  deleteInput(local: number): void {
    const page = this.pageFor(local)
    const slot = local & slotMask
    const docLocal = page.parent[slot]!
    const before = page.prev[slot]!
    const after = page.next[slot]!
    const docPage = this.pageFor(docLocal)
    const docSlot = docLocal & slotMask
    if (before === 0) docPage.prev[docSlot] = after
    else this.pageFor(before).next[before & slotMask] = after
    if (after === 0) docPage.next[docSlot] = before
    else this.pageFor(after).prev[after & slotMask] = before
    docPage.parent[docSlot]!--
    this.killInput(local)
    this.maybeFreePage(local)
  }

  private killInput(local: number): void {
    assert(this.kind(local) === SlotKind.input)
    if (this.hasOutput(local)) this.outputCount--
    this.setLocation(local, 'a', undefined)
    this.setLocation(local, 'b', undefined)
    const page = this.pageFor(local)
    const slot = local & slotMask
    page.parent[slot] = 0
    page.prev[slot] = 0
    page.next[slot] = 0
    this.setKind(local, SlotKind.dead)
    this.inputCount--
  }

  /** Whether input `local` has an output (a damaged one counts: it exists but cannot be read). */
  hasOutput(local: number): boolean {
    return this.location(local, 'b') !== undefined
  }

  /** Points input `local`'s output at `location`, the record of sequence number `seq`, or at nothing. */
  setOutput(local: number, location: Location | undefined, seq = 0): void {
    const had = this.hasOutput(local)
    this.setLocation(local, 'b', location)
    if (location !== undefined) this.setSeq(local, 'b', seq)
    this.outputCount += Number(location !== undefined) - Number(had)
  }

  /** Up to `limit` live document ids above `afterLocal`, in increasing order. */
  listDocs(afterLocal: number, limit: number): number[] {
    return this.docs.list(afterLocal, limit)
  }

  // ---- recovery ----

  /**
   * Recovery fills slots out of order (a newer record may be replayed before an older one), so it
   * writes kinds, locations and parents directly, then calls `rebuildAfterRecovery` once.
   */
  recoverSlot(local: number, kind: SlotKind, parent: number): void {
    this.setKind(local, kind)
    this.pageFor(local).parent[local & slotMask] = parent
  }

  /**
   * Rebuilds what recovery left out: drops nodes whose document is dead and outputs whose input
   * is dead, links every chain in id order, lists the documents, and counts everything.
   */
  rebuildAfterRecovery(): void {
    this.documentCount = 0
    this.inputCount = 0
    this.outputCount = 0
    this.docs.clear()
    const recoveredMeta = this.recoveredMeta ?? []
    this.recoveredMeta = undefined
    // Pass 0: a live input whose document left no record at all (its records were in a damaged
    // stretch of the log, or it would be dead or present) keeps its document, marked as lost.
    for (let pageIndex = 0; pageIndex < this.pages.length; pageIndex++) {
      const page = this.pages[pageIndex]
      if (page === undefined) continue
      for (let slot = 0; slot < pageSlots; slot++) {
        if ((page.kind[slot]! & kindMask) !== SlotKind.input) continue
        const docLocal = page.parent[slot]!
        if (this.kind(docLocal) === SlotKind.empty) this.recoverSlot(docLocal, SlotKind.doc, 0)
      }
    }
    // Pass 1: documents start with empty chains. A create writes the blob and the metadata in one
    // batch, and a torn batch is dropped whole, so a document missing either lost it to damage:
    // it stays, the missing record marked lost, so that its intact records still read back.
    for (let pageIndex = 0; pageIndex < this.pages.length; pageIndex++) {
      const page = this.pages[pageIndex]
      if (page === undefined) continue
      for (let slot = 0; slot < pageSlots; slot++) {
        if ((page.kind[slot]! & kindMask) !== SlotKind.doc) continue
        const local = pageIndex * pageSlots + slot
        if (this.location(local, 'a') === undefined) this.setLocation(local, 'a', undefined, true)
        const encodedMeta = recoveredMeta[pageIndex]?.[slot]
        if (encodedMeta === undefined && !this.isCorrupt(local, 'b')) this.setLocation(local, 'b', undefined, true)
        page.parent[slot] = 0
        page.prev[slot] = 0
        page.next[slot] = 0
        this.docs.append(local, encodedMeta)
        this.documentCount++
      }
    }
    // Pass 2: inputs in id order join their document's chain, or die with it.
    for (let pageIndex = 0; pageIndex < this.pages.length; pageIndex++) {
      const page = this.pages[pageIndex]
      if (page === undefined) continue
      for (let slot = 0; slot < pageSlots; slot++) {
        const kind = page.kind[slot]! & kindMask
        const local = pageIndex * pageSlots + slot
        if (kind !== SlotKind.input) {
          // An output whose input is gone (deleted, or never written) is garbage.
          if (kind !== SlotKind.doc && page.bSegment[slot] !== 0) this.setLocation(local, 'b', undefined)
          continue
        }
        const docLocal = page.parent[slot]!
        if (page.aSegment[slot] === 0 || this.kind(docLocal) !== SlotKind.doc) {
          this.setLocation(local, 'a', undefined)
          this.setLocation(local, 'b', undefined)
          page.parent[slot] = 0
          this.setKind(local, SlotKind.dead)
          continue
        }
        // Linked at the tail of its document's chain: inputs are visited in increasing id order.
        // Its kind, parent and locations are already in place.
        this.linkAtTail(docLocal, local)
        if (page.bSegment[slot] !== 0) this.outputCount++
      }
    }
    for (let pageIndex = 0; pageIndex < this.pages.length; pageIndex++) {
      this.maybeFreePage(pageIndex * pageSlots)
    }
    this.docs.trimToSize()
  }

  /** Bytes held by the table's typed arrays and the document list with its metadata. */
  tableBytes(): number {
    let pageCount = 0
    for (const page of this.pages) if (page !== undefined) pageCount++
    return pageCount * pageBytes + this.segmentNumberOfSlot.byteLength + this.docs.sizeBytes()
  }
}
