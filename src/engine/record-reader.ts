/**
 * Reads records that the keydir points to, checking each against its checksums and against what
 * the keydir expects to find there (pair assertions: the id and kind written are the id and kind
 * read). A mismatch is CORRUPTION: the bytes are never returned as data.
 *
 * Reads of several records near each other (a document's chain) are coalesced into one read a
 * run, so that a chain written together costs one system call, not one a node.
 */
import { CorruptionError } from './errors.ts'
import type { Location } from './keydir.ts'
import { recordHeaderBytes } from './limits.ts'
import { decodeRecordHeader, recordPayloadIsIntact, type RecordKind } from './record.ts'
import type { SegmentFiles } from './segment-files.ts'

/** Two records at most this far apart are read with one call: cheaper than a second syscall. */
const coalesceGapMaxBytes = 16 * 1024
/** A coalesced read stops growing at this size, so one chain read never buffers too much. */
const coalesceReadMaxBytes = 1024 * 1024

export interface RecordRequest {
  location: Location
  id: number
  kinds: readonly RecordKind[]
}

/** A checked record: `bytes[payloadStart, payloadEnd)` is its payload. */
export interface CheckedRecord {
  bytes: Buffer
  payloadStart: number
  payloadEnd: number
}

export class RecordReader {
  constructor(private readonly files: SegmentFiles) {}

  read(request: RecordRequest): CheckedRecord {
    const { location } = request
    const bytes = Buffer.allocUnsafe(location.sizeBytes)
    this.files.read(location.segmentNumber, location.offset, location.sizeBytes, bytes)
    return check(bytes, 0, request)
  }

  /** Reads every request, returning the records in the order asked for. */
  readMany(requests: readonly RecordRequest[]): CheckedRecord[] {
    const order = requests.map((_, index) => index)
    order.sort((left, right) => {
      const a = requests[left]!.location
      const b = requests[right]!.location
      return a.segmentNumber - b.segmentNumber || a.offset - b.offset
    })
    const results = new Array<CheckedRecord>(requests.length)
    let runStart = 0
    // Each pass handles one run of neighbouring records; bounded by the number of requests.
    while (runStart < order.length) {
      const first = requests[order[runStart]!]!.location
      let runEnd = runStart + 1
      let end = first.offset + first.sizeBytes
      while (runEnd < order.length) {
        const next = requests[order[runEnd]!]!.location
        const nextEnd = Math.max(end, next.offset + next.sizeBytes)
        if (next.segmentNumber !== first.segmentNumber) break
        if (next.offset - end > coalesceGapMaxBytes || nextEnd - first.offset > coalesceReadMaxBytes) break
        end = nextEnd
        runEnd++
      }
      const bytes = Buffer.allocUnsafe(end - first.offset)
      this.files.read(first.segmentNumber, first.offset, bytes.length, bytes)
      for (let index = runStart; index < runEnd; index++) {
        const request = requests[order[index]!]!
        results[order[index]!] = check(bytes, request.location.offset - first.offset, request)
      }
      runStart = runEnd
    }
    return results
  }
}

function check(bytes: Buffer, start: number, request: RecordRequest): CheckedRecord {
  const { location, id, kinds } = request
  const damaged = (detail: string): never => {
    throw new CorruptionError(
      `the record of id ${id} at segment ${location.segmentNumber} offset ${location.offset} is damaged: ${detail}`,
      location,
    )
  }
  const header = decodeRecordHeader(bytes, start)
  if (header === undefined) return damaged('bad header checksum')
  if (recordHeaderBytes + header.payloadBytes !== location.sizeBytes) return damaged('length differs from the index')
  if (header.id !== id || !kinds.includes(header.kind)) return damaged(`holds id ${header.id} of kind ${header.kind}`)
  if (!recordPayloadIsIntact(bytes, start, header)) return damaged('bad checksum')
  return { bytes, payloadStart: start + recordHeaderBytes, payloadEnd: start + location.sizeBytes }
}
