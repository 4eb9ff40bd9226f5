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
import type { SegmentFiles } from './segment-files.ts'
import { intactRecords, SegmentReader } from './segment-reader.ts'
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
    const reader = new SegmentReader(segmentNumber, sizeBytes, (target, offset) => this.files.read(segmentNumber, offset, target.length, target))
    let sliceStart = performance.now()
    for (const { offset, record } of intactRecords(reader, this.files.format(segmentNumber))) {
      if (record === undefined) {
        this.onDamage(segmentNumber, offset)
        return undefined
      }
      builder.add(record, offset)
      if (performance.now() - sliceStart > sliceMs) {
        await new Promise((resolve) => setImmediate(resolve))
        sliceStart = performance.now()
      }
    }
    return builder.finish(sizeBytes)
  }
}
