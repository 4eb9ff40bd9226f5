/**
 * A FileSystem for tests that counts the calls of each operation and can make exactly one of
 * them fail: the k-th call of a named operation throws an error shaped like Node's own (`code`,
 * `errno`, `syscall`), without being performed (but `closeSync`, see there). For the write operations, a `shortWrite` fault
 * first writes part of the bytes, as a real write can when the disk fills up mid-call, then throws.
 *
 * Used by the I/O fault matrix (test/io-faults.test.ts): a first run learns how many calls of
 * each operation a workload makes; each later run fails one of them.
 */
import { nodeFileSystem, type FileSystem } from '../file-system.ts'

/** Every method of `FileSystem`, the unit that is counted and armed. */
export const fileSystemOperations = [
  'openSync',
  'closeSync',
  'readSync',
  'writeSync',
  'fstatSizeBytes',
  'ftruncateSync',
  'fsyncSync',
  'fdatasyncSync',
  'writev',
  'writevSync',
  'fdatasync',
  'fsync',
  'rename',
  'unlink',
  'readdirSync',
  'mkdirSync',
  'renameSync',
  'unlinkSync',
  'readFileSync',
  'existsSync',
  'identitySync',
] as const satisfies readonly (keyof FileSystem)[]

export type FileSystemOperation = (typeof fileSystemOperations)[number]

/** The operations that write bytes, which a `shortWrite` fault can cut short. */
export const writeOperations: readonly FileSystemOperation[] = ['writeSync', 'writev', 'writevSync']

export type FaultErrno = 'ENOSPC' | 'EIO'

/** Node's numbers and messages for the errors injected (Linux values). */
const errnoDetails: Record<FaultErrno, { errno: number; description: string }> = {
  ENOSPC: { errno: -28, description: 'no space left on device' },
  EIO: { errno: -5, description: 'i/o error' },
}

/** The system call Node names in its error for each operation. */
const syscallOf: Record<FileSystemOperation, string> = {
  openSync: 'open',
  closeSync: 'close',
  readSync: 'read',
  writeSync: 'write',
  fstatSizeBytes: 'fstat',
  ftruncateSync: 'ftruncate',
  fsyncSync: 'fsync',
  fdatasyncSync: 'fdatasync',
  writev: 'writev',
  writevSync: 'writev',
  fdatasync: 'fdatasync',
  fsync: 'fsync',
  rename: 'rename',
  unlink: 'unlink',
  readdirSync: 'scandir',
  mkdirSync: 'mkdir',
  renameSync: 'rename',
  unlinkSync: 'unlink',
  readFileSync: 'open',
  existsSync: 'access',
  identitySync: 'stat',
}

export interface Fault {
  operation: FileSystemOperation
  /** Which call of `operation` fails, counting from 1 over the file system's life. */
  k: number
  errno: FaultErrno
  /** For a write operation: write the first half of the bytes, then fail. */
  shortWrite?: boolean
}

export function systemError(errno: FaultErrno, operation: FileSystemOperation): NodeJS.ErrnoException {
  const { errno: number, description } = errnoDetails[errno]
  const syscall = syscallOf[operation]
  return Object.assign(new Error(`${errno}: ${description}, ${syscall}`), { code: errno, errno: number, syscall })
}

export class CountingFaultFileSystem implements FileSystem {
  /** Calls made so far, per operation (failed ones included). */
  readonly counts = new Map<FileSystemOperation, number>(fileSystemOperations.map((operation) => [operation, 0]))
  /** Set once the armed fault has been thrown. */
  fired = false

  constructor(private readonly fault?: Fault) {}

  /** Counts a call; true when this call is the one to fail. */
  private hit(operation: FileSystemOperation): boolean {
    const count = this.counts.get(operation)! + 1
    this.counts.set(operation, count)
    const fault = this.fault
    if (fault === undefined || this.fired || fault.operation !== operation || fault.k !== count) return false
    this.fired = true
    return true
  }

  /** Counts a call and throws the armed error if it is the one (nothing is performed). */
  private enter(operation: FileSystemOperation): void {
    if (this.hit(operation) && !this.isShortWrite(operation)) throw systemError(this.fault!.errno, operation)
  }

  private isShortWrite(operation: FileSystemOperation): boolean {
    return this.fault?.shortWrite === true && writeOperations.includes(operation)
  }

  /**
   * Writes the first half of `buffers` at `position` for real, then throws: what a write that runs
   * out of space part way leaves behind.
   */
  private shortWrite(operation: FileSystemOperation, fd: number, buffers: Buffer[], position: number): never {
    const whole = Buffer.concat(buffers)
    const partBytes = Math.floor(whole.length / 2)
    if (partBytes > 0) nodeFileSystem.writeSync(fd, whole.subarray(0, partBytes), position)
    throw systemError(this.fault!.errno, operation)
  }

  openSync(path: string, flags: string): number {
    this.enter('openSync')
    return nodeFileSystem.openSync(path, flags)
  }
  closeSync(fd: number): void {
    // Linux releases the descriptor even when close() reports an error (an NFS write-back EIO, say),
    // so a failed close is performed, then reported: not performing it would leak a descriptor no
    // real system leaves behind.
    const fails = this.hit('closeSync')
    nodeFileSystem.closeSync(fd)
    if (fails) throw systemError(this.fault!.errno, 'closeSync')
  }
  readSync(fd: number, target: Buffer, targetOffset: number, lengthBytes: number, position: number): number {
    this.enter('readSync')
    return nodeFileSystem.readSync(fd, target, targetOffset, lengthBytes, position)
  }
  writeSync(fd: number, source: Buffer, position: number): number {
    if (this.hit('writeSync')) {
      if (this.isShortWrite('writeSync')) this.shortWrite('writeSync', fd, [source], position)
      throw systemError(this.fault!.errno, 'writeSync')
    }
    return nodeFileSystem.writeSync(fd, source, position)
  }
  fstatSizeBytes(fd: number): number {
    this.enter('fstatSizeBytes')
    return nodeFileSystem.fstatSizeBytes(fd)
  }
  ftruncateSync(fd: number, lengthBytes: number): void {
    this.enter('ftruncateSync')
    nodeFileSystem.ftruncateSync(fd, lengthBytes)
  }
  fsyncSync(fd: number): void {
    this.enter('fsyncSync')
    nodeFileSystem.fsyncSync(fd)
  }
  fdatasyncSync(fd: number): void {
    this.enter('fdatasyncSync')
    nodeFileSystem.fdatasyncSync(fd)
  }
  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    if (this.hit('writev')) {
      if (this.isShortWrite('writev')) this.shortWrite('writev', fd, buffers, position)
      throw systemError(this.fault!.errno, 'writev')
    }
    return nodeFileSystem.writev(fd, buffers, position)
  }
  writevSync(fd: number, buffers: Buffer[], position: number): number {
    if (this.hit('writevSync')) {
      if (this.isShortWrite('writevSync')) this.shortWrite('writevSync', fd, buffers, position)
      throw systemError(this.fault!.errno, 'writevSync')
    }
    return nodeFileSystem.writevSync(fd, buffers, position)
  }
  async fdatasync(fd: number): Promise<void> {
    this.enter('fdatasync')
    await nodeFileSystem.fdatasync(fd)
  }
  async fsync(fd: number): Promise<void> {
    this.enter('fsync')
    await nodeFileSystem.fsync(fd)
  }
  async rename(from: string, to: string): Promise<void> {
    this.enter('rename')
    await nodeFileSystem.rename(from, to)
  }
  async unlink(path: string): Promise<void> {
    this.enter('unlink')
    await nodeFileSystem.unlink(path)
  }
  readdirSync(path: string): string[] {
    this.enter('readdirSync')
    return nodeFileSystem.readdirSync(path)
  }
  mkdirSync(path: string): void {
    this.enter('mkdirSync')
    nodeFileSystem.mkdirSync(path)
  }
  renameSync(from: string, to: string): void {
    this.enter('renameSync')
    nodeFileSystem.renameSync(from, to)
  }
  unlinkSync(path: string): void {
    this.enter('unlinkSync')
    nodeFileSystem.unlinkSync(path)
  }
  readFileSync(path: string): Buffer {
    this.enter('readFileSync')
    return nodeFileSystem.readFileSync(path)
  }
  existsSync(path: string): boolean {
    this.enter('existsSync')
    return nodeFileSystem.existsSync(path)
  }
  identitySync(path: string): { device: bigint; inode: bigint } {
    this.enter('identitySync')
    return nodeFileSystem.identitySync(path)
  }
}
