/**
 * Helpers for the durability tests that damage real segment files: a recorder that performs
 * writes and keeps what each one should leave behind, a parser that lists the records of a store
 * folder, and folder copies.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { recordHeaderBytes, segmentHeaderBytes } from '../../src/engine/limits.ts'
import { decodeRecordHeader, RecordKind, recordPayloadIsIntact } from '../../src/engine/record.ts'
import { parseSegmentFileName, readSegmentHeader, segmentPath } from '../../src/engine/segment-file.ts'
import type { Store } from '../../src/engine/store.ts'
import type { Value } from '../../src/engine/values.ts'
import type { Snapshot } from '../crash/checker.ts'
import { canonicalValue, opOfValue } from '../crash/ops.ts'

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stratum-${prefix}-`))
}

/** Copies the segment files of a store folder (not its lock file) to a new folder. */
export function copyStore(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true })
  for (const name of fs.readdirSync(from)) {
    if (parseSegmentFileName(name) !== undefined) fs.copyFileSync(path.join(from, name), path.join(to, name))
  }
}

export function segmentNumbers(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .map((name) => parseSegmentFileName(name))
    .filter((number): number is number => number !== undefined)
    .sort((a, b) => a - b)
}

export { segmentPath }

export interface ParsedRecord {
  segmentNumber: number
  offset: number
  sizeBytes: number
  kind: RecordKind
  flags: number
  seq: number
  id: number
  parentId: number
}

/**
 * Every record of an undamaged store folder, in log order, but the syncMarks (which are no
 * write's: see src/engine/sync-mark.ts). Throws on any damage.
 */
export function readRecords(dir: string): ParsedRecord[] {
  const records: ParsedRecord[] = []
  for (const segmentNumber of segmentNumbers(dir)) {
    const contents = fs.readFileSync(segmentPath(dir, segmentNumber))
    const format = readSegmentHeader(contents.subarray(0, segmentHeaderBytes), `segment ${segmentNumber}`)
    assert.ok(typeof format === 'object', `segment ${segmentNumber}: a readable header`)
    let offset = format.headerBytes
    while (offset < contents.length) {
      const header = decodeRecordHeader(contents, offset, format.seeds)
      assert.ok(header !== undefined, `segment ${segmentNumber}: no valid record header at ${offset}`)
      assert.ok(recordPayloadIsIntact(contents, offset, header, format.seeds), `segment ${segmentNumber}: bad record at ${offset}`)
      const sizeBytes = recordHeaderBytes + header.payloadBytes
      if (header.kind !== RecordKind.syncMark) {
        records.push({ segmentNumber, offset, sizeBytes, kind: header.kind, flags: header.flags, seq: header.seq, id: header.id, parentId: header.parentId })
      }
      offset += sizeBytes
    }
  }
  return records
}

/** One write made through a `Recorder`: how many records it appended and what it leaves behind. */
export interface RecordedWrite {
  label: string
  recordCount: number
  apply(state: Snapshot): void
  /** Filled by `attachRecords`: the records it appended, in order. */
  records: ParsedRecord[]
}

function snapshotCase(value: Value): { value: string; valueOp: number | undefined; output: undefined } {
  return { value: canonicalValue(value), valueOp: opOfValue(value), output: undefined }
}

/**
 * Makes writes through a store and records, for each, the effect on the content as the checker's
 * `observeStore` reads it, so that the expected content of any subset of the writes can be built.
 */
export class Recorder {
  readonly writes: RecordedWrite[] = []

  constructor(private readonly store: Store) {}

  private note(label: string, recordCount: number, apply: (state: Snapshot) => void): void {
    this.writes.push({ label, recordCount, apply, records: [] })
  }

  async createProblem(html: string, meta: Record<string, string>): Promise<number> {
    const id = await this.store.createProblem(html, meta)
    this.note(`createProblem ${id}`, 2, (state) => state.set(id, { html, meta: { ...meta }, testCases: new Map() }))
    return id
  }

  async updateProblemHtml(docId: number, html: string): Promise<void> {
    await this.store.updateProblemHtml(docId, html)
    this.note(`updateProblemHtml ${docId}`, 1, (state) => {
      state.get(docId)!.html = html
    })
  }

  async updateProblemColumn(docId: number, column: string, value: string): Promise<void> {
    await this.store.updateProblemColumn(docId, column, value)
    this.note(`updateProblemColumn ${docId} ${column}`, 2, (state) => {
      state.get(docId)!.meta[column] = value
    })
  }

  async deleteProblem(docId: number): Promise<void> {
    await this.store.deleteProblem(docId)
    this.note(`deleteProblem ${docId}`, 1, (state) => state.delete(docId))
  }

  async addTestCase(docId: number, value: Value): Promise<number> {
    const tcId = await this.store.addTestCase(docId, value)
    this.note(`addTestCase ${docId} ${tcId}`, 1, (state) => state.get(docId)!.testCases.set(tcId, snapshotCase(value)))
    return tcId
  }

  async updateTestCase(docId: number, tcId: number, value: Value): Promise<void> {
    await this.store.updateTestCase(docId, tcId, value)
    this.note(`updateTestCase ${docId} ${tcId}`, 1, (state) => {
      const testCase = state.get(docId)!.testCases.get(tcId)!
      testCase.value = canonicalValue(value)
      testCase.valueOp = opOfValue(value)
    })
  }

  async deleteTestCase(docId: number, tcId: number): Promise<void> {
    await this.store.deleteTestCase(docId, tcId)
    this.note(`deleteTestCase ${docId} ${tcId}`, 1, (state) => state.get(docId)!.testCases.delete(tcId))
  }

  async setExpectedOutput(docId: number, tcId: number, value: Value): Promise<void> {
    await this.store.setExpectedOutput(docId, tcId, value)
    this.note(`setExpectedOutput ${docId} ${tcId}`, 1, (state) => {
      state.get(docId)!.testCases.get(tcId)!.output = canonicalValue(value)
    })
  }

  async updateExpectedOutput(docId: number, tcId: number, value: Value): Promise<void> {
    await this.store.updateExpectedOutput(docId, tcId, value)
    this.note(`updateExpectedOutput ${docId} ${tcId}`, 1, (state) => {
      state.get(docId)!.testCases.get(tcId)!.output = canonicalValue(value)
    })
  }

  async deleteExpectedOutput(docId: number, tcId: number): Promise<void> {
    await this.store.deleteExpectedOutput(docId, tcId)
    this.note(`deleteExpectedOutput ${docId} ${tcId}`, 1, (state) => {
      state.get(docId)!.testCases.get(tcId)!.output = undefined
    })
  }

  /** Assigns the records of a closed store's folder to the writes that appended them, in order. */
  attachRecords(dir: string): ParsedRecord[] {
    const records = readRecords(dir)
    let index = 0
    for (const write of this.writes) {
      write.records = records.slice(index, index + write.recordCount)
      index += write.recordCount
    }
    assert.equal(index, records.length, 'every record belongs to exactly one recorded write')
    return records
  }
}

/** The content that the given writes (in order) leave behind. */
export function contentAfter(writes: readonly RecordedWrite[]): Snapshot {
  const state: Snapshot = new Map()
  for (const write of writes) write.apply(state)
  return state
}

/** A snapshot as plain data, for deepEqual with readable diffs. */
export function plain(snapshot: Snapshot): unknown {
  return [...snapshot].map(([id, doc]) => ({
    id,
    html: doc.html,
    meta: doc.meta,
    testCases: [...doc.testCases].map(([tcId, testCase]) => ({ tcId, value: testCase.value, output: testCase.output ?? null })),
  }))
}
