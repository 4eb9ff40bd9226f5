/**
 * Writes, validated and encoded: step 1 of the write path (docs/format.md, *The write path*).
 *
 * A `WritePlan` is one API write checked against a view (the keydir with the writes still pending
 * laid over it) and encoded into its records. It knows how to note itself in a view, so that the
 * writes after it validate against it, and how to publish itself to the keydir once its group
 * commit is acknowledged. Planning throws (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT,
 * LIMIT_EXCEEDED) before anything is queued; a plan that is never appended leaves nothing behind
 * but the ids and sequence numbers it took, which are never reused (gaps are allowed).
 *
 * A single write is planned against the store's pending view. A batch plans each of its writes
 * against a scratch view layered over it, noting each there so that the next one sees it: the
 * whole batch is validated before any of it is appended.
 */
import { checkColumnName, checkMetaSize, toMetaMap, writeMeta, type MetaInput } from './document-meta.ts'
import { invalidArgument, limitExceeded, notFound, StratumError } from './errors.ts'
import { isWellFormedId, localIdOf, makeId, shardOf } from './ids.ts'
import type { ChangeTarget, ChangeType } from './change-events.ts'
import type { Column, Keydir } from './keydir.ts'
import { blobMaxBytes, chainMaxNodes, localIdMax, recordHeaderBytes } from './limits.ts'
import type { IndexView, PendingWrites } from './pending-writes.ts'
import { encodeRecord, recordFlagBatchContinues, recordFlagCreates, RecordKind } from './record.ts'
import type { Placed } from './segment-writer.ts'
import { checkedUtf8Bytes, encodedValueBytes, writeValue, type Value } from './values.ts'

export interface WritePlan {
  /** The write's records, in log order; all but the last flagged BATCH_CONTINUES. */
  readonly records: Buffer[]
  /** The id the write creates (createProblem, addTestCase). */
  readonly createdId?: number
  /** The sequence number of its last record: the version it gives what it writes, the store's revision once published. */
  readonly version: number
  /** Notes the write in `view`; returns its release, called once it is published. */
  note(view: PendingWrites): () => void
  /** Applies the write to the keydir; `at` is where its first record went. */
  publish(at: Placed): void
  /** What it changes, for watchers (change-history.ts). */
  readonly change: PlannedChange
}

/** What a write changes; its value lies in `records[index]` of its plan, one entry per record. */
export interface PlannedChange {
  readonly type: ChangeType
  readonly target: ChangeTarget
  readonly problemId: number
  /** 0 when the change is not of a test case or output. */
  readonly testCaseId: number
  readonly column?: string
  readonly valueRecords: ReadonlyArray<{ readonly index: number; readonly local: number; readonly column: Column }>
}

/** The store's counters of ids and sequence numbers, shared with compaction (its watermark). */
export interface WriteCounters {
  nextLocalId: number
  nextSeq: number
}

/** A document's version: the newer of its text's and its metadata's (keydir.ts). */
export function docVersion(view: IndexView, local: number): number {
  return Math.max(view.seqOf(local, 'a'), view.seqOf(local, 'b'))
}

/** The version of a document a conditional write on it must expect (see PendingWrites.conditionSeqOf). */
function docConditionVersion(view: PendingWrites, local: number): number {
  return Math.max(view.conditionSeqOf(local, 'a'), view.conditionSeqOf(local, 'b'))
}

/**
 * For a conditional write: VERSION_MISMATCH unless `what` is at `expectedVersion` (when one is
 * given). Checked against the pending view, so that a write conditional on a version sees every
 * write called before it, acknowledged or not: they will be applied first. In a batch, against
 * the view before the batch: its own operations do not count.
 */
function checkVersion(what: string, current: number, expectedVersion: number | undefined): void {
  if (expectedVersion === undefined) return
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 1) {
    throw invalidArgument(`expectedVersion must be a positive integer below 2^53, got ${String(expectedVersion)}`)
  }
  if (current !== expectedVersion) {
    throw new StratumError(
      'VERSION_MISMATCH',
      `${what} is at version ${current}, not the expected version ${expectedVersion}; nothing was written: read it again, then retry`,
    )
  }
}

export class WritePlanner {
  constructor(
    private readonly keydir: Keydir,
    private readonly shard: number,
    private readonly counters: WriteCounters,
    /** The document's metadata columns as the keydir holds them; CORRUPTION when damaged. */
    private readonly keydirMeta: (local: number, id: number) => Map<string, string>,
  ) {}

  // ---------------------------------------------------------------- documents

  createProblem(view: PendingWrites, html: string, meta?: MetaInput): WritePlan {
    const htmlBytes = checkBlob(html)
    const columns = toMetaMap(meta)
    const metaBytes = checkMetaSize(columns)
    const local = this.issueLocalId()
    const id = makeId(this.shard, local)
    const blobRecord = encodeRecord(
      { kind: RecordKind.docBlob, flags: recordFlagBatchContinues | recordFlagCreates, seq: this.counters.nextSeq++, id, parentId: 0 },
      htmlBytes,
      (target, offset) => offset + target.write(html, offset, 'utf8'),
    )
    const metaRecord = encodeRecord(
      { kind: RecordKind.docMeta, flags: 0, seq: this.counters.nextSeq++, id, parentId: 0 },
      metaBytes,
      (target, offset) => writeMeta(columns, target, offset),
    )
    const blobSeq = this.counters.nextSeq - 2
    const metaSeq = this.counters.nextSeq - 1
    return {
      records: [blobRecord, metaRecord],
      createdId: id,
      version: metaSeq,
      note: (target) => target.noteCreateDoc(local, columns, blobSeq, metaSeq),
      change: {
        type: 'created',
        target: 'problem',
        problemId: id,
        testCaseId: 0,
        valueRecords: [
          { index: 0, local, column: 'a' },
          { index: 1, local, column: 'b' },
        ],
      },
      publish: (at) => {
        const blob = { segmentNumber: at.segmentNumber, offset: at.offset, sizeBytes: blobRecord.length }
        const metaLocation = { ...blob, offset: blob.offset + blobRecord.length, sizeBytes: metaRecord.length }
        this.keydir.createDoc(local, blob, blobSeq, metaLocation, metaSeq, metaRecord.subarray(recordHeaderBytes))
      },
    }
  }

  updateProblemHtml(view: PendingWrites, id: number, html: string, expectedVersion?: number): WritePlan {
    const htmlBytes = checkBlob(html)
    const local = this.writableDoc(view, id)
    checkVersion(`document ${id}`, docConditionVersion(view, local), expectedVersion)
    const seq = this.counters.nextSeq++
    const record = encodeRecord(
      { kind: RecordKind.docBlob, flags: 0, seq, id, parentId: 0 },
      htmlBytes,
      (target, offset) => offset + target.write(html, offset, 'utf8'),
    )
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteDocText(local, seq),
      change: { type: 'updated', target: 'problemText', problemId: id, testCaseId: 0, valueRecords: [{ index: 0, local, column: 'a' }] },
      publish: (at) => {
        this.keydir.setLocation(local, 'a', { ...at, sizeBytes: record.length })
        this.keydir.setSeq(local, 'a', seq)
      },
    }
  }

  updateProblemColumn(view: PendingWrites, id: number, column: string, value: string, expectedVersion?: number): WritePlan {
    checkColumnName(column)
    checkedUtf8Bytes(value, `the value of column ${column}`)
    const local = this.writableDoc(view, id)
    checkVersion(`document ${id}`, docConditionVersion(view, local), expectedVersion)
    const columns = new Map(view.pendingMeta(local) ?? this.keydirMeta(local, id))
    columns.set(column, value)
    const metaBytes = checkMetaSize(columns)
    // Which column changed, for readers of the log (RecordKind.columnName).
    const nameRecord = encodeRecord(
      { kind: RecordKind.columnName, flags: recordFlagBatchContinues, seq: this.counters.nextSeq++, id, parentId: 0 },
      Buffer.byteLength(column, 'utf8'),
      (target, offset) => offset + target.write(column, offset, 'utf8'),
    )
    const seq = this.counters.nextSeq++
    const record = encodeRecord(
      { kind: RecordKind.docMeta, flags: 0, seq, id, parentId: 0 },
      metaBytes,
      (target, offset) => writeMeta(columns, target, offset),
    )
    return {
      records: [nameRecord, record],
      version: seq,
      note: (target) => target.noteDocMeta(local, columns, seq),
      change: { type: 'updated', target: 'problemColumn', problemId: id, testCaseId: 0, column, valueRecords: [{ index: 1, local, column: 'b' }] },
      publish: (at) => {
        this.keydir.setLocation(local, 'b', { segmentNumber: at.segmentNumber, offset: at.offset + nameRecord.length, sizeBytes: record.length })
        this.keydir.setSeq(local, 'b', seq)
        this.keydir.setMeta(local, record.subarray(recordHeaderBytes))
      },
    }
  }

  deleteProblem(view: PendingWrites, id: number, expectedVersion?: number): WritePlan {
    const local = this.writableDoc(view, id)
    checkVersion(`document ${id}`, docConditionVersion(view, local), expectedVersion)
    const seq = this.counters.nextSeq++
    const record = encodeRecord({ kind: RecordKind.docDelete, flags: 0, seq, id, parentId: 0 }, 0)
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteDeleteDoc(local),
      change: { type: 'deleted', target: 'problem', problemId: id, testCaseId: 0, valueRecords: [] },
      publish: () => this.keydir.deleteDoc(local),
    }
  }

  // ---------------------------------------------------------------- input nodes

  addTestCase(view: PendingWrites, docId: number, value: Value): WritePlan {
    const valueBytes = encodedValueBytes(value)
    const docLocal = this.writableDoc(view, docId)
    if (view.chainLength(docLocal) >= chainMaxNodes) {
      throw limitExceeded(`document ${docId} has ${chainMaxNodes} input nodes; chainMaxNodes is ${chainMaxNodes}`)
    }
    const local = this.issueLocalId()
    const id = makeId(this.shard, local)
    const seq = this.counters.nextSeq++
    const record = encodeRecord(
      { kind: RecordKind.inputPut, flags: recordFlagCreates, seq, id, parentId: docId },
      valueBytes,
      (target, offset) => writeValue(value, target, offset),
    )
    return {
      records: [record],
      createdId: id,
      version: seq,
      note: (target) => target.noteAddInput(docLocal, local, seq),
      change: { type: 'created', target: 'testCase', problemId: docId, testCaseId: id, valueRecords: [{ index: 0, local, column: 'a' }] },
      publish: (at) => this.keydir.addInput(docLocal, local, { ...at, sizeBytes: record.length }, seq),
    }
  }

  updateTestCase(view: PendingWrites, docId: number, tcId: number, value: Value, expectedVersion?: number): WritePlan {
    const valueBytes = encodedValueBytes(value)
    const { local } = this.writableInput(view, docId, tcId)
    checkVersion(`test case ${tcId}`, view.conditionSeqOf(local, 'a'), expectedVersion)
    const seq = this.counters.nextSeq++
    const record = encodeRecord(
      { kind: RecordKind.inputPut, flags: 0, seq, id: tcId, parentId: docId },
      valueBytes,
      (target, offset) => writeValue(value, target, offset),
    )
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteInputValue(local, seq),
      change: { type: 'updated', target: 'testCase', problemId: docId, testCaseId: tcId, valueRecords: [{ index: 0, local, column: 'a' }] },
      publish: (at) => {
        this.keydir.setLocation(local, 'a', { ...at, sizeBytes: record.length })
        this.keydir.setSeq(local, 'a', seq)
      },
    }
  }

  deleteTestCase(view: PendingWrites, docId: number, tcId: number, expectedVersion?: number): WritePlan {
    const { docLocal, local } = this.writableInput(view, docId, tcId)
    checkVersion(`test case ${tcId}`, view.conditionSeqOf(local, 'a'), expectedVersion)
    const seq = this.counters.nextSeq++
    const record = encodeRecord({ kind: RecordKind.inputDelete, flags: 0, seq, id: tcId, parentId: docId }, 0)
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteDeleteInput(docLocal, local),
      change: { type: 'deleted', target: 'testCase', problemId: docId, testCaseId: tcId, valueRecords: [] },
      publish: () => this.keydir.deleteInput(local),
    }
  }

  // ---------------------------------------------------------------- output nodes

  setExpectedOutput(view: PendingWrites, docId: number, tcId: number, value: Value): WritePlan {
    const valueBytes = encodedValueBytes(value)
    const { local } = this.writableInput(view, docId, tcId)
    if (view.hasOutput(local)) {
      throw new StratumError('ALREADY_EXISTS', `test case ${tcId} of document ${docId} already has an expected output`)
    }
    return this.putOutput(docId, tcId, local, value, valueBytes, 'created')
  }

  updateExpectedOutput(view: PendingWrites, docId: number, tcId: number, value: Value, expectedVersion?: number): WritePlan {
    const valueBytes = encodedValueBytes(value)
    const { local } = this.writableInput(view, docId, tcId)
    if (!view.hasOutput(local)) throw notFound(`test case ${tcId} of document ${docId} has no expected output`)
    checkVersion(`the expected output of test case ${tcId}`, view.conditionSeqOf(local, 'b'), expectedVersion)
    return this.putOutput(docId, tcId, local, value, valueBytes, 'updated')
  }

  deleteExpectedOutput(view: PendingWrites, docId: number, tcId: number, expectedVersion?: number): WritePlan {
    const { local } = this.writableInput(view, docId, tcId)
    if (!view.hasOutput(local)) throw notFound(`test case ${tcId} of document ${docId} has no expected output`)
    checkVersion(`the expected output of test case ${tcId}`, view.conditionSeqOf(local, 'b'), expectedVersion)
    const seq = this.counters.nextSeq++
    const record = encodeRecord({ kind: RecordKind.outputDelete, flags: 0, seq, id: tcId, parentId: docId }, 0)
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteOutput(local, 0),
      change: { type: 'deleted', target: 'expectedOutput', problemId: docId, testCaseId: tcId, valueRecords: [] },
      publish: () => this.keydir.setOutput(local, undefined),
    }
  }

  private putOutput(docId: number, tcId: number, local: number, value: Value, valueBytes: number, type: 'created' | 'updated'): WritePlan {
    const seq = this.counters.nextSeq++
    const record = encodeRecord(
      { kind: RecordKind.outputPut, flags: type === 'created' ? recordFlagCreates : 0, seq, id: tcId, parentId: docId },
      valueBytes,
      (target, offset) => writeValue(value, target, offset),
    )
    return {
      records: [record],
      version: seq,
      note: (target) => target.noteOutput(local, seq),
      change: { type, target: 'expectedOutput', problemId: docId, testCaseId: tcId, valueRecords: [{ index: 0, local, column: 'b' }] },
      publish: (at) => this.keydir.setOutput(local, { ...at, sizeBytes: record.length }, seq),
    }
  }

  // ---------------------------------------------------------------- helpers

  /** The local id of `id` if it is of this store's shard; undefined otherwise. Bad ids throw. */
  localOf(id: number, what: string): number | undefined {
    if (!isWellFormedId(id)) throw invalidArgument(`${what} must be a positive integer below 2^53, got ${String(id)}`)
    if (shardOf(id) !== this.shard) return undefined
    return localIdOf(id)
  }

  private issueLocalId(): number {
    if (this.counters.nextLocalId > localIdMax) {
      throw limitExceeded(`shard ${this.shard} has issued all ${localIdMax} ids it can`)
    }
    const local = this.counters.nextLocalId++
    this.keydir.noteIssued(this.counters.nextLocalId)
    return local
  }

  /** The local id of document `id` if it exists in `view`; NOT_FOUND otherwise. */
  private writableDoc(view: PendingWrites, id: number): number {
    const local = this.localOf(id, 'document id')
    if (local === undefined || !view.docExists(local)) throw notFound(`document ${id} not found`)
    return local
  }

  private writableInput(view: PendingWrites, docId: number, tcId: number): { docLocal: number; local: number } {
    // The node id is checked first, so that a malformed one is INVALID_ARGUMENT whatever the store holds.
    const local = this.localOf(tcId, 'test case id')
    const docLocal = this.writableDoc(view, docId)
    if (local === undefined || view.parentOf(local) !== docLocal) {
      throw notFound(`test case ${tcId} of document ${docId} not found`)
    }
    return { docLocal, local }
  }
}

function checkBlob(html: unknown): number {
  const sizeBytes = checkedUtf8Bytes(html, 'the document text')
  if (sizeBytes > blobMaxBytes) {
    throw limitExceeded(`document text is ${sizeBytes} bytes; blobMaxBytes is ${blobMaxBytes}`)
  }
  return sizeBytes
}
