/**
 * The wire conformance test is only as right as its generator: an "equivalent" encoding that
 * protobuf reads otherwise, or a "broken" one that protobuf reads, would make it hold the server
 * to the wrong rule. So this checks the generator (test/support/equivalent-encodings.ts) against a
 * reference implementation, protobuf-go, through `buf convert` (a dev dependency, also used for
 * `npm run lint:proto`): random messages of every request type and their equivalent encodings
 * must decode to the same JSON, and every broken encoding must fail to decode, except a known
 * field of the wrong wire type, which protobuf-go keeps as an unknown field and the contract
 * refuses.
 *
 * The valid encodings go through one call, as the items of one message; each broken one needs a
 * call of its own (about 0.1 s), hence few of them.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { lseProtoFileName, lseProtoPath, lseServiceName, loadLseRoot, protoDir } from '../../src/protocol/proto-definition.ts'
import { seededRandom } from '../../src/engine/testing/seeded-random.ts'
import { corrupted, equivalentNodes, paddingOptions, randomMessage } from '../support/equivalent-encodings.ts'
import { encodeNodes, tagBytes, varintBytes } from '../support/wire-encoding.ts'

const run = promisify(execFile)
const buf = path.join(protoDir, '..', 'node_modules', '.bin', 'buf')
const requestTypes = loadLseRoot()
  .lookupService(lseServiceName)
  .methodsArray.map((method) => method.resolvedRequestType!)
const seed = Number(process.env.WIRE_REFERENCE_SEED ?? 20_26_12_04)
const messagesPerType = 6
const variantsPerMessage = 4
const brokenPerType = 2

/** Decodes `bytes` as `typeName` with protobuf-go; the JSON, or undefined when it refuses them. */
async function decodeWithGo(dir: string, typeName: string, bytes: Buffer): Promise<unknown> {
  const input = path.join(dir, `${typeName}-${bytes.toString('hex').slice(0, 32)}-${bytes.length}.binpb`)
  fs.writeFileSync(input, bytes)
  try {
    const { stdout } = await run(buf, ['convert', dir, '--type', typeName, '--from', `${input}#format=binpb`, '--to', '-#format=json'], { maxBuffer: 1 << 26 })
    return JSON.parse(stdout)
  } catch (error) {
    if ((error as { code?: unknown }).code === 1) return undefined
    throw error
  }
}

describe('the wire conformance generator, against protobuf-go', () => {
  let dir: string

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-wire-reference-'))
    fs.copyFileSync(lseProtoPath, path.join(dir, lseProtoFileName))
  })

  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('writes equivalent encodings that protobuf-go reads as the canonical message', async () => {
    const random = seededRandom(seed)
    // One field of a batch message per random message: its canonical encoding and its equivalents are the items.
    let batchProto = `syntax = "proto3";\npackage reference;\nimport "${lseProtoFileName}";\nmessage Batch {\n`
    const batch: number[] = []
    const sent: { field: number; hex: string[] }[] = []
    for (const type of requestTypes) {
      for (let index = 0; index < messagesPerType; index++) {
        const field = sent.length + 1
        batchProto += `  repeated ${type.fullName.slice(1)} m${field} = ${field};\n`
        const nodes = randomMessage(type, random)
        const encodings = [encodeNodes(nodes), ...Array.from({ length: variantsPerMessage }, () => encodeNodes(equivalentNodes(type, nodes, random), paddingOptions(random)))]
        for (const bytes of encodings) batch.push(...tagBytes(field, 2), ...varintBytes(BigInt(bytes.length)), ...bytes)
        sent.push({ field, hex: encodings.map((bytes) => bytes.toString('hex')) })
      }
    }
    fs.writeFileSync(path.join(dir, 'batch.proto'), `${batchProto}}\n`)
    const decoded = (await decodeWithGo(dir, 'reference.Batch', Buffer.from(batch))) as Record<string, unknown[]> | undefined
    assert.ok(decoded !== undefined, 'protobuf-go refused the batch of valid encodings')
    for (const { field, hex } of sent) {
      const items: string[] = (decoded[`m${field}`] ?? []).map((item) => JSON.stringify(item))
      assert.equal(items.length, hex.length, `${hex.length} encodings sent as m${field}, ${items.length} read`)
      for (let index = 1; index < hex.length; index++) assert.equal(items[index], items[0], `${hex[index]} is not ${hex[0]}`)
    }
  })

  it('writes broken encodings that protobuf-go refuses, but a known field of the wrong wire type', async () => {
    const random = seededRandom(seed + 1)
    for (const type of requestTypes) {
      for (let index = 0; index < brokenPerType; index++) {
        const nodes = randomMessage(type, random)
        const broken = corrupted(type, equivalentNodes(type, nodes, random), random)
        const bytes = encodeNodes(broken.nodes, paddingOptions(random))
        const decoded = await decodeWithGo(dir, type.fullName.slice(1), bytes)
        const wrongWireType = broken.flaw.endsWith('a known field of the wrong wire type')
        assert.equal(decoded !== undefined, wrongWireType, `${type.name} ${bytes.toString('hex')} (${broken.flaw}): protobuf-go ${decoded === undefined ? 'refuses' : 'reads'} it`)
      }
    }
  })
})
