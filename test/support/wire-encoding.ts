/**
 * An abstract protobuf encoding, for tests that send requests as raw bytes: a message is a list of
 * field occurrences (`WireNode`), which `encodeNodes` writes out, optionally with varints padded.
 * Keeping the occurrences abstract lets a test rearrange, split, pad or break them and still know
 * what the bytes mean (equivalent-encodings.ts).
 */
import type { Value } from '../../src/client/index.ts'

/** A field occurrence on the wire. `message` and `group` nodes hold their fields; `packed` holds varints. */
export type WireNode =
  | { t: 'varint'; num: number; value: bigint }
  | { t: 'fixed64' | 'fixed32' | 'bytes'; num: number; bytes: Uint8Array }
  | { t: 'message'; num: number; fields: WireNode[] }
  | { t: 'packed'; num: number; values: bigint[] }
  | { t: 'group'; num: number; fields: WireNode[] }
  /** Bytes written as they are: what no well-formed occurrence can spell (see `corrupted`). */
  | { t: 'raw'; bytes: Uint8Array }

export type MessageNode = Extract<WireNode, { t: 'message' }>

export interface EncodeOptions {
  /** Extra bytes (0 to 9) to pad a varint of `minimalLength` bytes with; 0 for the canonical encoding. */
  pad(minimalLength: number): number
}

/** Minimal varints everywhere: with fields in number order and defaults left out, protobuf's canonical encoding. */
export const canonicalOptions: EncodeOptions = { pad: () => 0 }

export const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'))

/**
 * A varint of `value` (below 2^64 for a well-formed one), with `padding` zero continuation bytes.
 * Written here rather than taken from the server, so that the test does not share its mistakes.
 */
export function varintBytes(value: bigint, padding = 0): number[] {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  bytes.push(Number(rest))
  for (let index = 0; index < padding; index++) {
    bytes[bytes.length - 1]! |= 0x80
    bytes.push(0)
  }
  return bytes
}

/** The tag of field `num` with `wireType`, minimal. */
export const tagBytes = (num: number, wireType: number): number[] => varintBytes(BigInt(num) * 8n + BigInt(wireType))

export function encodeNodes(nodes: readonly WireNode[], options: EncodeOptions = canonicalOptions): Buffer {
  const out: number[] = []
  const varint = (value: bigint) => {
    const minimal = varintBytes(value).length
    out.push(...varintBytes(value, Math.min(10 - minimal, options.pad(minimal))))
  }
  const lengthDelimited = (payload: Uint8Array) => {
    varint(BigInt(payload.length))
    for (const byte of payload) out.push(byte)
  }
  const tag = (num: number, wireType: number) => varint(BigInt(num) * 8n + BigInt(wireType))
  for (const node of nodes) {
    switch (node.t) {
      case 'varint':
        tag(node.num, 0)
        varint(node.value)
        break
      case 'fixed64':
        tag(node.num, 1)
        out.push(...node.bytes)
        break
      case 'fixed32':
        tag(node.num, 5)
        out.push(...node.bytes)
        break
      case 'bytes':
        tag(node.num, 2)
        lengthDelimited(node.bytes)
        break
      case 'message':
        tag(node.num, 2)
        lengthDelimited(encodeNodes(node.fields, options))
        break
      case 'packed': {
        tag(node.num, 2)
        const payload: number[] = []
        for (const value of node.values) {
          const minimal = varintBytes(value).length
          payload.push(...varintBytes(value, Math.min(10 - minimal, options.pad(minimal))))
        }
        lengthDelimited(Uint8Array.from(payload))
        break
      }
      case 'group':
        tag(node.num, 3)
        out.push(...encodeNodes(node.fields, options))
        tag(node.num, 4)
        break
      case 'raw':
        out.push(...node.bytes)
        break
    }
  }
  return Buffer.from(out)
}

// ---------------------------------------------------------------- the contract's messages, canonically

/** A uint64 or int64 field, left out when 0 (proto3's default). */
export const varintField = (num: number, value: bigint | number): WireNode[] => (BigInt(value) === 0n ? [] : [{ t: 'varint', num, value: BigInt.asUintN(64, BigInt(value)) }])

/** A string field, left out when empty (proto3's default). */
export const stringField = (num: number, text: string): WireNode[] => (text === '' ? [] : [{ t: 'bytes', num, bytes: utf8(text) }])

/** The canonical nodes of a Value (field numbers of proto/lse.proto). */
export function valueNodes(value: Value): WireNode[] {
  switch (value.type) {
    case 'int64':
      // A oneof member is sent even when it holds its default: that is what says which member is set.
      return [{ t: 'varint', num: 1, value: BigInt.asUintN(64, value.value) }]
    case 'double': {
      const bytes = Buffer.alloc(8)
      bytes.writeDoubleLE(value.value)
      return [{ t: 'fixed64', num: 2, bytes: new Uint8Array(bytes) }]
    }
    case 'string':
      return [{ t: 'bytes', num: 3, bytes: utf8(value.value) }]
    case 'int64List':
      return [{ t: 'message', num: 4, fields: value.value.length === 0 ? [] : [{ t: 'packed', num: 1, values: value.value.map((item) => BigInt.asUintN(64, item)) }] }]
    case 'stringList':
      return [{ t: 'message', num: 5, fields: value.value.map((item): WireNode => ({ t: 'bytes', num: 1, bytes: utf8(item) })) }]
    case 'stringMap':
      return [
        {
          t: 'message',
          num: 6,
          fields: [...value.value].map(([key, item]): WireNode => ({ t: 'message', num: 1, fields: [...stringField(1, key), ...stringField(2, item)] })),
        },
      ]
  }
}
