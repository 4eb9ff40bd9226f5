/**
 * The raw group-commit ceiling of the disk as Node sees it: a loop that writes one buffer of N
 * records with fs.write, then calls fdatasync. The benchmarks run it beside their durable-write
 * workloads, as the most any log on this disk could sustain at that group size.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Participant } from './interleave.ts'
import type { Sample } from './measure.ts'

function writeAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buffer, 0, buffer.length, position, (error, written) => (error ? reject(error) : resolve(written)))
  })
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())))
}

/**
 * The raw group-commit ceiling: one buffer of `recordsPerSync` records appended with fs.write,
 * then fdatasync, in a loop. Each slice runs for a fixed time and appends to the same file.
 */
export class Ceiling {
  private position = 0
  private readonly buffer: Buffer

  private constructor(
    private readonly file: string,
    private readonly fd: number,
    readonly recordsPerSync: number,
    recordSizeBytes: number,
  ) {
    this.buffer = Buffer.alloc(recordsPerSync * recordSizeBytes, 0xa5)
  }

  static open(root: string, recordsPerSync: number, recordSizeBytes: number): Ceiling {
    const file = path.join(root, `ceiling-${recordsPerSync}-${Date.now()}.dat`)
    return new Ceiling(file, fs.openSync(file, 'w'), recordsPerSync, recordSizeBytes)
  }

  async slice(seconds: number): Promise<Sample> {
    const latenciesMicros: number[] = []
    const started = performance.now()
    // Bounded by the clock.
    while (performance.now() - started < seconds * 1000) {
      const groupStarted = performance.now()
      await writeAt(this.fd, this.buffer, this.position)
      await fdatasync(this.fd)
      latenciesMicros.push((performance.now() - groupStarted) * 1000)
      this.position += this.buffer.length
    }
    return {
      latenciesMicros: Float64Array.from(latenciesMicros),
      operations: latenciesMicros.length * this.recordsPerSync,
      elapsedSeconds: (performance.now() - started) / 1000,
    }
  }

  close(): void {
    fs.closeSync(this.fd)
    fs.rmSync(this.file, { force: true })
  }

  participant(name: string, secondsPerRound: number): Participant {
    return { name, run: () => this.slice(secondsPerRound) }
  }
}

export function ceilingName(recordsPerSync: number): string {
  return `disk ceiling (${recordsPerSync} rec/fdatasync)`
}
