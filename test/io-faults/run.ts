/**
 * `npm run faults`: the I/O fault matrix in long mode, every k of every file-system operation
 * with ENOSPC and EIO (and a short write for the write operations). Prints the matrix size, the
 * outcome counts and every violation; exits non-zero on a violation.
 * `npm run faults -- --short` runs CI's spread instead.
 */
import { describeFault, formatSummary, runMatrix } from '../support/io-fault-matrix.ts'

const long = !process.argv.includes('--short')
const startedMs = Date.now()
const summary = await runMatrix({
  long,
  onRun: (result, index, total) => {
    if (result.violations.length > 0) console.log(`VIOLATION ${describeFault(result.fault)}: ${result.violations.join(' | ')}`)
    if ((index + 1) % 50 === 0 || index + 1 === total) console.log(`${index + 1}/${total} runs`)
  },
})
console.log(formatSummary(summary))
console.log('notes (allowed, listed for review):')
for (const { fault, messages } of summary.notes) console.log(`  ${fault}: ${messages.join(' | ')}`)
console.log(`took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`)
process.exit(summary.violations.length > 0 ? 1 : 0)
