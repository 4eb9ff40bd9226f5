/**
 * No bytes a client can place in a value are ever applied as a record, whatever is cut or
 * damaged. A property test (fast-check): acknowledged documents and nodes, then carriers — nodes
 * whose int64 lists hold images of records (deletes of other documents and nodes, updates of
 * nodes to a forged value, batches), checksummed as an attacker can (plain CRC-32C, or seeds
 * guessed at random) at any alignment — then more acknowledged writes; the store is closed, its
 * newest segment cut at any byte of its last records and/or a carrier's header damaged; and the
 * reopened store is read back.
 *
 * Oracle: every document and node whose records all lie before the first damaged or cut byte
 * reads back exactly its last acknowledged value. Every other one reads one of its acknowledged
 * values, or fails with CORRUPTION (DATA_LOSS over gRPC), or is absent when the record creating it
 * was lost. No read ever returns a forged value, and no document or node is ever deleted by one.
 *
 * Runs: STRATUM_FORGERY_RUNS (default 60 in `npm test`; `npm run forgery` runs 2,000).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { isStratumError } from '../src/engine/errors.ts'
import { openStore, type Store } from '../src/engine/store.ts'
import { int64, int64List, type Value } from '../src/engine/values.ts'
import { forgedRecord, int64Payload, listHolding } from './support/forged-record.ts'
import { makeTempDir, readRecords, segmentNumbers, segmentPath, type ParsedRecord } from './support/fixture.ts'

const root = makeTempDir('forgery')
after(() => fs.rmSync(root, { recursive: true, force: true }))
let runs = 0

const kind = { docDelete: 3, inputPut: 4, inputDelete: 5, outputPut: 6 } as const
/** Values only a forged record carries: never written by the test. */
const forgedValueBase = 666_000n

type ImageKind = 'docDelete' | 'inputPut' | 'inputDelete' | 'outputPut' | 'batch'

interface CarrierSpec {
  images: ImageKind[]
  /** Which document and node (by index, modulo what exists) the images target. */
  target: number
  /** Where in the list's bytes the images start: any alignment. */
  position: number
  seeds: 'plain' | { header: number; record: number }
}

interface Scenario {
  docs: number[]
  carriers: CarrierSpec[]
  updatesAfter: number
  cutBack: number | undefined
  headerFlip: { carrier: number; byte: number } | undefined
}

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  docs: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }),
  carriers: fc.array(
    fc.record({
      images: fc.array(fc.constantFrom<ImageKind>('docDelete', 'inputPut', 'inputDelete', 'outputPut', 'batch'), { minLength: 1, maxLength: 4 }),
      target: fc.nat(),
      position: fc.integer({ min: 0, max: 80 }),
      seeds: fc.oneof(fc.constant('plain' as const), fc.record({ header: fc.nat({ max: 0xffffffff }), record: fc.nat({ max: 0xffffffff }) })),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  updatesAfter: fc.integer({ min: 0, max: 3 }),
  // How many bytes before the end of the file to cut at (undefined: no cut).
  cutBack: fc.option(fc.integer({ min: 1, max: 900 }), { nil: undefined }),
  headerFlip: fc.option(fc.record({ carrier: fc.nat(), byte: fc.integer({ min: 4, max: 39 }) }), { nil: undefined }),
})

interface Tracked {
  docId: number
  tcId: number | undefined
  /** Every value acknowledged, in order. */
  history: string[]
  /** The records that set it, by the index of the write that appended them. */
  writeIndexes: number[]
}

function show(value: Value | string | undefined): string {
  if (value === undefined) return 'absent'
  if (typeof value === 'string') return `html:${value}`
  return `${value.type}:${String(value.value)}`
}

function imagesFor(spec: CarrierSpec, victims: Tracked[], seq: number, serial: number): Buffer {
  const docs = victims.filter((victim) => victim.tcId === undefined)
  const nodes = victims.filter((victim) => victim.tcId !== undefined)
  const doc = docs[spec.target % docs.length]!
  const node = nodes[spec.target % nodes.length]!
  const seeds = spec.seeds === 'plain' ? { header: 0, record: 0 } : spec.seeds
  const images: Buffer[] = []
  for (const [index, image] of spec.images.entries()) {
    const forged = int64Payload(forgedValueBase + BigInt(serial * 10 + index))
    const common = { seq: seq + index * 2, group: 0 }
    if (image === 'docDelete') images.push(forgedRecord({ ...common, kind: kind.docDelete, flags: 0, id: doc.docId, parentId: 0 }, seeds))
    if (image === 'inputPut') images.push(forgedRecord({ ...common, kind: kind.inputPut, flags: 0, id: node.tcId!, parentId: node.docId, payload: forged }, seeds))
    if (image === 'inputDelete') images.push(forgedRecord({ ...common, kind: kind.inputDelete, flags: 0, id: node.tcId!, parentId: node.docId }, seeds))
    if (image === 'outputPut') images.push(forgedRecord({ ...common, kind: kind.outputPut, flags: 0, id: node.tcId!, parentId: node.docId, payload: forged }, seeds))
    if (image === 'batch') {
      // A batch: an update that continues into a delete of the document.
      images.push(forgedRecord({ ...common, kind: kind.inputPut, flags: 1, id: node.tcId!, parentId: node.docId, payload: forged }, seeds))
      images.push(forgedRecord({ ...common, seq: common.seq + 1, kind: kind.docDelete, flags: 0, id: doc.docId, parentId: 0 }, seeds))
    }
  }
  return Buffer.concat(images)
}

async function read(store: Store, tracked: Tracked): Promise<string> {
  try {
    if (tracked.tcId === undefined) return show(await store.getProblemHtml(tracked.docId))
    return show(await store.getTestCase(tracked.docId, tracked.tcId))
  } catch (error) {
    if (isStratumError(error) && error.code === 'CORRUPTION') return 'CORRUPTION'
    throw error
  }
}

async function runScenario(scenario: Scenario): Promise<void> {
  const dir = path.join(root, `run-${++runs}`)
  const store = await openStore({ dir })
  const tracked: Tracked[] = []
  let writeIndex = 0
  let serial = 0
  for (const [docIndex, nodeCount] of scenario.docs.entries()) {
    const html = `doc ${docIndex}`
    const docId = await store.createProblem(html)
    tracked.push({ docId, tcId: undefined, history: [show(html)], writeIndexes: [writeIndex++] })
    for (let node = 0; node < nodeCount; node++) {
      const value = int64(docIndex * 100 + node)
      const tcId = await store.addTestCase(docId, value)
      tracked.push({ docId, tcId, history: [show(value)], writeIndexes: [writeIndex++] })
    }
  }
  const holder = await store.createProblem('holder')
  const holderWrite = writeIndex++
  const carrierWrites: number[] = []
  for (const spec of scenario.carriers) {
    const images = imagesFor(spec, tracked, 2 ** 40 + serial * 100, serial++)
    const items = Math.ceil((spec.position + images.length) / 8) + 2
    await store.addTestCase(holder, int64List(listHolding(images, spec.position, items)))
    carrierWrites.push(writeIndex++)
  }
  const nodes = tracked.filter((entry) => entry.tcId !== undefined)
  for (let update = 0; update < scenario.updatesAfter; update++) {
    const node = nodes[update % nodes.length]!
    const value = int64(10_000 + update)
    await store.updateTestCase(node.docId, node.tcId!, value)
    node.history.push(show(value))
    node.writeIndexes.push(writeIndex++)
  }
  await store.close()

  // Where each write's records lie (syncMarks are no write's: readRecords leaves them out).
  // Creates are two records (blob, metadata); every other write is one.
  const records = readRecords(dir)
  const createWrites = new Set([...tracked.filter((entry) => entry.tcId === undefined).map((entry) => entry.writeIndexes[0]!), holderWrite])
  const byWrite: ParsedRecord[][] = []
  let recordIndex = 0
  for (let index = 0; index < writeIndex; index++) {
    const count = createWrites.has(index) ? 2 : 1
    byWrite.push(records.slice(recordIndex, recordIndex + count))
    recordIndex += count
  }
  assert.equal(recordIndex, records.length, "every record is some write's")
  const newest = Math.max(...segmentNumbers(dir))
  assert.ok(records.every((record) => record.segmentNumber === newest), 'the scenario fits one segment')

  const file = segmentPath(dir, newest)
  let damageAt = Number.POSITIVE_INFINITY
  if (scenario.headerFlip !== undefined) {
    const carrier = byWrite[carrierWrites[scenario.headerFlip.carrier % carrierWrites.length]!]![0]!
    const bytes = fs.readFileSync(file)
    bytes[carrier.offset + scenario.headerFlip.byte] = bytes[carrier.offset + scenario.headerFlip.byte]! ^ 0x24
    fs.writeFileSync(file, bytes)
    damageAt = carrier.offset
  }
  if (scenario.cutBack !== undefined) {
    const cutAt = Math.max(0, fs.statSync(file).size - scenario.cutBack)
    fs.truncateSync(file, cutAt)
    damageAt = Math.min(damageAt, cutAt)
  }
  const beforeDamage = (index: number): boolean => byWrite[index]!.every((record) => record.offset + record.sizeBytes <= damageAt)
  const docCreate = new Map(tracked.filter((entry) => entry.tcId === undefined).map((entry) => [entry.docId, entry.writeIndexes[0]!]))

  const reopened = await openStore({ dir, onWarning: () => undefined })
  try {
    for (const entry of tracked) {
      const found = await read(reopened, entry)
      const context = `${entry.tcId === undefined ? `document ${entry.docId}` : `node ${entry.tcId} of ${entry.docId}`}: read ${found}, acknowledged ${entry.history.join(' then ')}`
      assert.ok(!found.startsWith(`int64:${String(forgedValueBase).slice(0, 3)}`), `${context}: a forged value`)
      if (entry.writeIndexes.every(beforeDamage)) {
        assert.equal(found, entry.history.at(-1), `${context}: its records lie before any damage`)
        continue
      }
      // Absent only when the record creating it (or its document) was lost.
      const created = beforeDamage(entry.writeIndexes[0]!) && beforeDamage(docCreate.get(entry.docId)!)
      const allowed = new Set([...entry.history, 'CORRUPTION', ...(created ? [] : ['absent'])])
      assert.ok(allowed.has(found), `${context}: not an acknowledged value`)
    }
  } finally {
    await reopened.close()
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

describe('forgery', () => {
  it('never applies a record image stored in a value, whatever is cut or damaged', async () => {
    const numRuns = Number(process.env.STRATUM_FORGERY_RUNS ?? 60)
    await fc.assert(fc.asyncProperty(scenarioArbitrary, runScenario), { numRuns, seed: Number(process.env.STRATUM_FORGERY_SEED ?? 20261204) })
  })
})
