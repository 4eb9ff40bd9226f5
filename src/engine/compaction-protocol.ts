/** The messages between the compactor (main thread) and the compaction worker. */
import type { Failure } from './errors.ts'
import type { RecordSeeds } from './record.ts'

export interface CompactionJob {
  dir: string
  /** Segments being merged. */
  inputs: number[]
  /** The live records to copy, in the order to write them: segment, offset and size of each, in blocks. */
  copyBlocks: Array<{ count: number; segments: Float64Array; offsets: Float64Array; sizes: Float64Array }>
  /** Outputs are numbered from this one, at most `outputNumbersMax` of them (reserved by the writer). */
  firstOutputNumber: number
  outputNumbersMax: number
  segmentSizeBytes: number
  /** The oldest sequence number in any segment outside the compaction: tombstones above it are kept. */
  oldestSeqOutside: number
  /** The encoded idWatermark record written first in every output. */
  watermark: Uint8Array
}

export interface CompactionOutput {
  segmentNumber: number
  sizeBytes: number
  minSeq: number
  tombstoneBytes: number
  /** The seeds of its records' checksums, drawn by the worker. */
  seeds: RecordSeeds
}

export type WorkerReply =
  | {
      type: 'done'
      outputs: CompactionOutput[]
      /** Where each record of the job's copy list went. */
      newSegments: Float64Array
      newOffsets: Float64Array
      recordsCopied: number
      tombstonesKept: number
      tombstonesDropped: number
    }
  | ({ type: 'failed' } & Failure)
  /** Sent once a job's first bytes are in an output file (not yet synced): a step for tests. */
  | { type: 'writing' }
