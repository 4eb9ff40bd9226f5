/**
 * What the compaction and startup sections of the engine benchmark do with a store's folder while
 * the store is closed: copy it, sum its files, remove its hint files, and read its segment files
 * start to end as a baseline for the open time. Only file names are relied on (`*.seg`, `*.hint`,
 * `LOCK`; see docs/format.md), never the engine's internals.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const segmentPattern = /^\d{12}\.seg$/
const hintPattern = /^\d{12}\.hint$/

/** The segment files of a store folder, in number order. */
export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => segmentPattern.test(name))
    .sort()
    .map((name) => path.join(dir, name))
}

/** Copies a closed store's folder (every file but the lock file) to `to`, which must not exist. */
export function copyStoreFolder(from: string, to: string): void {
  fs.mkdirSync(to)
  for (const name of fs.readdirSync(from)) {
    if (name === 'LOCK') continue
    fs.copyFileSync(path.join(from, name), path.join(to, name))
  }
}

/** Bytes of every file in the folder as the file system sizes them (preallocated tails included). */
export function folderBytes(dir: string): number {
  let sizeBytes = 0
  for (const name of fs.readdirSync(dir)) sizeBytes += fs.statSync(path.join(dir, name)).size
  return sizeBytes
}

/** Removes a closed store's hint files, so that the next open scans every segment; returns how many. */
export function removeHintFiles(dir: string): number {
  let removed = 0
  for (const name of fs.readdirSync(dir)) {
    if (!hintPattern.test(name)) continue
    fs.rmSync(path.join(dir, name))
    removed++
  }
  return removed
}

export function hintFileCount(dir: string): number {
  return fs.readdirSync(dir).filter((name) => hintPattern.test(name)).length
}

/** Bytes of a store folder's hint files. */
export function hintFileBytes(dir: string): number {
  let sizeBytes = 0
  for (const name of fs.readdirSync(dir)) if (hintPattern.test(name)) sizeBytes += fs.statSync(path.join(dir, name)).size
  return sizeBytes
}

export interface SequentialRead {
  bytes: number
  ms: number
}

/** Reads the files start to end, one after another, with 8 MiB reads into one buffer. */
export function readSequentially(files: readonly string[]): SequentialRead {
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024)
  let bytes = 0
  const started = performance.now()
  for (const file of files) {
    const fd = fs.openSync(file, 'r')
    try {
      // Bounded by the file's size: every pass reads at least one byte or ends the loop.
      for (;;) {
        const got = fs.readSync(fd, buffer, 0, buffer.length, null)
        if (got === 0) break
        bytes += got
      }
    } finally {
      fs.closeSync(fd)
    }
  }
  return { bytes, ms: performance.now() - started }
}

/**
 * Bytes of the files resident in the page cache, from util-linux's `fincore`; undefined when it
 * is not installed or fails.
 */
export function pageCacheResidentBytes(files: readonly string[]): number | undefined {
  if (files.length === 0) return 0
  try {
    const output = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let resident = 0
    for (const line of output.trim().split('\n')) resident += Number(line.trim())
    return Number.isFinite(resident) ? resident : undefined
  } catch {
    return undefined
  }
}

/**
 * Bytes this process has read through read system calls so far, page-cache hits included
 * (`rchar` of /proc/self/io, all threads); undefined where there is no /proc.
 */
export function processReadBytes(): number | undefined {
  try {
    const match = /^rchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}
