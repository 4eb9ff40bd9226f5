import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { BlockCache, blockSizeBytes } from './block-cache.ts'
import { nodeFileSystem } from './file-system.ts'
import { newRecordSeeds, segmentFileName } from './segment-file.ts'
import { SegmentFiles } from './segment-files.ts'

const dir = mkdtempSync(join(tmpdir(), 'stratum-cache-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A segment file of `sizeBytes` whose byte at offset i is i mod 251. */
function segmentOf(segmentNumber: number, sizeBytes: number): { files: SegmentFiles; bytes: Buffer } {
  const bytes = Buffer.alloc(sizeBytes)
  for (let offset = 0; offset < sizeBytes; offset++) bytes[offset] = offset % 251
  writeFileSync(join(dir, segmentFileName(segmentNumber)), bytes)
  const files = new SegmentFiles(nodeFileSystem, dir)
  files.add(segmentNumber, sizeBytes, undefined, { version: 3, headerBytes: 40, seeds: newRecordSeeds(), headerDamaged: false })
  return { files, bytes }
}

describe('block cache', () => {
  it('returns the same bytes as the file, inside one block, across blocks and past the cache', () => {
    const { files, bytes } = segmentOf(1, blockSizeBytes * 5 + 123)
    const cache = new BlockCache(files, blockSizeBytes * 2)
    const reads: Array<[number, number]> = [
      [0, 10],
      [blockSizeBytes - 5, 10], // across a block boundary
      [blockSizeBytes * 5, 123], // the short last block
      [100, 70_000], // large: read directly
      [7, 3 * blockSizeBytes], // three blocks
    ]
    for (let round = 0; round < 3; round++) {
      for (const [offset, sizeBytes] of reads) {
        assert.ok(cache.read(1, offset, sizeBytes).equals(bytes.subarray(offset, offset + sizeBytes)), `${offset}+${sizeBytes}`)
      }
    }
    assert.ok(cache.sizeBytes <= blockSizeBytes * 2, 'stays within its capacity')
    assert.ok(cache.hits > 0 && cache.misses > 0)
  })

  it('caches a block on its second miss only, then serves it from memory', () => {
    const { files, bytes } = segmentOf(5, blockSizeBytes * 2)
    const cache = new BlockCache(files, blockSizeBytes * 2)
    assert.ok(cache.read(5, 100, 8).equals(bytes.subarray(100, 108)))
    assert.equal(cache.sizeBytes, 0, 'a first miss reads just the record')
    assert.ok(cache.read(5, 200, 8).equals(bytes.subarray(200, 208)))
    assert.equal(cache.sizeBytes, blockSizeBytes, 'a second miss on the block caches it')
    const misses = cache.misses
    assert.ok(cache.read(5, 300, 8).equals(bytes.subarray(300, 308)))
    assert.equal(cache.misses, misses, 'then it is a hit')
  })

  it('evicts the least recently used block', () => {
    const { files } = segmentOf(2, blockSizeBytes * 4)
    const cache = new BlockCache(files, blockSizeBytes * 2)
    const touch = (blockIndex: number): void => void cache.read(2, blockIndex * blockSizeBytes, 8)
    for (const blockIndex of [0, 0, 1, 1]) touch(blockIndex) // both cached, on their second miss
    touch(0) // block 0 is now the most recent
    touch(2)
    touch(2) // caching block 2 evicts block 1
    const misses = cache.misses
    touch(0)
    assert.equal(cache.misses, misses, 'block 0 stayed')
    touch(1)
    assert.equal(cache.misses, misses + 1, 'block 1 was evicted')
  })

  it('reads the growing last block of an active segment again when it needs newer bytes', () => {
    const { files, bytes } = segmentOf(3, 100)
    const cache = new BlockCache(files, blockSizeBytes * 4)
    assert.ok(cache.read(3, 0, 100).equals(bytes))
    assert.ok(cache.read(3, 0, 100).equals(bytes))
    assert.equal(cache.sizeBytes, 100, 'the short last block is cached')
    const more = Buffer.from('appended')
    appendFileSync(join(dir, segmentFileName(3)), more)
    files.grow(3, 100 + more.length)
    assert.equal(cache.read(3, 100, more.length).toString(), 'appended')
    assert.ok(cache.read(3, 0, 100).equals(bytes))
  })

  it('caches nothing with a capacity of 0', () => {
    const { files, bytes } = segmentOf(4, 1000)
    const cache = new BlockCache(files, 0)
    assert.ok(cache.read(4, 10, 20).equals(bytes.subarray(10, 30)))
    assert.equal(cache.sizeBytes, 0)
  })
})
