/**
 * Protobuf wire bytes written by hand as buffers, for requests that no encoder would produce and
 * that are too large for a list of numbers (wire-encoding.ts): millions of empty items, a message
 * field sent once per item, numbers unpacked.
 */
import { tagBytes, varintBytes } from './wire-encoding.ts'

export const varintWireType = 0
export const lengthDelimitedWireType = 2

export function tag(fieldNumber: number, wireType: number): Buffer {
  return Buffer.from(tagBytes(fieldNumber, wireType))
}

export function lengthDelimited(fieldNumber: number, payload: Uint8Array): Buffer {
  return Buffer.concat([tag(fieldNumber, lengthDelimitedWireType), Buffer.from(varintBytes(BigInt(payload.length))), payload])
}

/** `unit` written `count` times, in one allocation (a list of millions of parts would not be). */
export function repeatedBytes(unit: Uint8Array, count: number): Buffer {
  const bytes = Buffer.alloc(unit.length * count)
  if (count > 0) bytes.fill(unit)
  return bytes
}
