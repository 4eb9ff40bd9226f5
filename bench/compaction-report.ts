/**
 * What the engine benchmark measures around Stratum's compaction (space, stalls, locality) and
 * how it prints it. The measuring is done in bench/engine.ts, which owns the data and the systems;
 * this module holds the figures' shapes and turns them into tables, each with its aim beside it.
 */
import type { CompactionResult } from '../src/engine/index.ts'
import { formatBytes, formatCount, formatMicros, formatRatio, formatTable, type Summary } from './measure.ts'
import { summarizeLatencies, type LatencySummary, type MixedLoadSample } from './mixed-load.ts'

/** One aim: [what, target, measured, verdict]. */
export type AimRow = [string, string, string, string]

export function aimRow(label: string, target: string, measured: number, format: (value: number) => string, met: boolean): AimRow {
  return [label, target, format(measured), Number.isFinite(measured) ? (met ? 'met' : 'NOT met') : '-']
}

export const aims = {
  /** Disk bytes per live (logical payload) byte after compaction: at most. */
  diskPerLiveByte: 1.3,
  /** p99 latency while a compaction runs ÷ p99 without: at most. */
  stallP99Ratio: 2,
  /** Whole-chain reads after compaction ÷ better-sqlite3's: at least. */
  chainAfterOverSqlite: 2,
  /** Open with hint files ÷ reading the segment files start to end: at most. */
  openOverRawRead: 3,
} as const

function count(value: number): string {
  return value.toLocaleString('en-US')
}

function plural(value: number, noun: string): string {
  return `${count(value)} ${noun}${value === 1 ? '' : 's'}`
}

/** A ratio with three decimals, for one judged against a target close to it. */
function preciseRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(3)}×` : '-'
}

// ---------------------------------------------------------------- space

export interface Footprint {
  /** stats().diskBytes: segment bytes up to their last record. */
  diskBytes: number
  liveBytes: number
  segmentCount: number
  /** Every file in the store's folder as the file system sizes it: hints and preallocated tail too. */
  folderBytes: number
}

export interface VerifiedCounts {
  chains: number
  nodes: number
  deleted: number
}

export interface SpaceReport {
  /** Logical payload of the live documents (the same before and after). */
  logicalBytes: number
  before: Footprint
  after: Footprint
  result: CompactionResult
  /** Bytes the process read through system calls while compactNow() ran (/proc/self/io rchar). */
  readBytes: number | undefined
  verified: VerifiedCounts
}

export function printSpace(report: SpaceReport): AimRow[] {
  const { before, after, result, logicalBytes, verified } = report
  const perLive = (footprint: Footprint): number => footprint.diskBytes / logicalBytes
  console.log('Space: Stratum before and after compactNow(), which follows the updates and deletes above:')
  console.log(
    formatTable(
      ['measure', 'before', 'after', 'aim'],
      [
        ['disk bytes (stats().diskBytes)', formatBytes(before.diskBytes), formatBytes(after.diskBytes), ''],
        ['logical payload of the live documents', formatBytes(logicalBytes), formatBytes(logicalBytes), ''],
        ['disk bytes per live byte (disk ÷ payload)', preciseRatio(perLive(before)), preciseRatio(perLive(after)), `≤ ${aims.diskPerLiveByte}× after`],
        ['live record bytes (stats().liveBytes)', formatBytes(before.liveBytes), formatBytes(after.liveBytes), ''],
        ['diskBytes ÷ liveBytes', formatRatio(before.diskBytes / before.liveBytes), formatRatio(after.diskBytes / after.liveBytes), ''],
        ['segment files', String(before.segmentCount), String(after.segmentCount), ''],
        ['all files in the folder (hints, preallocated tail)', formatBytes(before.folderBytes), formatBytes(after.folderBytes), ''],
      ],
      ['left', 'right', 'right', 'left'],
    ),
  )
  console.log(
    `compactNow(): ${plural(result.segmentsCompacted, 'segment')} merged into ${result.segmentsWritten}, ${formatBytes(result.bytesBefore)} → ` +
      `${formatBytes(result.bytesAfter)} (${formatBytes(result.bytesReclaimed)} reclaimed), ${count(result.recordsCopied)} records copied, ` +
      `tombstones ${count(result.tombstonesKept)} kept / ${count(result.tombstonesDropped)} dropped, in ${(result.durationMs / 1000).toFixed(2)} s ` +
      '(the first compaction since the store was opened: that includes starting the worker thread)',
  )
  if (report.readBytes !== undefined) {
    console.log(
      `bytes read by the process while it ran (read calls, page-cache hits included; /proc/self/io rchar): ${formatBytes(report.readBytes)}, ` +
        `${formatRatio(report.readBytes / result.bytesBefore)} the bytes of the segments merged`,
    )
  }
  console.log(
    `verified after compaction (untimed): ${count(verified.chains)} whole chains (${count(verified.nodes)} inputs with their outputs, ` +
      `text and metadata) hold what was written; ${count(verified.deleted)} deleted documents are gone`,
  )
  const ratio = perLive(after)
  return [aimRow('disk bytes per live byte after compaction', `≤ ${aims.diskPerLiveByte}×`, ratio, preciseRatio, ratio <= aims.diskPerLiveByte)]
}

// ---------------------------------------------------------------- stalls

export interface StallRound {
  /** The length of the window without compaction (the previous round's compaction time). */
  windowMs: number
  without: MixedLoadSample
  during: MixedLoadSample
  compaction: CompactionResult
  /** Bytes the process read through system calls while the compaction ran (the load's reads too). */
  readBytes: number | undefined
}

export interface StallReport {
  rounds: StallRound[]
  garbageUpdates: number
  garbageWriters: number
  readsPerSecond: number
  writesPerSecond: number
  windowSeconds: { min: number; max: number }
  loadAverage: { start: number; end: number }
  /** The untimed compaction before the rounds (the first after an open also starts the worker thread). */
  warmUp: CompactionResult
  verified: VerifiedCounts
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function printStalls(report: StallReport): AimRow[] {
  const { rounds } = report
  type Kind = 'reads' | 'readService' | 'writes' | 'writeService'
  const pick = (window: 'without' | 'during', kind: Kind): LatencySummary =>
    summarizeLatencies(rounds.map((round) => round[window][kind]))
  const rows: string[][] = []
  const ratios: Record<string, number> = {}
  const add = (label: string, kind: Kind, aim: boolean): void => {
    const without = pick('without', kind)
    const during = pick('during', kind)
    const ratio = during.p99Micros / without.p99Micros
    ratios[kind] = ratio
    const row = (window: string, summary: LatencySummary, ratioCell: string, aimCell: string): string[] => [
      window === 'without' ? label : '',
      window,
      count(summary.count),
      formatMicros(summary.p50Micros),
      formatMicros(summary.p99Micros),
      formatMicros(summary.maxMicros),
      ratioCell,
      aimCell,
    ]
    rows.push(row('without', without, '', ''))
    rows.push(row('during', during, formatRatio(ratio), aim ? `≤ ${aims.stallP99Ratio}×` : ''))
  }
  add('random read (from when it was due)', 'reads', true)
  add('  its service time (issue to completion)', 'readService', false)
  add('durable update (from when it was due)', 'writes', true)
  add('  its service time (issue to completion)', 'writeService', false)
  const durations = rounds.map((round) => round.compaction.durationMs)
  const windows = rounds.map((round) => round.windowMs)
  const compactedMs = durations.reduce((sum, value) => sum + value, 0)
  console.log(
    `Stalls: Stratum's latencies with no compaction running and while compactNow() runs, in ${rounds.length} rounds. Each round: ` +
      `${count(report.garbageUpdates)} updates (${report.garbageWriters} writers) to make garbage, then the load with no compaction for as long ` +
      `as the last compaction took (${report.windowSeconds.min}-${report.windowSeconds.max} s), then the load while compactNow() runs.`,
  )
  const inFlight = (kind: 'readsInFlightMax' | 'writesInFlightMax'): number =>
    Math.max(...rounds.flatMap((round) => [round.without[kind], round.during[kind]]))
  console.log(
    `Load, open loop: random reads of live nodes at ${count(report.readsPerSecond)}/s and durable updates of live nodes (syncMode 'always') ` +
      `at ${count(report.writesPerSecond)}/s, each issued when due whatever is in flight (at most ${inFlight('readsInFlightMax')} reads and ` +
      `${inFlight('writesInFlightMax')} writes at once); latency from when each was due, so that a held-up event loop or a slow sync counts.`,
  )
  console.log(
    formatTable(
      ['operation', 'window', 'samples', 'p50 µs', 'p99 µs', 'max µs', 'p99 during ÷ without', 'aim'],
      rows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  )
  const last = rounds[rounds.length - 1]?.compaction
  console.log(
    `compactions: ${rounds.length}, ${(compactedMs / 1000).toFixed(1)} s in all (median ${(median(durations) / 1000).toFixed(2)} s, ` +
      `${(Math.min(...durations) / 1000).toFixed(2)}-${(Math.max(...durations) / 1000).toFixed(2)} s); windows without: ${(windows.reduce((sum, value) => sum + value, 0) / 1000).toFixed(1)} s in all` +
      (last === undefined ? '' : `; the last merged ${formatBytes(last.bytesBefore)} into ${formatBytes(last.bytesAfter)}, ${count(last.recordsCopied)} records`),
  )
  const readBytes = rounds.map((round) => round.readBytes)
  if (readBytes.every((bytes) => bytes !== undefined)) {
    const mergedBytes = rounds.reduce((sum, round) => sum + round.compaction.bytesBefore, 0)
    const totalRead = readBytes.reduce((sum: number, bytes) => sum + bytes!, 0)
    console.log(
      `bytes read by the process during the compactions (read calls, page-cache hits included; /proc/self/io rchar): ${formatBytes(totalRead)}, ` +
        `${formatRatio(totalRead / mergedBytes)} the bytes of the segments merged`,
    )
  }
  console.log(
    `before the rounds, one untimed compaction (the first since the store was reopened; it also starts the worker thread): ` +
      `${(report.warmUp.durationMs / 1000).toFixed(2)} s`,
  )
  console.log(
    `load average (1 min) at the start and end of this section: ${report.loadAverage.start.toFixed(1)}, ${report.loadAverage.end.toFixed(1)}; ` +
      `verified afterwards (untimed): ${count(report.verified.chains)} whole chains, ${count(report.verified.deleted)} deleted documents gone`,
  )
  return [
    aimRow('p99 random read while compacting ÷ without', `≤ ${aims.stallP99Ratio}×`, ratios.reads!, formatRatio, ratios.reads! <= aims.stallP99Ratio),
    aimRow('p99 durable update while compacting ÷ without', `≤ ${aims.stallP99Ratio}×`, ratios.writes!, formatRatio, ratios.writes! <= aims.stallP99Ratio),
  ]
}

// ---------------------------------------------------------------- locality

export interface LocalityRow {
  name: string
  summary: Summary
  /** Stratum: block-cache misses (each a read from the file) per chain read. */
  cacheMissesPerChain?: number
}

export interface LocalityVariant {
  /** How the caches were set, on both sides. */
  caches: string
  before: LocalityRow
  after: LocalityRow
  sqlite: LocalityRow
}

export interface LocalityReport {
  chainReads: number
  liveDocuments: number
  rounds: number
  variants: LocalityVariant[]
}

export function printLocality(report: LocalityReport): AimRow[] {
  const rows: string[][] = []
  for (const variant of report.variants) {
    const { before, after, sqlite } = variant
    let first = true
    for (const row of [before, after, sqlite]) {
      rows.push([
        first ? variant.caches : '',
        row.name,
        formatCount(row.summary.opsPerSecond),
        formatMicros(row.summary.p50Micros),
        formatMicros(row.summary.p99Micros),
        row.cacheMissesPerChain === undefined ? '' : row.cacheMissesPerChain.toFixed(2),
        row === after ? formatRatio(after.summary.opsPerSecond / before.summary.opsPerSecond) : '',
        row === sqlite ? '' : formatRatio(row.summary.opsPerSecond / sqlite.summary.opsPerSecond),
        row === after && variant === report.variants[0] ? `≥ ${aims.chainAfterOverSqlite}× better-sqlite3` : '',
      ])
      first = false
    }
  }
  console.log(
    `Locality: whole-chain reads (text + metadata + every input with its output) of ${count(report.chainReads)} random live documents ` +
      `(of ${count(report.liveDocuments)}), on a copy of the Stratum store made before compaction and on the compacted store, ` +
      `and on better-sqlite3, interleaved in ${report.rounds} rounds; 1 reader.`,
  )
  console.log(
    formatTable(
      ['caches (both sides)', 'system', 'ops/s', 'p50 µs', 'p99 µs', 'cache misses/chain', 'after ÷ before', '÷ better-sqlite3', 'aim'],
      rows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  )
  console.log('cache misses/chain: Stratum block-cache misses per chain read; each is a read from the segment file (the OS page cache holds the files).')
  const main = report.variants[0]
  if (main === undefined) return []
  const afterOverSqlite = main.after.summary.opsPerSecond / main.sqlite.summary.opsPerSecond
  const afterOverBefore = main.after.summary.opsPerSecond / main.before.summary.opsPerSecond
  return [
    aimRow(`whole-chain read after compaction ÷ better-sqlite3 (${main.caches})`, `≥ ${aims.chainAfterOverSqlite}×`, afterOverSqlite, formatRatio, afterOverSqlite >= aims.chainAfterOverSqlite),
    [`whole-chain read after compaction ÷ before (${main.caches})`, '', formatRatio(afterOverBefore), ''],
  ]
}
