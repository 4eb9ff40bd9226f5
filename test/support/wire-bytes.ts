/**
 * Protobuf wire bytes written by hand, for requests that no encoder would produce: millions of
 * empty items, a message field sent once per item, numbers unpacked. Field numbers and lengths
 * are below 2^53.
 */

export const varintWireType = 0
export const lengthDelimitedWireType = 2

export function varint(value: number): Buffer {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

export function tag(fieldNumber: number, wireType: number): Buffer {
  return varint(fieldNumber * 8 + wireType)
}

export function lengthDelimited(fieldNumber: number, payload: Uint8Array): Buffer {
  return Buffer.concat([tag(fieldNumber, lengthDelimitedWireType), varint(payload.length), payload])
}

/** `unit` written `count` times, in one allocation (a list of millions of parts would not be). */
export function repeatedBytes(unit: Uint8Array, count: number): Buffer {
  const bytes = Buffer.alloc(unit.length * count)
  if (count > 0) bytes.fill(unit)
  return bytes
}
