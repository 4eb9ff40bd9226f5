/**
 * The startup section of the engine benchmark: a store of the scale benchmark's kind (documents
 * of 100 input nodes holding small int64s, bench/scale-store.ts) is loaded in a child process,
 * then opened in fresh child processes (bench/startup-child.ts), in rounds whose order alternates:
 *   - with its hint files (sealed segments opened from their index entries; the newest is scanned);
 *   - with its hint files removed, so that every segment is scanned (that open writes them again);
 * and each open is set against reading the same segment files start to end with large reads, in
 * the same process, right before the open and right after the close. Nothing is dropped from the
 * page cache: the figures are for a warm cache, which `fincore` confirms when it is installed.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StartupMode, StartupOpenReport } from './startup-child.ts'
import type { AimRow } from './compaction-report.ts'
import { formatTable } from './measure.ts'
import type { LoadReport } from './scale-store.ts'
import { storeDir } from './scale-store.ts'

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const repoDir = path.dirname(benchDir)
const childScript = path.join(benchDir, 'startup-child.ts')

export interface StartupReport {
  documents: number
  nodesPerDocument: number
  /** The segment size the store was loaded with, if not the engine's default. */
  segmentSizeBytes: number | undefined
  load: LoadReport
  /** Every open, in the order run. */
  opens: StartupOpenReport[]
}

function runChild(args: readonly string[]): string {
  const output = execFileSync(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', childScript, ...args], {
    cwd: repoDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  })
  return output.trim().split('\n').pop()!
}

/**
 * Loads `nodes` input nodes (100 a document) into `root`, then runs `rounds` rounds of the two
 * opens. `segmentSizeBytes` (default: the engine's, 64 MiB) lets a small store have several
 * sealed segments, and so hint files.
 */
export function runStartup(
  root: string,
  options: { nodes: number; rounds: number; segmentSizeBytes?: number },
  log: (message: string) => void,
): StartupReport {
  const { nodes, rounds } = options
  const nodesPerDocument = 100
  const documents = Math.ceil(nodes / nodesPerDocument)
  const layoutArgs = [String(documents), String(nodesPerDocument)]
  log(`startup: loading ${(documents * nodesPerDocument).toLocaleString('en-US')} input nodes in a child process (syncMode 'none', then flush)`)
  const sizeArgs = options.segmentSizeBytes === undefined ? [] : [String(options.segmentSizeBytes)]
  const load = JSON.parse(runChild(['load', root, ...layoutArgs, ...sizeArgs])) as LoadReport
  log(`startup: loaded in ${load.loadSeconds.toFixed(1)} s, ${load.segmentCount} segments`)
  const opens: StartupOpenReport[] = []
  for (let round = 0; round < rounds; round++) {
    const order: StartupMode[] = round % 2 === 0 ? ['hints', 'scan'] : ['scan', 'hints']
    for (const mode of order) {
      const report = JSON.parse(runChild(['open', storeDir(root), mode, ...layoutArgs])) as StartupOpenReport
      log(
        `startup: open (${mode}) ${report.openMs.toFixed(0)} ms; ${report.segmentsFromHints} segments from hints, ` +
          `${report.segmentsScanned} scanned; raw read ${report.rawBefore.ms.toFixed(0)} / ${report.rawAfter.ms.toFixed(0)} ms`,
      )
      opens.push(report)
    }
  }
  return { documents, nodesPerDocument, segmentSizeBytes: options.segmentSizeBytes, load, opens }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Prints the section; returns its aim rows ([what, target, measured, verdict]). */
export function printStartup(report: StartupReport, openOverRawAim: number): AimRow[] {
  const count = (value: number): string => value.toLocaleString('en-US')
  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  const rawMs = (open: StartupOpenReport): number => (open.rawBefore.ms + open.rawAfter.ms) / 2
  const rows = report.opens.map((open, index) => [
    open.mode === 'hints' ? 'with hint files' : 'hint files removed (scan)',
    String(Math.floor(index / 2) + 1),
    `${(open.openMs / 1000).toFixed(2)} s`,
    count(open.recordCount),
    `${open.segmentsFromHints} / ${open.segmentsScanned}`,
    String(open.hintsWritten),
    `${open.rawBefore.ms.toFixed(0)} / ${open.rawAfter.ms.toFixed(0)} ms`,
    `${(open.openMs / rawMs(open)).toFixed(1)}×`,
  ])
  const hints = report.opens.filter((open) => open.mode === 'hints')
  const scans = report.opens.filter((open) => open.mode === 'scan')
  const hintsMs = median(hints.map((open) => open.openMs))
  const scanMs = median(scans.map((open) => open.openMs))
  const rawMedianMs = median(report.opens.flatMap((open) => [open.rawBefore.ms, open.rawAfter.ms]))
  const segmentBytes = report.opens[0]?.rawBefore.bytes ?? 0
  const segmentFiles = report.opens[0]?.segmentFiles ?? 0
  const nodes = report.documents * report.nodesPerDocument
  console.log(
    `Startup: a store of ${count(nodes)} input nodes (${count(report.documents)} documents x ${report.nodesPerDocument}, small int64s; ` +
      `loaded in ${report.load.loadSeconds.toFixed(1)} s with syncMode 'none'), ${mib(segmentBytes)} in ${segmentFiles} segment files` +
      `${report.segmentSizeBytes === undefined ? '' : ` of at most ${mib(report.segmentSizeBytes)}`}; each open in a fresh process, ` +
      `${report.opens.length / 2} rounds in alternating order.`,
  )
  console.log(
    formatTable(
      ['open', 'round', 'open time', 'records', 'segments from hints / scanned', 'hints written', 'raw read before / after', 'open ÷ raw read'],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  )
  const resident = report.opens.flatMap((open) => [open.residentBefore, open.residentAfter])
  const cacheState = resident.some((bytes) => bytes === undefined)
    ? 'fincore not available, so residency is unknown; nothing was dropped and the files had just been written or read, so warm'
    : `warm: fincore found ${resident.map((bytes) => ((100 * bytes!) / Math.max(1, segmentBytes)).toFixed(0)).join('/')}% of the segment bytes resident before/after each open`
  console.log(
    `raw read: every segment file start to end with 8 MiB reads, in the open's process right before the open and right after the close ` +
      `(median ${rawMedianMs.toFixed(0)} ms, ${((segmentBytes / 1024 / 1024 / 1024) / (rawMedianMs / 1000)).toFixed(2)} GiB/s). Page cache: ${cacheState}.`,
  )
  const hintBytes = Math.max(...report.opens.map((open) => open.hintBytesAfter))
  console.log(
    `hint files: ${mib(hintBytes)} for the ${mib(segmentBytes)} of segments (${((100 * hintBytes) / Math.max(1, segmentBytes)).toFixed(0)}%); ` +
      'an open with hints reads them and scans the newest segment, which has none.',
  )
  const hintsOverRaw = hintsMs / rawMedianMs
  console.log(
    `medians: open with hints ${(hintsMs / 1000).toFixed(2)} s = ${hintsOverRaw.toFixed(1)}× the raw read (aim ≤ ${openOverRawAim}×); ` +
      `scan ${(scanMs / 1000).toFixed(2)} s = ${(scanMs / hintsMs).toFixed(2)}× the open with hints (${(scanMs / rawMedianMs).toFixed(1)}× the raw read)`,
  )
  return [
    ['open with hint files ÷ raw sequential read of the segments', `≤ ${openOverRawAim}×`, `${hintsOverRaw.toFixed(1)}×`, hintsOverRaw <= openOverRawAim ? 'met' : 'NOT met'],
    ['open by scan ÷ open with hint files', '', `${(scanMs / hintsMs).toFixed(2)}×`, ''],
  ]
}
