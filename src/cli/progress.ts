/**
 * Progress of a long command on stderr: a bar with items/s and an ETA on a terminal
 * (cli-progress), plain lines every few seconds otherwise (a log, a CI job), and one summary
 * line at the end either way. Nothing goes to stdout, which carries the command's output.
 *
 * The bar counts the items whose total is known (problems); a second count (test cases) is shown
 * beside it and moves the plain lines on too, so that one large item still shows progress.
 */
import { SingleBar } from 'cli-progress'

/** How often a plain progress line is printed when stderr is not a terminal. */
const plainLineIntervalMs = 5_000

export class Progress {
  private readonly bar: SingleBar | undefined
  private readonly startedMs = Date.now()
  private lastLineMs = Date.now()
  private done = 0
  private parts = 0

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly total: number,
    /** What the second count counts (the parts of the items). */
    private readonly partUnit: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (stream.isTTY === true) {
      this.bar = new SingleBar({
        stream,
        format: `${label} [{bar}] {value}/{total} ${unit}, {parts} ${partUnit} | {rate} ${partUnit}/s | ETA {eta_formatted}`,
        etaBuffer: 50,
        hideCursor: true,
      })
      this.bar.start(total, 0, { parts: '0', rate: '0' })
    }
  }

  /** `count` more items done. */
  advance(count = 1): void {
    this.done += count
    this.show()
  }

  /** `count` more parts done (of the item under way). */
  advanceParts(count = 1): void {
    this.parts += count
    this.show()
  }

  /** Ends the bar and prints `summary` on a line of its own. */
  finish(summary: string): void {
    this.bar?.stop()
    this.stream.write(`${summary}\n`)
  }

  /** Ends the bar without a summary (the command failed and says why itself). */
  abandon(): void {
    this.bar?.stop()
  }

  elapsedSeconds(): number {
    return (Date.now() - this.startedMs) / 1000
  }

  private show(): void {
    const nowMs = Date.now()
    const seconds = (nowMs - this.startedMs) / 1000
    const rate = seconds > 0 ? this.parts / seconds : 0
    if (this.bar !== undefined) {
      this.bar.update(this.done, { parts: this.parts.toLocaleString('en-US'), rate: rate.toFixed(0) })
      return
    }
    if (nowMs - this.lastLineMs < plainLineIntervalMs) return
    this.lastLineMs = nowMs
    // The ETA from the items done so far, when there are some.
    const left = seconds > 0 && this.done > 0 ? `, about ${Math.ceil(((this.total - this.done) * seconds) / this.done)} s left` : ''
    this.stream.write(
      `${this.label}: ${this.done}/${this.total} ${this.unit}, ${this.parts.toLocaleString('en-US')} ${this.partUnit}, ${rate.toFixed(0)} ${this.partUnit}/s${left}\n`,
    )
  }
}
