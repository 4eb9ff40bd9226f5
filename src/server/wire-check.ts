/**
 * A strict check of a message's bytes against its type, before protobufjs decodes it.
 *
 * protobufjs decodes leniently: it reads a field by its declared type whatever its wire type says,
 * and it turns invalid UTF-8 into U+FFFD. The first makes a request of the wrong shape decode into
 * nonsense (or throw, which grpc-js would answer INTERNAL); the second would store text that the
 * client never sent. Proto3 requires strings to be valid UTF-8, and the reference implementations
 * refuse to parse a message whose string is not, so this check does too, and names the field.
 *
 * Unknown fields are skipped, as the protobuf rules require, groups included.
 */
import { isUtf8 } from 'node:buffer'
import type protobuf from 'protobufjs'
import { endGroup, fixed32, fixed32Types, fixed64, fixed64Types, lengthDelimited, startGroup, varint } from './wire-format.ts'


/** Deeper nesting than any message of the contract needs, bounding unknown groups. */
const maxDepth = 16

const varintTypes = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool'])

/** Describes the first way `bytes` is not a well-formed message of `type`; undefined if it is. */
export function findWireProblem(type: protobuf.Type, bytes: Uint8Array): string | undefined {
  try {
    new WireChecker(bytes).message(type, 0, bytes.length, 0)
    return undefined
  } catch (error) {
    if (error instanceof WireProblem) return error.message
    throw error
  }
}

class WireProblem extends Error {}

/** Strings this short that are ASCII are checked in place: a request may hold millions of them. */
const shortStringMaxBytes = 32

/** Whether bytes [start, end) are UTF-8, without a view of them when they are a short ASCII run. */
function isUtf8Range(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start <= shortStringMaxBytes) {
    let index = start
    while (index < end && bytes[index]! < 0x80) index++
    if (index === end) return true
  }
  return isUtf8(bytes.subarray(start, end))
}

class WireChecker {
  private offset = 0

  constructor(private readonly bytes: Uint8Array) {}

  private fail(detail: string): never {
    throw new WireProblem(detail)
  }

  /** Reads a varint of at most 10 bytes and returns it as a number (exact below 2^53). */
  private varint(end: number): number {
    let result = 0
    let scale = 1
    for (let index = 0; index < 10; index++) {
      if (this.offset >= end) this.fail(`a varint runs past the end at byte ${this.offset}`)
      const byte = this.bytes[this.offset++]!
      result += (byte & 0x7f) * scale
      if (byte < 0x80) return result
      scale *= 128
    }
    return this.fail(`a varint is longer than 10 bytes at byte ${this.offset}`)
  }

  private skip(sizeBytes: number, end: number): void {
    if (sizeBytes > end - this.offset) this.fail(`a field runs past the end at byte ${this.offset}`)
    this.offset += sizeBytes
  }

  /** Checks the fields in [start, end) against `type` (undefined: an unknown group's fields). */
  message(type: protobuf.Type | undefined, start: number, end: number, depth: number, group?: number): void {
    if (depth > maxDepth) this.fail('messages are nested too deeply')
    this.offset = start
    while (this.offset < end) {
      const tag = this.varint(end)
      const fieldNumber = Math.floor(tag / 8)
      const wireType = tag % 8
      if (fieldNumber === 0 || fieldNumber > 536_870_911) this.fail(`field number ${fieldNumber} is invalid`)
      if (wireType === endGroup) {
        if (group === fieldNumber) return
        this.fail(`an unmatched end-group tag for field ${fieldNumber}`)
      }
      const field = type?.fieldsById[fieldNumber]
      if (field !== undefined) this.checkWireType(field, wireType)
      switch (wireType) {
        case varint:
          this.varint(end)
          break
        case fixed64:
          this.skip(8, end)
          break
        case fixed32:
          this.skip(4, end)
          break
        case lengthDelimited: {
          const sizeBytes = this.varint(end)
          if (sizeBytes > end - this.offset) this.fail(`a field of ${sizeBytes} bytes runs past the end at byte ${this.offset}`)
          const fieldStart = this.offset
          const fieldEnd = fieldStart + sizeBytes
          if (field?.type === 'string' && !isUtf8Range(this.bytes, fieldStart, fieldEnd)) {
            this.fail(`field ${field.name} is not valid UTF-8`)
          }
          const fieldType = field?.resolvedType
          if (fieldType !== undefined && fieldType !== null && 'fieldsById' in fieldType) {
            this.message(fieldType, fieldStart, fieldEnd, depth + 1)
          } else if (field !== undefined && field.repeated && field.type !== 'string' && field.type !== 'bytes') {
            // A packed run is checked whole here, even one that a later oneof member clears and
            // nothing decodes: the reference implementations refuse a message with a bad run.
            this.packedRun(field, fieldStart, fieldEnd)
          }
          this.offset = fieldEnd
          break
        }
        case startGroup:
          this.message(undefined, this.offset, end, depth + 1, fieldNumber)
          break
        default:
          this.fail(`wire type ${wireType} is invalid`)
      }
    }
    if (group !== undefined) this.fail(`group ${group} has no end`)
  }

  /** Checks that [start, end) is a whole number of the items of the repeated scalar `field`. */
  private packedRun(field: protobuf.Field, start: number, end: number): void {
    const width = fixed64Types.has(field.type) ? 8 : fixed32Types.has(field.type) ? 4 : 0
    if (width > 0) {
      if ((end - start) % width !== 0) this.fail(`the packed field ${field.name} holds ${end - start} bytes, not a multiple of ${width}`)
      return
    }
    this.offset = start
    // Bounded: each pass reads one varint of at least one byte.
    while (this.offset < end) this.varint(end)
  }

  private checkWireType(field: protobuf.Field, wireType: number): void {
    const type = field.type
    let expected: number
    if (field.resolvedType !== null && 'fieldsById' in field.resolvedType) expected = lengthDelimited
    else if (field.resolvedType !== null || varintTypes.has(type)) expected = varint // enums are varints
    else if (fixed64Types.has(type)) expected = fixed64
    else if (fixed32Types.has(type)) expected = fixed32
    else expected = lengthDelimited // string, bytes
    // A repeated scalar may come packed, as one length-delimited field.
    if (wireType === expected || (field.repeated && wireType === lengthDelimited && expected !== lengthDelimited)) return
    this.fail(`field ${field.name} has wire type ${wireType}, expected ${expected}`)
  }
}
