/**
 * Reading a sealed segment that is not in the keydir's path: the compaction worker's inputs, and
 * the segments whose hints are built after they are sealed. Reads go through one window: just
 * the bytes asked for while reads jump about, and a window doubling up to
 * `sequentialWindowBytes` while each read goes on where the last one ended. Compaction copies
 * records document by document, and a document's records may lie anywhere in its inputs, so
 * bytes around them would mostly be thrown away (measured: a 1 MiB window for every record read
 * two thousand times the inputs' bytes); a scan reads in order and gets large reads.
 */
import { recordHeaderBytes } from './limits.ts'
import { decodeIntactRecord } from './record.ts'
import type { SegmentFormat } from './segment-file.ts'

/** Most bytes read at a time, reached while reads go on in file order. */
const sequentialWindowBytes = 1024 * 1024
/** The first window of a run of reads in file order; it doubles with each read of the run. */
const firstSequentialWindowBytes = 4 * 1024

export class SegmentReader {
  private window = Buffer.alloc(0)
  private windowStart = 0
  /** Where the last read ended: a read starting there is sequential. */
  private lastEnd = -1
  private windowBytes = 0

  /** `readAt` fills `target` with the segment's bytes from `offset` on, or throws. */
  constructor(
    readonly segmentNumber: number,
    readonly fileBytes: number,
    private readonly readAt: (target: Buffer, offset: number) => void,
  ) {}

  /**
   * The bytes `[offset, offset + sizeBytes)`, which must lie within the file: a view, valid
   * until the next read.
   */
  read(offset: number, sizeBytes: number): Buffer {
    const sequential = offset === this.lastEnd
    this.lastEnd = offset + sizeBytes
    const start = offset - this.windowStart
    if (start >= 0 && start + sizeBytes <= this.window.length) return this.window.subarray(start, start + sizeBytes)
    this.windowBytes = sequential ? Math.min(sequentialWindowBytes, Math.max(firstSequentialWindowBytes, this.windowBytes * 2)) : 0
    const window = Buffer.allocUnsafe(Math.min(Math.max(sizeBytes, this.windowBytes), this.fileBytes - offset))
    this.readAt(window, offset)
    this.window = window
    this.windowStart = offset
    return window.subarray(0, sizeBytes)
  }
}

/**
 * The records of a sealed segment, in file order, each checked against its checksum. The
 * first record that is not whole and intact ends the walk: it is yielded with `record`
 * undefined, at its offset. `record` is a view, valid until the walk goes on.
 */
export function* intactRecords(reader: SegmentReader, format: SegmentFormat): Generator<{ offset: number; record: Buffer | undefined }> {
  let offset = format.headerBytes
  // Bounded: each pass moves past one record, or ends the walk.
  while (offset < reader.fileBytes) {
    const recordBytes = offset + recordHeaderBytes <= reader.fileBytes ? recordHeaderBytes + reader.read(offset, recordHeaderBytes).readUInt32LE(12) : 0
    const record = recordBytes === 0 || offset + recordBytes > reader.fileBytes ? undefined : reader.read(offset, recordBytes)
    if (record === undefined || decodeIntactRecord(record, 0, format.seeds) === undefined) {
      yield { offset, record: undefined }
      return
    }
    yield { offset, record }
    offset += recordBytes
  }
}
