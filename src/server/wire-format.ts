/**
 * The protobuf wire format's constants, shared by the strict check of a request (wire-check.ts)
 * and its canonical re-encoding (canonical-request.ts), so that both read the bytes alike.
 */

/** Wire types (the low 3 bits of a tag). */
export const varint = 0
export const fixed64 = 1
export const lengthDelimited = 2
export const startGroup = 3
export const endGroup = 4
export const fixed32 = 5

/** Field types whose values are 8 and 4 bytes on the wire; the other numbers are varints. */
export const fixed64Types: ReadonlySet<string> = new Set(['double', 'fixed64', 'sfixed64'])
export const fixed32Types: ReadonlySet<string> = new Set(['float', 'fixed32', 'sfixed32'])
