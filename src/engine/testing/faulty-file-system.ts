/**
 * A FileSystem for tests that can fail on purpose and can simulate a power cut.
 *
 * It passes every call to the real file system and remembers, for each file, how many bytes
 * were last made durable by fsync/fdatasync. `powerCut()` then puts every file back to its durable
 * length plus a random part of what was written after it (a torn write: some unsynced bytes
 * reach the disk, some do not, and some come back as zeros), which is what a power cut may leave.
 *
 * Simplification: creating, renaming and removing files counts as durable at once. The engine
 * syncs the folder after each of them, so this hides no case the engine relies on.
 */
import { nodeFileSystem, type FileSystem } from '../file-system.ts'

export type FaultPoint = 'writev' | 'fdatasync' | 'fsync' | 'read'

export class FaultyFileSystem implements FileSystem {
  private readonly pathOf = new Map<number, string>()
  private readonly durableBytes = new Map<string, number>()
  /** Calls of these kinds fail with EIO while set. */
  readonly failing = new Set<FaultPoint>()
  private dead = false

  private check(point?: FaultPoint): void {
    if (this.dead) throw Object.assign(new Error('EIO: the power is off'), { code: 'EIO' })
    if (point !== undefined && this.failing.has(point)) {
      throw Object.assign(new Error(`EIO: injected ${point} failure`), { code: 'EIO' })
    }
  }

  openSync(path: string, flags: string): number {
    this.check()
    const fd = nodeFileSystem.openSync(path, flags)
    this.pathOf.set(fd, path)
    // Only segment files are torn by a power cut; the folder and the lock file are not data.
    if (path.includes('.seg') && !this.durableBytes.has(path)) this.durableBytes.set(path, nodeFileSystem.fstatSizeBytes(fd))
    return fd
  }
  closeSync(fd: number): void {
    this.pathOf.delete(fd)
    nodeFileSystem.closeSync(fd)
  }
  readSync(fd: number, target: Buffer, targetOffset: number, lengthBytes: number, position: number): number {
    this.check('read')
    return nodeFileSystem.readSync(fd, target, targetOffset, lengthBytes, position)
  }
  writeSync(fd: number, source: Buffer, position: number): number {
    this.check('writev')
    return nodeFileSystem.writeSync(fd, source, position)
  }
  fstatSizeBytes(fd: number): number {
    return nodeFileSystem.fstatSizeBytes(fd)
  }
  ftruncateSync(fd: number, lengthBytes: number): void {
    this.check()
    nodeFileSystem.ftruncateSync(fd, lengthBytes)
  }
  fsyncSync(fd: number): void {
    this.check('fsync')
    nodeFileSystem.fsyncSync(fd)
    this.markDurable(fd)
  }
  fdatasyncSync(fd: number): void {
    this.check('fdatasync')
    nodeFileSystem.fdatasyncSync(fd)
    this.markDurable(fd)
  }
  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    this.check('writev')
    return nodeFileSystem.writev(fd, buffers, position)
  }
  writevSync(fd: number, buffers: Buffer[], position: number): number {
    this.check('writev')
    return nodeFileSystem.writevSync(fd, buffers, position)
  }
  async fdatasync(fd: number): Promise<void> {
    this.check('fdatasync')
    await nodeFileSystem.fdatasync(fd)
    this.markDurable(fd)
  }
  async fsync(fd: number): Promise<void> {
    this.check('fsync')
    await nodeFileSystem.fsync(fd)
    this.markDurable(fd)
  }
  async rename(from: string, to: string): Promise<void> {
    this.renameSync(from, to)
  }
  async unlink(path: string): Promise<void> {
    this.unlinkSync(path)
  }
  readdirSync(path: string): string[] {
    this.check()
    return nodeFileSystem.readdirSync(path)
  }
  mkdirSync(path: string): void {
    nodeFileSystem.mkdirSync(path)
  }
  renameSync(from: string, to: string): void {
    this.check()
    nodeFileSystem.renameSync(from, to)
    const durable = this.durableBytes.get(from)
    this.durableBytes.delete(from)
    if (durable !== undefined) this.durableBytes.set(to, durable)
    for (const [fd, path] of this.pathOf) if (path === from) this.pathOf.set(fd, to)
  }
  unlinkSync(path: string): void {
    this.check()
    nodeFileSystem.unlinkSync(path)
    this.durableBytes.delete(path)
  }
  readFileSync(path: string): Buffer {
    return nodeFileSystem.readFileSync(path)
  }
  existsSync(path: string): boolean {
    return nodeFileSystem.existsSync(path)
  }
  identitySync(path: string): { device: bigint; inode: bigint } {
    return nodeFileSystem.identitySync(path)
  }

  /** Closes every descriptor still open through this file system (a dead store's, say). */
  closeAll(): void {
    for (const fd of this.pathOf.keys()) nodeFileSystem.closeSync(fd)
    this.pathOf.clear()
  }

  private markDurable(fd: number): void {
    const path = this.pathOf.get(fd)
    if (path !== undefined && this.durableBytes.has(path)) this.durableBytes.set(path, nodeFileSystem.fstatSizeBytes(fd))
  }

  /**
   * Cuts the power: every later call fails, and each file written through this file system is
   * left as a power cut might leave it. `random` returns numbers in [0, 1), for repeatable runs.
   * Returns how many unsynced bytes were dropped or torn, all files together.
   */
  powerCut(random: () => number): number {
    this.dead = true
    let lostBytes = 0
    for (const [path, durable] of this.durableBytes) {
      if (!nodeFileSystem.existsSync(path)) continue
      const fd = nodeFileSystem.openSync(path, 'r+')
      try {
        const sizeBytes = nodeFileSystem.fstatSizeBytes(fd)
        if (sizeBytes <= durable) continue
        // Keep a random prefix of the unsynced bytes; zero a random stretch at its end.
        const keptBytes = durable + Math.floor(random() * (sizeBytes - durable + 1))
        nodeFileSystem.ftruncateSync(fd, keptBytes)
        const zeroedBytes = Math.floor(random() * Math.min(64, keptBytes - durable))
        if (zeroedBytes > 0) nodeFileSystem.writeSync(fd, Buffer.alloc(zeroedBytes), keptBytes - zeroedBytes)
        lostBytes += sizeBytes - keptBytes + zeroedBytes
      } finally {
        nodeFileSystem.closeSync(fd)
      }
    }
    return lostBytes
  }
}
