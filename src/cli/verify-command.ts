/**
 * `stratum verify --data-dir DIR`: reads every segment and hint file of a store that no process
 * has open, checks every record, and prints what it found (engine/verify.ts); changes nothing.
 * Exit 0 when nothing is damaged (a torn tail, which the next open cuts, is not damage), 1 when
 * something is or the folder cannot be verified.
 */
import { Command, Option } from 'commander'
import { verifyStore, type SegmentVerdict, type VerifyReport } from '../engine/verify.ts'
import { exitCodes } from './exit-codes.ts'

interface VerifyOptions {
  dataDir: string
  json: boolean
}

export function verifyCommand(setExitCode: (code: number) => void): Command {
  return new Command('verify')
    .description('check every record of a stopped store folder, and print what was found; exit 1 on damage')
    .addOption(new Option('--data-dir <dir>', 'the store folder (its server stopped)').env('LSE_DATA_DIR').default('./data'))
    .addOption(new Option('--json', 'print the report as one JSON value').default(false))
    .action(async (options: VerifyOptions) => {
      let report: VerifyReport
      try {
        report = await verifyStore(options.dataDir)
      } catch (error) {
        process.stderr.write(`stratum verify: ${(error as Error).message.replace(/\s*\n\s*/g, ' ')}\n`)
        setExitCode(exitCodes.failed)
        return
      }
      process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${describe(report)}\n`)
      setExitCode(report.damaged ? exitCodes.failed : exitCodes.ok)
    })
}

function count(value: number): string {
  return value.toLocaleString('en-US')
}

function describeSegment(segment: SegmentVerdict): string {
  const parts = [`${count(segment.records)} records`]
  if (segment.damagedRecordCount > 0) {
    const listed = segment.damagedRecords.map((record) => `offset ${record.offset} (id ${record.id}, kind ${record.kind})`).join(', ')
    parts.push(`${segment.damagedRecordCount} damaged record${segment.damagedRecordCount === 1 ? '' : 's'}: ${listed}`)
  }
  if (segment.damagedRangeCount > 0) {
    const listed = segment.damagedRanges.map((range) => `${range.lengthBytes} bytes at offset ${range.offset}`).join(', ')
    parts.push(`${segment.damagedRangeCount} damaged range${segment.damagedRangeCount === 1 ? '' : 's'}: ${listed}`)
  }
  if (segment.tornTail !== undefined) parts.push(`a torn tail of ${segment.tornTail.droppedBytes} bytes at offset ${segment.tornTail.offset}, which the next open cuts`)
  parts.push(`hint: ${segment.hint}`)
  const format = segment.formatVersion === undefined ? 'header unreadable' : `format ${segment.formatVersion}`
  return `segment ${segment.segmentNumber} (${format}, ${count(segment.sizeBytes)} bytes): ${parts.join('; ')}`
}

function describe(report: VerifyReport): string {
  const lines = report.segments.map(describeSegment)
  if (report.segments.length === 0) lines.push('no segment files: an empty store, or not a store folder')
  lines.push(
    `${report.dir}: ${count(report.segments.length)} segments, ${count(report.records)} records; ${count(report.documents)} problems, ` +
      `${count(report.inputNodes)} test cases, ${count(report.outputNodes)} outputs; live ${count(report.liveBytes)} bytes, ` +
      `tombstones ${count(report.tombstoneBytes)} bytes, dead ${count(report.deadBytes)} bytes`,
  )
  if (report.compactionPending) lines.push('a compaction was decided but not finished: the next open finishes it')
  if (report.temporaryFiles.length > 0) {
    const fate = report.compactionPending ? "the next open installs the compaction's outputs among them and removes the rest" : 'the next open removes them'
    lines.push(`temporary files (${fate}): ${report.temporaryFiles.join(', ')}`)
  }
  lines.push(report.damaged ? 'DAMAGED: see the segments above; reads of damaged records fail with CORRUPTION' : 'no damage found')
  return lines.join('\n')
}
