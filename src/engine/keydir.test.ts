import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Keydir, pageBytes, pageSlots, SlotKind, type Location } from './keydir.ts'

/** Encoded metadata with no columns: a count of 0. */
const noColumns = Buffer.alloc(4)
const at = (offset: number, sizeBytes = 10, segmentNumber = 1): Location => ({ segmentNumber, offset, sizeBytes })

function chainOf(keydir: Keydir, docLocal: number): number[] {
  const nodes: number[] = []
  for (let node = keydir.firstInput(docLocal); node !== 0; node = keydir.nextInput(node)) nodes.push(node)
  return nodes
}

describe('keydir', () => {
  it('links inputs in id order and unlinks from the head, middle and tail', () => {
    const keydir = new Keydir()
    keydir.noteIssued(10)
    keydir.createDoc(1, at(0), 1, at(10), 2, noColumns)
    for (const local of [2, 3, 4, 5]) keydir.addInput(1, local, at(local * 100), 3)
    assert.deepEqual(chainOf(keydir, 1), [2, 3, 4, 5])
    keydir.deleteInput(3)
    assert.deepEqual(chainOf(keydir, 1), [2, 4, 5])
    keydir.deleteInput(2)
    keydir.deleteInput(5)
    assert.deepEqual(chainOf(keydir, 1), [4])
    assert.equal(keydir.chainLength(1), 1)
    assert.equal(keydir.kind(3), SlotKind.dead)
    keydir.addInput(1, 6, at(600), 3)
    assert.deepEqual(chainOf(keydir, 1), [4, 6])
  })

  it('keeps live bytes per segment equal to the records it points to', () => {
    const keydir = new Keydir()
    keydir.createDoc(1, at(0, 100), 1, at(100, 20), 2, noColumns)
    keydir.addInput(1, 2, at(120, 30), 3)
    keydir.setOutput(2, at(150, 40, 2))
    assert.equal(keydir.liveBytesBySegment.get(1), 150)
    assert.equal(keydir.liveBytesBySegment.get(2), 40)
    keydir.setLocation(2, 'a', at(0, 31, 2)) // an update moves the value to segment 2
    assert.equal(keydir.liveBytesBySegment.get(1), 120)
    assert.equal(keydir.liveBytesBySegment.get(2), 71)
    keydir.deleteDoc(1)
    assert.equal(keydir.liveBytesBySegment.size, 0)
    assert.equal(keydir.documentCount + keydir.inputCount + keydir.outputCount, 0)
  })

  it('lists documents in id order and pages past deleted ones', () => {
    const keydir = new Keydir()
    for (let local = 1; local <= 20; local++) keydir.createDoc(local, at(local), 1, at(local), 2, noColumns)
    for (const local of [1, 2, 3, 7, 8, 15]) keydir.deleteDoc(local)
    assert.deepEqual(keydir.listDocs(0, 5), [4, 5, 6, 9, 10])
    assert.deepEqual(keydir.listDocs(8, 3), [9, 10, 11])
    assert.deepEqual(keydir.listDocs(14, 100), [16, 17, 18, 19, 20])
    // Deleting more than half squeezes the holes out; listing must not change.
    for (const local of [4, 5, 6, 9, 10, 11]) keydir.deleteDoc(local)
    assert.deepEqual(keydir.listDocs(0, 100), [12, 13, 14, 16, 17, 18, 19, 20])
    assert.deepEqual(keydir.listDocs(20, 100), [])
  })

  it('frees a page once every id in it is issued and dead', () => {
    const keydir = new Keydir()
    keydir.createDoc(1, at(0), 1, at(0), 2, noColumns)
    keydir.createDoc(pageSlots, at(0), 1, at(0), 2, noColumns) // the first id of the second page
    keydir.noteIssued(pageSlots * 2 + 1)
    const bytesWithTwoPages = keydir.tableBytes()
    keydir.deleteDoc(pageSlots)
    assert.equal(bytesWithTwoPages - keydir.tableBytes(), pageBytes)
    assert.equal(keydir.kind(pageSlots), SlotKind.empty, 'ids of a freed page read as unknown')
    assert.equal(keydir.kind(1), SlotKind.doc, 'the first page stays')
  })

  it('keeps a page while ids in it may still be issued', () => {
    const keydir = new Keydir()
    keydir.noteIssued(3)
    keydir.createDoc(1, at(0), 1, at(0), 2, noColumns)
    keydir.deleteDoc(1)
    assert.equal(keydir.kind(1), SlotKind.dead, 'a freed page would read as empty')
  })

  it('drops, on rebuild, inputs of dead documents and outputs of dead inputs', () => {
    const keydir = new Keydir()
    keydir.recoverSlot(3, SlotKind.input, 1) // an input seen before its document
    keydir.setLocation(3, 'a', at(300))
    keydir.setLocation(3, 'b', at(310))
    keydir.recoverSlot(1, SlotKind.doc, 0)
    keydir.setLocation(1, 'a', at(0))
    keydir.recoverSlot(4, SlotKind.input, 2) // document 2 was deleted
    keydir.setLocation(4, 'a', at(400))
    keydir.recoverSlot(2, SlotKind.dead, 0)
    keydir.setLocation(5, 'b', at(500)) // an output whose input never arrived
    keydir.rebuildAfterRecovery()
    assert.deepEqual(chainOf(keydir, 1), [3])
    assert.equal(keydir.hasOutput(3), true)
    assert.equal(keydir.kind(4), SlotKind.dead)
    assert.equal(keydir.location(5, 'b'), undefined)
    assert.deepEqual([keydir.documentCount, keydir.inputCount, keydir.outputCount], [1, 1, 1])
    assert.equal(keydir.liveBytesBySegment.get(1), 30)
  })

  it('keeps a damaged record pointed at and flagged through rebuild', () => {
    const keydir = new Keydir()
    keydir.recoverSlot(1, SlotKind.doc, 0)
    keydir.setLocation(1, 'a', at(0))
    keydir.recoverSlot(2, SlotKind.input, 1)
    keydir.setLocation(2, 'a', at(100), true)
    keydir.rebuildAfterRecovery()
    assert.deepEqual(chainOf(keydir, 1), [2])
    assert.equal(keydir.isCorrupt(2, 'a'), true)
    keydir.setLocation(2, 'a', at(200))
    assert.equal(keydir.isCorrupt(2, 'a'), false, 'a rewrite clears the damage')
  })

  it('keeps exact sizes of records of 64 KiB and more, and of many segments', () => {
    const keydir = new Keydir()
    keydir.createDoc(1, at(0, 65_535), 1, at(70_000, 16 * 1024 * 1024 + 40), 2, noColumns)
    assert.equal(keydir.location(1, 'a')?.sizeBytes, 65_535)
    assert.equal(keydir.location(1, 'b')?.sizeBytes, 16 * 1024 * 1024 + 40)
    assert.equal(keydir.liveBytesBySegment.get(1), 65_535 + 16 * 1024 * 1024 + 40)
    keydir.setLocation(1, 'b', at(0, 12, 2))
    assert.equal(keydir.location(1, 'b')?.sizeBytes, 12)
    assert.equal(keydir.liveBytesBySegment.get(1), 65_535)
    // Segment numbers far apart and many of them map to slots and back.
    for (let local = 2; local < 300; local++) keydir.addInput(1, local, at(local, 100_000 + local, local * 1000), 3)
    for (let local = 2; local < 300; local++) {
      assert.deepEqual(keydir.location(local, 'a'), at(local, 100_000 + local, local * 1000))
    }
  })
})
