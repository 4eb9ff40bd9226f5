/**
 * Hint files for the segments the writer seals, built in the background from the sealed file.
 *
 * A segment is read back (it is in the page cache: it was just written) and checked record by
 * record, a slice of a few milliseconds at a time between requests, and its hint written with
 * `writeHintFile`. Building the hint while appending would cost 36 bytes of memory for
 * every record of the active segment instead; reading it back costs a few hundred milliseconds
 * of CPU per 64 MiB segment, spread thin.
 *
 * One segment at a time, in the order they were sealed. A segment whose records fail their
 * checksums gets no hint (damage is reported by scans, which the next open then does) and is
 * reported to `onDamage`.
 */
import type { FileSystem } from './file-system.ts'
import { HintBuilder, writeHintFile } from './hint-file.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { decodeIntactRecord } from './record.ts'
import type { SegmentFiles } from './segment-files.ts'

/** Bytes read from the sealed segment at a time. */
const readWindowBytes = 1024 * 1024
/** Time spent building before requests are let in, in ms. */
const sliceMs = 4

export class SealedHints {
  private queue: Promise<void> = Promise.resolve()
  private pending = 0

  constructor(
    private readonly files: SegmentFiles,
    private readonly fileSystem: FileSystem,
    private readonly dir: string,
    private readonly onDamage: (segmentNumber: number, offset: number) => void,
    private readonly onError: (segmentNumber: number, error: unknown) => void,
  ) {}

  /** Queues the hint of a segment just sealed. */
  sealed(segmentNumber: number, sizeBytes: number): void {
    this.pending++
    this.queue = this.queue
      .then(() => this.write(segmentNumber, sizeBytes))
      .catch((error: unknown) => this.onError(segmentNumber, error))
      .finally(() => this.pending--)
  }

  /** Resolves when every hint queued so far is written (or given up). */
  async whenWritten(): Promise<void> {
    // Bounded: segments are sealed far more slowly than their hints are written.
    while (this.pending > 0) await this.queue
  }

  private async write(segmentNumber: number, sizeBytes: number): Promise<void> {
    const hint = await this.build(segmentNumber, sizeBytes)
    if (hint !== undefined) await writeHintFile(this.fileSystem, this.dir, segmentNumber, hint)
  }

  private async build(segmentNumber: number, sizeBytes: number): Promise<Buffer | undefined> {
    const builder = new HintBuilder(segmentNumber)
    let window: Buffer = Buffer.alloc(0)
    let windowStart = 0
    let sliceStart = performance.now()
    let offset = segmentHeaderBytes
    // Bounded: each pass moves past one record, or returns.
    while (offset < sizeBytes) {
      let start = offset - windowStart
      if (start + recordHeaderBytes > window.length) {
        window = this.readAt(segmentNumber, offset, Math.min(readWindowBytes, sizeBytes - offset))
        windowStart = offset
        start = 0
      }
      const recordBytes = start + recordHeaderBytes <= window.length ? recordHeaderBytes + window.readUInt32LE(start + 12) : 0
      if (recordBytes === 0 || offset + recordBytes > sizeBytes) {
        this.onDamage(segmentNumber, offset)
        return undefined
      }
      if (start + recordBytes > window.length) {
        window = this.readAt(segmentNumber, offset, Math.min(Math.max(readWindowBytes, recordBytes), sizeBytes - offset))
        windowStart = offset
        start = 0
      }
      const record = window.subarray(start, start + recordBytes)
      if (decodeIntactRecord(record, 0) === undefined) {
        this.onDamage(segmentNumber, offset)
        return undefined
      }
      builder.add(record, offset)
      offset += recordBytes
      if (performance.now() - sliceStart > sliceMs) {
        await new Promise((resolve) => setImmediate(resolve))
        sliceStart = performance.now()
      }
    }
    return builder.finish(sizeBytes)
  }

  private readAt(segmentNumber: number, offset: number, lengthBytes: number): Buffer {
    const bytes = Buffer.allocUnsafe(lengthBytes)
    this.files.read(segmentNumber, offset, lengthBytes, bytes)
    return bytes
  }
}
