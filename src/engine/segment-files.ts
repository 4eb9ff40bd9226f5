/**
 * The set of segment files of an open store: their file descriptors and sizes, and positional
 * reads from them. The writer registers the segments it creates; reads of any segment, sealed or
 * active, go through `read`.
 *
 * Descriptors of sealed segments are opened on first read and kept open: a store holds one
 * descriptor a segment, and at the default 64 MiB a segment even a 1 TiB store needs 16,384.
 */
import { StratumError } from './errors.ts'
import type { FileSystem } from './file-system.ts'
import type { RecordSeeds } from './record.ts'
import { segmentPath, type SegmentFormat } from './segment-file.ts'

export class SegmentFiles {
  private readonly descriptors = new Map<number, number>()
  /** Bytes in each segment file, header included, as far as they have been written. */
  readonly sizesBytes = new Map<number, number>()
  /** What each segment's header says: where its records start and their checksums' seeds. */
  private readonly formats = new Map<number, SegmentFormat>()

  constructor(
    readonly fileSystem: FileSystem,
    readonly dir: string,
  ) {}

  /** Registers a segment with its size and format; `fd`, when given, is used for reads too. */
  add(segmentNumber: number, sizeBytes: number, fd: number | undefined, format: SegmentFormat): void {
    this.sizesBytes.set(segmentNumber, sizeBytes)
    this.formats.set(segmentNumber, format)
    if (fd !== undefined) this.descriptors.set(segmentNumber, fd)
  }

  format(segmentNumber: number): SegmentFormat {
    const format = this.formats.get(segmentNumber)
    if (format === undefined) throw new Error(`segment ${segmentNumber} is not part of the store`)
    return format
  }

  seeds(segmentNumber: number): RecordSeeds {
    return this.format(segmentNumber).seeds
  }

  grow(segmentNumber: number, sizeBytes: number): void {
    this.sizesBytes.set(segmentNumber, Math.max(sizeBytes, this.sizesBytes.get(segmentNumber) ?? 0))
  }

  private descriptor(segmentNumber: number): number {
    let fd = this.descriptors.get(segmentNumber)
    if (fd === undefined) {
      if (!this.sizesBytes.has(segmentNumber)) {
        throw new Error(`segment ${segmentNumber} is not part of the store`)
      }
      fd = this.fileSystem.openSync(segmentPath(this.dir, segmentNumber), 'r')
      this.descriptors.set(segmentNumber, fd)
    }
    return fd
  }

  /**
   * Reads `sizeBytes` at `offset` of a segment into `target` (at `targetOffset`).
   * Throws IO_ERROR when the file is shorter than that: the index pointed past its end.
   */
  read(segmentNumber: number, offset: number, sizeBytes: number, target: Buffer, targetOffset = 0): void {
    const fd = this.descriptor(segmentNumber)
    let done = 0
    // Bounded: each pass reads at least one byte or throws.
    while (done < sizeBytes) {
      let readBytes: number
      try {
        readBytes = this.fileSystem.readSync(fd, target, targetOffset + done, sizeBytes - done, offset + done)
      } catch (error) {
        throw new StratumError('IO_ERROR', `reading segment ${segmentNumber} at ${offset + done}: ${String(error)}`, {
          cause: error,
        })
      }
      if (readBytes === 0) {
        throw new StratumError(
          'IO_ERROR',
          `segment ${segmentNumber} ends before offset ${offset + sizeBytes}; the file was cut short outside Stratum`,
        )
      }
      done += readBytes
    }
  }

  /** Forgets a segment (compaction removed it) and closes its descriptor. */
  remove(segmentNumber: number): void {
    const fd = this.descriptors.get(segmentNumber)
    if (fd !== undefined) this.fileSystem.closeSync(fd)
    this.descriptors.delete(segmentNumber)
    this.sizesBytes.delete(segmentNumber)
    this.formats.delete(segmentNumber)
  }

  segmentNumbers(): number[] {
    return [...this.sizesBytes.keys()].sort((left, right) => left - right)
  }

  totalBytes(): number {
    let total = 0
    for (const sizeBytes of this.sizesBytes.values()) total += sizeBytes
    return total
  }

  /** Closes every descriptor, all of them even when one fails; throws the first failure. */
  closeAll(): void {
    let failure: unknown
    for (const fd of this.descriptors.values()) {
      try {
        this.fileSystem.closeSync(fd)
      } catch (error) {
        failure ??= error
      }
    }
    this.descriptors.clear()
    if (failure !== undefined) throw failure
  }
}
