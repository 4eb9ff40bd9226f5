/**
 * Progress of a long command on stderr: a bar with items/s and an ETA on a terminal
 * (cli-progress), plain lines every few seconds otherwise (a log, a CI job), and one summary
 * line at the end either way. Nothing goes to stdout, which carries the command's output.
 */
import { SingleBar } from 'cli-progress'

/** How often a plain progress line is printed when stderr is not a terminal. */
const plainLineIntervalMs = 5_000

export class Progress {
  private readonly bar: SingleBar | undefined
  private readonly startedMs = Date.now()
  private lastLineMs = Date.now()
  private done = 0

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (stream.isTTY === true) {
      this.bar = new SingleBar({
        stream,
        format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
        etaBuffer: 50,
        hideCursor: true,
      })
      this.bar.start(total, 0, { rate: '0' })
    }
  }

  /** `count` more items done. */
  advance(count = 1): void {
    this.done += count
    const nowMs = Date.now()
    const rate = this.rate(nowMs)
    if (this.bar !== undefined) {
      this.bar.update(this.done, { rate: rate.toFixed(0) })
      return
    }
    if (nowMs - this.lastLineMs < plainLineIntervalMs) return
    this.lastLineMs = nowMs
    const left = this.total - this.done
    const eta = rate > 0 ? `, about ${Math.ceil(left / rate)} s left` : ''
    this.stream.write(`${this.label}: ${this.done}/${this.total} ${this.unit}, ${rate.toFixed(0)} ${this.unit}/s${eta}\n`)
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

  private rate(nowMs: number): number {
    const seconds = (nowMs - this.startedMs) / 1000
    return seconds > 0 ? this.done / seconds : 0
  }
}
