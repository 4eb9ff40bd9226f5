import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DocumentList } from './document-list.ts'

const bytes = (text: string): Buffer => Buffer.from(text)

describe('document list', () => {
  it('lists in id order, pages after any id, and skips removed documents', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 3000; local += 3) list.append(local, bytes(`m${local}`))
    for (let local = 1; local <= 3000; local += 6) list.remove(local)
    assert.deepEqual(list.list(0, 3), [4, 10, 16])
    assert.deepEqual(list.list(5, 2), [10, 16])
    assert.deepEqual(list.list(2998, 10), [])
    assert.equal(list.meta(10)?.toString(), 'm10')
    assert.equal(list.meta(7), undefined, 'removed')
    assert.equal(list.has(7), false)
  })

  it('keeps ids and metadata paired when holes are squeezed out', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 100; local++) list.append(local, bytes(`m${local}`))
    for (let local = 1; local <= 90; local++) list.remove(local) // squeezes on the way
    assert.deepEqual(list.list(0, 100), [91, 92, 93, 94, 95, 96, 97, 98, 99, 100])
    for (let local = 91; local <= 100; local++) assert.equal(list.meta(local)?.toString(), `m${local}`)
    list.setMeta(95, bytes('changed'))
    assert.equal(list.meta(95)?.toString(), 'changed')
    list.setMeta(96, undefined)
    assert.equal(list.meta(96), undefined, 'metadata can be unknown (lost)')
    assert.equal(list.has(96), true)
  })

  it('rewrites its arena when replaced metadata is half of it, keeping every current value', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 50; local++) list.append(local, bytes(`first ${local}`))
    // 50 documents rewritten 100 times with 100-byte metadata: 500 KB written, far over the
    // 64 KiB below which the arena is never rewritten.
    for (let round = 0; round < 100; round++) {
      for (let local = 1; local <= 50; local++) list.setMeta(local, bytes(`${round}:${local}:`.padEnd(100, 'x')))
    }
    for (let local = 1; local <= 50; local++) assert.equal(list.meta(local)?.toString(), `99:${local}:`.padEnd(100, 'x'))
    assert.ok(list.sizeBytes() < 100_000, `the arena was rewritten: ${list.sizeBytes()} bytes held`)
  })

  it('trims to size after a bulk build, and grows again on later appends', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 5000; local++) list.append(local, bytes(`meta ${local}`))
    list.remove(3)
    const before = list.sizeBytes()
    list.trimToSize()
    assert.ok(list.sizeBytes() < before, `${list.sizeBytes()} < ${before}`)
    for (let local = 5001; local <= 6000; local++) list.append(local, bytes(`meta ${local}`))
    for (const local of [1, 2, 4, 4999, 5000, 5001, 6000]) assert.equal(list.meta(local)?.toString(), `meta ${local}`)
    assert.equal(list.has(3), false)
    assert.equal(list.list(0, 10_000).length, 5999)
  })

  it('copies the metadata it is given', () => {
    const list = new DocumentList()
    const source = bytes('abc')
    list.append(1, source)
    source.write('xyz')
    assert.equal(list.meta(1)?.toString(), 'abc')
  })

  it('refuses ids out of order', () => {
    const list = new DocumentList()
    list.append(5, undefined)
    assert.throws(() => list.append(4, undefined), /documents are listed in id order/)
  })
})
