import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { BlockCache, blockSizeBytes } from './block-cache.ts'
import { nodeFileSystem } from './file-system.ts'
import { segmentFileName } from './segment-file.ts'
import { SegmentFiles } from './segment-files.ts'

const dir = mkdtempSync(join(tmpdir(), 'stratum-cache-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A segment file of `sizeBytes` whose byte at offset i is i mod 251. */
function segmentOf(segmentNumber: number, sizeBytes: number): { files: SegmentFiles; bytes: Buffer } {
  const bytes = Buffer.alloc(sizeBytes)
  for (let offset = 0; offset < sizeBytes; offset++) bytes[offset] = offset % 251
  writeFileSync(join(dir, segmentFileName(segmentNumber)), bytes)
  const files = new SegmentFiles(nodeFileSystem, dir)
  files.add(segmentNumber, sizeBytes)
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

  it('serves a hot block from memory and evicts the least recently used', () => {
    const { files } = segmentOf(2, blockSizeBytes * 4)
    const cache = new BlockCache(files, blockSizeBytes * 2)
    cache.read(2, 0, 8)
    cache.read(2, blockSizeBytes, 8)
    cache.read(2, 0, 8) // block 0 is now the most recent
    cache.read(2, blockSizeBytes * 2, 8) // evicts block 1
    const misses = cache.misses
    cache.read(2, 0, 8)
    assert.equal(cache.misses, misses, 'block 0 stayed')
    cache.read(2, blockSizeBytes, 8)
    assert.equal(cache.misses, misses + 1, 'block 1 was evicted')
  })

  it('reads the growing last block of an active segment again when it needs newer bytes', () => {
    const { files, bytes } = segmentOf(3, 100)
    const cache = new BlockCache(files, blockSizeBytes * 4)
    assert.ok(cache.read(3, 0, 100).equals(bytes))
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
