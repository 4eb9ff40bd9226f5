/**
 * A FileSystem for tests whose volume holds at most `capacityBytes`: the files of the store's
 * folder together. A write that would take the folder past it fails with ENOSPC after writing
 * what fits, as a real disk does (a short write, then ENOSPC); creating a file needs no room.
 * Raising `capacityBytes` frees space, as deleting a file on a real disk would. Overwriting bytes
 * a file already has needs no room, as on ext4, XFS and tmpfs.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { nodeFileSystem, type FileSystem } from '../file-system.ts'

export class CapacityFileSystem implements FileSystem {
  /** ENOSPC (and short writes) past this many bytes of files in `dir`. */
  capacityBytes: number
  /** Writes refused for want of room, and bytes they could not write. */
  refusals = 0

  constructor(
    private readonly dir: string,
    capacityBytes: number,
  ) {
    this.capacityBytes = capacityBytes
  }

  /** Bytes of the files in the folder now. */
  usedBytes(): number {
    let total = 0
    for (const name of fs.readdirSync(this.dir)) {
      try {
        total += fs.statSync(join(this.dir, name)).size
      } catch {
        // Removed meanwhile.
      }
    }
    return total
  }

  /** How many bytes of a write of `lengthBytes` at `position` of `fd` fit. */
  private fitting(fd: number, position: number, lengthBytes: number): number {
    const sizeBytes = fs.fstatSync(fd).size
    const growthBytes = Math.max(0, position + lengthBytes - sizeBytes)
    const freeBytes = Math.max(0, this.capacityBytes - this.usedBytes())
    if (growthBytes <= freeBytes) return lengthBytes
    return Math.max(0, sizeBytes + freeBytes - position)
  }

  private noRoom(syscall: string): Error {
    this.refusals++
    return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { code: 'ENOSPC', errno: -28, syscall })
  }

  writeSync(fd: number, source: Buffer, position: number): number {
    const fits = this.fitting(fd, position, source.length)
    if (fits === 0 && source.length > 0) throw this.noRoom('write')
    return nodeFileSystem.writeSync(fd, fits === source.length ? source : source.subarray(0, fits), position)
  }

  writevSync(fd: number, buffers: Buffer[], position: number): number {
    return this.writeSync(fd, Buffer.concat(buffers), position)
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    return this.writeSync(fd, Buffer.concat(buffers), position)
  }

  openSync = nodeFileSystem.openSync
  closeSync = nodeFileSystem.closeSync
  readSync = nodeFileSystem.readSync
  fstatSizeBytes = nodeFileSystem.fstatSizeBytes
  ftruncateSync = nodeFileSystem.ftruncateSync
  fsyncSync = nodeFileSystem.fsyncSync
  fdatasyncSync = nodeFileSystem.fdatasyncSync
  fdatasync = nodeFileSystem.fdatasync
  fsync = nodeFileSystem.fsync
  rename = nodeFileSystem.rename
  unlink = nodeFileSystem.unlink
  readdirSync = nodeFileSystem.readdirSync
  mkdirSync = nodeFileSystem.mkdirSync
  renameSync = nodeFileSystem.renameSync
  unlinkSync = nodeFileSystem.unlinkSync
  readFileSync = nodeFileSystem.readFileSync
  existsSync = nodeFileSystem.existsSync
  identitySync = nodeFileSystem.identitySync
}
