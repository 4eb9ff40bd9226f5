/**
 * Every engine error code maps to the gRPC status that README.md documents, and the README's
 * table lists every code: the documentation and the switch cannot drift apart.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { status } from '@grpc/grpc-js'
import { errorCodes } from '../engine/index.ts'
import { grpcStatusOf } from './status-codes.ts'

const readmePath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md')

/** Rows "| `ENGINE_CODE` | `GRPC_STATUS` (n) | …" of the README's engine-code table. */
function documentedMapping(): Map<string, string> {
  const mapping = new Map<string, string>()
  for (const match of fs.readFileSync(readmePath, 'utf8').matchAll(/^\| `([A-Z_]+)` \| `([A-Z_]+)` \(\d+\) \|/gm)) {
    mapping.set(match[1]!, match[2]!)
  }
  return mapping
}

describe('grpcStatusOf', () => {
  it('maps every engine error code as README.md documents it', () => {
    const documented = documentedMapping()
    for (const code of errorCodes) {
      const mapped = status[grpcStatusOf(code)]
      assert.equal(documented.get(code), mapped, `README.md row for ${code}`)
    }
    assert.deepEqual([...documented.keys()].sort(), [...errorCodes].sort(), 'the README lists exactly the engine codes')
  })

  it('maps to INTERNAL only the engine code of a bug, which is kept for bugs', () => {
    for (const code of errorCodes) {
      if (code === 'INTERNAL') assert.equal(grpcStatusOf(code), status.INTERNAL)
      else assert.notEqual(grpcStatusOf(code), status.INTERNAL, code)
    }
  })
})
