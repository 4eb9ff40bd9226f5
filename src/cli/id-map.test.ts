/**
 * The id map of an import: what it says is read back; a last line cut short by a kill is left
 * out, and cut off before the next run appends, so that a second resume can still read it.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { IdMapWriter, readIdMap } from './id-map.ts'

describe('id map', () => {
  it('reads back what was written; a cut last line is left out, then cut off before appending', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-idmap-'))
    try {
      const file = path.join(dir, 'ids.ndjson')
      const writer = new IdMapWriter(file)
      writer.write([{ importing: 1, revision: 10 }, { testCase: 2, id: 102 }, { problem: 1, id: 101, testCases: 1, done: true }])
      writer.write([{ importing: 3, revision: 20 }, { testCase: 4, id: 104 }, { problem: 3, id: 103, testCases: 1 }])
      writer.close()
      // Killed while writing the next records.
      fs.appendFileSync(file, '{"testCase":5,"id":1')
      let state = await readIdMap(file)
      assert.deepStrictEqual([...state.done], [1])
      assert.deepStrictEqual([...state.partial], [[3, { id: 103, testCases: 1 }]])
      assert.equal(state.importing, undefined)
      assert.equal(state.newestProblemId, 103)
      const resumed = new IdMapWriter(file)
      resumed.write([{ problem: 3, id: 103, testCases: 1, done: true }])
      resumed.close()
      assert.ok(!fs.readFileSync(file, 'utf8').includes('{"testCase":5,"id":1{'))
      state = await readIdMap(file)
      assert.deepStrictEqual([...state.done], [1, 3])
      assert.equal(state.partial.size, 0)
      // A broken line that is not the last is refused, naming it.
      fs.writeFileSync(file, '{"problem":1,"id":2,"testCases":0}\nnot json\n{"problem":3,"id":4,"testCases":0}\n')
      await assert.rejects(readIdMap(file), /ids\.ndjson line 2 is not JSON .*: it is not the id map of an import/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
