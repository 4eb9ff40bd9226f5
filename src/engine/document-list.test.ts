import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DocumentList } from './document-list.ts'

describe('document list', () => {
  it('lists in id order, pages after any id, and skips removed documents', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 3000; local += 3) list.append(local, `m${local}`)
    for (let local = 1; local <= 3000; local += 6) list.remove(local)
    assert.deepEqual(list.list(0, 3), [4, 10, 16])
    assert.deepEqual(list.list(5, 2), [10, 16])
    assert.deepEqual(list.list(2998, 10), [])
    assert.equal(list.meta(10), 'm10')
    assert.equal(list.meta(7), undefined, 'removed')
    assert.equal(list.has(7), false)
  })

  it('keeps ids and metadata paired when holes are squeezed out', () => {
    const list = new DocumentList()
    for (let local = 1; local <= 100; local++) list.append(local, `m${local}`)
    for (let local = 1; local <= 90; local++) list.remove(local) // squeezes on the way
    assert.deepEqual(list.list(0, 100), [91, 92, 93, 94, 95, 96, 97, 98, 99, 100])
    for (let local = 91; local <= 100; local++) assert.equal(list.meta(local), `m${local}`)
    list.setMeta(95, 'changed')
    assert.equal(list.meta(95), 'changed')
  })

  it('refuses ids out of order', () => {
    const list = new DocumentList()
    list.append(5, '')
    assert.throws(() => list.append(4, ''), /documents are listed in id order/)
  })
})
