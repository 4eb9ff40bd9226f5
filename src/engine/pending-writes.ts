/**
 * The writes appended but not yet acknowledged, as seen by the writes that come after them.
 *
 * Readers read the keydir, which holds acknowledged writes only (see docs/format.md, *The write
 * path*). Writers validate against a view: the keydir with these pending writes laid over it, so
 * that a write validates against every write called before it, acknowledged or not. For each
 * document and input node that a pending write touches, an entry holds what the view needs:
 * whether it exists, its parent, whether it has an output, the document's metadata columns, how
 * many nodes its chain gains or loses, and the versions the writes give it (for conditional
 * writes). Everything else (values, locations) is not needed to validate a write and stays out.
 *
 * Each `note…` method records one write and returns its release, which the store calls when it
 * publishes that write to the keydir. An entry is dropped when the last write that touched it is
 * released: writes are published in the order they were noted, so the keydir then holds exactly
 * what the entry said. Memory: one small entry per document or node with a write in flight.
 *
 * Views stack: the store's pending writes lie over the keydir (`KeydirView`), and a batch
 * validates its writes in a scratch `PendingWrites` over the store's, dropped once validated.
 */
import { SlotKind, type Column, type Keydir } from './keydir.ts'

/** What writes validate against: which documents and nodes exist, and how. */
export interface IndexView {
  docExists(local: number): boolean
  /** The document input `local` belongs to, if it exists in the view; 0 otherwise. */
  parentOf(local: number): number
  hasOutput(local: number): boolean
  chainLength(docLocal: number): number
  /** The document's metadata columns as a pending write left them; undefined: as the keydir holds them. */
  pendingMeta(docLocal: number): Map<string, string> | undefined
  /**
   * The sequence number of the record column `column` of `local` points to (keydir.ts): a
   * document's text (a) and metadata (b), a node's value (a) and output (b). 0 for none.
   */
  seqOf(local: number, column: Column): number
}

/** The keydir as a view: acknowledged writes only. */
export class KeydirView implements IndexView {
  constructor(private readonly keydir: Keydir) {}

  docExists(local: number): boolean {
    return this.keydir.kind(local) === SlotKind.doc
  }

  parentOf(local: number): number {
    return this.keydir.kind(local) === SlotKind.input ? this.keydir.parent(local) : 0
  }

  hasOutput(local: number): boolean {
    return this.keydir.hasOutput(local)
  }

  chainLength(docLocal: number): number {
    return this.keydir.chainLength(docLocal)
  }

  pendingMeta(): undefined {
    return undefined
  }

  seqOf(local: number, column: Column): number {
    return this.keydir.seqOf(local, column)
  }
}

interface PendingDoc {
  exists: boolean
  /** The newest pending metadata columns; undefined when no pending write changes them. */
  meta: Map<string, string> | undefined
  /** Nodes the pending writes add to the chain, less those they delete. */
  chainDelta: number
  /** Sequence numbers the newest pending writes give its text (a) and metadata (b); undefined: as below. */
  aSeq: number | undefined
  bSeq: number | undefined
  writes: number
}

interface PendingInput {
  /** The document it belongs to; 0 when it does not exist. */
  parent: number
  hasOutput: boolean
  /** Sequence numbers the newest pending writes give its value (a) and output (b); undefined: as below. */
  aSeq: number | undefined
  bSeq: number | undefined
  writes: number
}

export class PendingWrites implements IndexView {
  private readonly docs = new Map<number, PendingDoc>()
  private readonly inputs = new Map<number, PendingInput>()

  /**
   * `conditionsAgainst`: the view whose versions conditional writes are checked against, when not
   * this one. A batch's scratch view checks them against the store's view before the batch: a
   * client can only know the versions it read, never those the batch's own writes will take.
   */
  constructor(
    private readonly base: IndexView,
    private readonly conditionsAgainst?: IndexView,
  ) {}

  /** The sequence number a conditional write on column `column` of `local` must expect (see the constructor). */
  conditionSeqOf(local: number, column: Column): number {
    return (this.conditionsAgainst ?? this).seqOf(local, column)
  }

  /** Documents and nodes with a write in flight (for tests and stats). */
  get size(): number {
    return this.docs.size + this.inputs.size
  }

  // ---------------------------------------------------------------- the view

  docExists(local: number): boolean {
    return this.docs.get(local)?.exists ?? this.base.docExists(local)
  }

  parentOf(local: number): number {
    const entry = this.inputs.get(local)
    return entry !== undefined ? entry.parent : this.base.parentOf(local)
  }

  hasOutput(local: number): boolean {
    return this.inputs.get(local)?.hasOutput ?? this.base.hasOutput(local)
  }

  chainLength(docLocal: number): number {
    return this.base.chainLength(docLocal) + (this.docs.get(docLocal)?.chainDelta ?? 0)
  }

  pendingMeta(docLocal: number): Map<string, string> | undefined {
    const entry = this.docs.get(docLocal)
    return entry !== undefined && (entry.meta !== undefined || !entry.exists) ? entry.meta : this.base.pendingMeta(docLocal)
  }

  seqOf(local: number, column: Column): number {
    const entry = this.docs.get(local) ?? this.inputs.get(local)
    const pending = entry === undefined ? undefined : column === 'a' ? entry.aSeq : entry.bSeq
    return pending ?? this.base.seqOf(local, column)
  }

  // ---------------------------------------------------------------- noting writes

  noteCreateDoc(local: number, meta: Map<string, string>, blobSeq: number, metaSeq: number): () => void {
    const doc = this.doc(local)
    doc.exists = true
    doc.meta = meta
    doc.aSeq = blobSeq
    doc.bSeq = metaSeq
    return () => this.releaseDoc(local, doc)
  }

  noteDocText(local: number, seq: number): () => void {
    const doc = this.doc(local)
    doc.aSeq = seq
    return () => this.releaseDoc(local, doc)
  }

  noteDocMeta(local: number, meta: Map<string, string>, seq: number): () => void {
    const doc = this.doc(local)
    doc.meta = meta
    doc.bSeq = seq
    return () => this.releaseDoc(local, doc)
  }

  noteDeleteDoc(local: number): () => void {
    const doc = this.doc(local)
    doc.exists = false
    doc.meta = undefined
    doc.aSeq = 0
    doc.bSeq = 0
    return () => this.releaseDoc(local, doc)
  }

  noteAddInput(docLocal: number, local: number, seq: number): () => void {
    const doc = this.doc(docLocal)
    doc.chainDelta++
    const input = this.input(local)
    input.parent = docLocal
    input.hasOutput = false
    input.aSeq = seq
    input.bSeq = 0
    return () => {
      doc.chainDelta--
      this.releaseDoc(docLocal, doc)
      this.releaseInput(local, input)
    }
  }

  noteDeleteInput(docLocal: number, local: number): () => void {
    const doc = this.doc(docLocal)
    doc.chainDelta--
    const input = this.input(local)
    input.parent = 0
    input.hasOutput = false
    input.aSeq = 0
    input.bSeq = 0
    return () => {
      doc.chainDelta++
      this.releaseDoc(docLocal, doc)
      this.releaseInput(local, input)
    }
  }

  noteInputValue(local: number, seq: number): () => void {
    const input = this.input(local)
    input.aSeq = seq
    return () => this.releaseInput(local, input)
  }

  /** An output set (`seq` its record's) or deleted (`seq` 0). */
  noteOutput(local: number, seq: number): () => void {
    const input = this.input(local)
    input.hasOutput = seq !== 0
    input.bSeq = seq
    return () => this.releaseInput(local, input)
  }

  // ---------------------------------------------------------------- entries

  private doc(local: number): PendingDoc {
    let entry = this.docs.get(local)
    if (entry === undefined) {
      entry = { exists: this.base.docExists(local), meta: undefined, chainDelta: 0, aSeq: undefined, bSeq: undefined, writes: 0 }
      this.docs.set(local, entry)
    }
    entry.writes++
    return entry
  }

  private input(local: number): PendingInput {
    let entry = this.inputs.get(local)
    if (entry === undefined) {
      const parent = this.base.parentOf(local)
      entry = { parent, hasOutput: parent !== 0 && this.base.hasOutput(local), aSeq: undefined, bSeq: undefined, writes: 0 }
      this.inputs.set(local, entry)
    }
    entry.writes++
    return entry
  }

  private releaseDoc(local: number, entry: PendingDoc): void {
    if (--entry.writes === 0) this.docs.delete(local)
  }

  private releaseInput(local: number, entry: PendingInput): void {
    if (--entry.writes === 0) this.inputs.delete(local)
  }
}
