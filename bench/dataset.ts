/**
 * The generated data of the engine benchmark: documents with a 2 KiB text blob, three metadata
 * columns, and a chain of input nodes (lists of 8 int64s) each with an output (a list of 2).
 *
 * Every document is generated from (seed, its index) alone, so that each system in a run stores
 * the same bytes whatever order it creates documents in.
 */
import { int64List, type Value } from '../src/engine/index.ts'
import { Prng } from './prng.ts'

export const datasetSeed = 0x5eed_2024
export const htmlSizeBytes = 2048
export const inputItems = 8
export const outputItems = 2

export interface GeneratedDocument {
  html: string
  meta: Record<string, string>
  inputs: Value[]
  outputs: Value[]
}

const letters = 'abcdefghijklmnopqrstuvwxyz'
const difficulties = ['easy', 'medium', 'hard'] as const
const tagPool = ['math', 'greedy', 'dp', 'graphs', 'strings', 'geometry', 'sorting', 'bitmasks'] as const

function word(prng: Prng, lengthChars: number): string {
  let text = ''
  for (let index = 0; index < lengthChars; index++) text += letters[prng.nextInt(letters.length)]!
  return text
}

/** An ASCII HTML text of exactly `sizeBytes` bytes. */
function html(prng: Prng, sizeBytes: number): string {
  const open = '<p>'
  const close = '</p>'
  let body = ''
  const bodyBytes = sizeBytes - open.length - close.length
  while (body.length < bodyBytes) body += `${word(prng, 2 + prng.nextInt(9))} `
  return open + body.slice(0, bodyBytes) + close
}

export function int64ListOf(prng: Prng, items: number): Value {
  const list: bigint[] = []
  for (let index = 0; index < items; index++) list.push(prng.nextInt64())
  return int64List(list)
}

export function generateDocument(index: number, inputsPerDocument: number): GeneratedDocument {
  const prng = new Prng(datasetSeed, index)
  const tagCount = 1 + prng.nextInt(3)
  const tags: string[] = []
  for (let tag = 0; tag < tagCount; tag++) tags.push(tagPool[prng.nextInt(tagPool.length)]!)
  const meta = {
    title: `Problem ${index}: ${word(prng, 8)}`,
    difficulty: difficulties[prng.nextInt(difficulties.length)]!,
    tags: tags.join(','),
  }
  const inputs: Value[] = []
  const outputs: Value[] = []
  for (let node = 0; node < inputsPerDocument; node++) {
    inputs.push(int64ListOf(prng, inputItems))
    outputs.push(int64ListOf(prng, outputItems))
  }
  return { html: html(prng, htmlSizeBytes), meta, inputs, outputs }
}

/** UTF-8 bytes of the metadata's column names and values. */
export function metaPayloadBytes(meta: Record<string, string>): number {
  let sizeBytes = 0
  for (const [name, value] of Object.entries(meta)) sizeBytes += Buffer.byteLength(name) + Buffer.byteLength(value)
  return sizeBytes
}

/** Deep equality of two values, int64 lists compared item by item. */
export function sameValue(left: Value | undefined, right: Value | undefined): boolean {
  if (left === undefined || right === undefined) return left === right
  if (left.type !== right.type) return false
  if (left.type === 'int64List' && right.type === 'int64List') {
    return left.value.length === right.value.length && left.value.every((item, index) => item === right.value[index])
  }
  if (left.type === 'int64' && right.type === 'int64') return left.value === right.value
  return JSON.stringify(left, bigintReplacer) === JSON.stringify(right, bigintReplacer)
}

function bigintReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return [...value.entries()]
  return value
}
