/**
 * The only module of the engine that touches node:fs. Everything the engine does to files goes
 * through a `FileSystem`, so that tests can pass one that fails or tears writes on purpose.
 *
 * Start-up and rare operations (recovery, rotation, locking) are synchronous; the request path
 * uses positional `readSync` (a page-cache hit costs a few microseconds, less than a thread-pool
 * round trip) and asynchronous `writev`/`fdatasync`, so that a sync never blocks the event loop
 * and concurrent writes can gather into one group commit.
 */
import fs from 'node:fs'

export interface FileSystem {
  openSync(path: string, flags: string): number
  closeSync(fd: number): void
  readSync(fd: number, target: Buffer, targetOffset: number, lengthBytes: number, position: number): number
  writeSync(fd: number, source: Buffer, position: number): number
  fstatSizeBytes(fd: number): number
  ftruncateSync(fd: number, lengthBytes: number): void
  fsyncSync(fd: number): void
  fdatasyncSync(fd: number): void
  writev(fd: number, buffers: Buffer[], position: number): Promise<number>
  writevSync(fd: number, buffers: Buffer[], position: number): number
  fdatasync(fd: number): Promise<void>
  /** The asynchronous forms, for work done while requests are served (compaction's commit). */
  fsync(fd: number): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  readdirSync(path: string): string[]
  mkdirSync(path: string): void
  renameSync(from: string, to: string): void
  unlinkSync(path: string): void
  readFileSync(path: string): Buffer
  existsSync(path: string): boolean
  /** The device and inode numbers of `path`: what names a folder however it is reached. */
  identitySync(path: string): { device: bigint; inode: bigint }
}

export const nodeFileSystem: FileSystem = {
  openSync: (path, flags) => fs.openSync(path, flags),
  closeSync: (fd) => fs.closeSync(fd),
  readSync: (fd, target, targetOffset, lengthBytes, position) =>
    fs.readSync(fd, target, targetOffset, lengthBytes, position),
  writeSync: (fd, source, position) => fs.writeSync(fd, source, 0, source.length, position),
  fstatSizeBytes: (fd) => fs.fstatSync(fd).size,
  ftruncateSync: (fd, lengthBytes) => fs.ftruncateSync(fd, lengthBytes),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  writev: (fd, buffers, position) =>
    new Promise((resolve, reject) => {
      fs.writev(fd, buffers, position, (error, written) => (error ? reject(error) : resolve(written)))
    }),
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  fdatasync: (fd) =>
    new Promise((resolve, reject) => {
      fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()))
    }),
  fsync: (fd) =>
    new Promise((resolve, reject) => {
      fs.fsync(fd, (error) => (error ? reject(error) : resolve()))
    }),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path) => void fs.mkdirSync(path, { recursive: true }),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readFileSync: (path) => fs.readFileSync(path),
  existsSync: (path) => fs.existsSync(path),
  identitySync: (path) => {
    const stat = fs.statSync(path, { bigint: true })
    return { device: stat.dev, inode: stat.ino }
  },
}

/** Makes a directory's entries (new, renamed or removed files) durable. */
export function syncDirectory(fileSystem: FileSystem, path: string): void {
  const fd = fileSystem.openSync(path, 'r')
  try {
    fileSystem.fsyncSync(fd)
  } finally {
    fileSystem.closeSync(fd)
  }
}

/** `syncDirectory` on the thread pool, so that the event loop goes on meanwhile. */
export async function syncDirectoryAsync(fileSystem: FileSystem, path: string): Promise<void> {
  const fd = fileSystem.openSync(path, 'r')
  try {
    await fileSystem.fsync(fd)
  } finally {
    fileSystem.closeSync(fd)
  }
}
