/**
 * A FileSystem for tests that models what a power cut may leave on disk, strictly.
 *
 * Every call goes through to the real file system in one store folder (`dir`), so the engine
 * sees ordinary files while it runs; on the side, the simulator keeps what the disk would hold
 * after a power cut, and `materialize` rewrites the folder to one such state.
 *
 * The model:
 *   - Files are tracked by identity (a file id), not by path, so a file keeps its history across
 *     renames and after an unlink. For each file: its current content (mirrored in memory), its
 *     *durable image* (content and size as of its last completed fsync/fdatasync), and the
 *     sectors written since that sync. At a cut, each such sector is independently old (durable
 *     image) or new (current content), at the sector size of the run (512 or 4096 bytes); the size
 *     is independently the durable size or the current size (fdatasync and fsync both make the size
 *     durable). ftruncate counts as a write (of every sector between the old and new size).
 *   - Directory entries: each create (open with 'w'/'w+'/'wx' of a name that does not exist),
 *     rename and unlink in `dir` not yet followed by an fsync of `dir` is independently kept or
 *     lost at a cut. Entries are replayed in order from the namespace as of the last directory
 *     sync: a kept create or rename puts the file under its (new) name, dropping its other names;
 *     a kept unlink removes the name if it still names that file. So a lost rename leaves the file
 *     under its old name (or nowhere, if its create was lost too), a lost unlink brings the file
 *     back (content as the sector rule above gives it), a lost create removes the file. A data sync
 *     of a file does not make its directory entry durable.
 *   - Every file in `dir` counts: segments, hints, the commit file, temporary files and LOCK.
 *   - Files this simulator did not see being written (created by another thread, such as the
 *     compaction worker, which uses node:fs directly) are taken as fully durable, content and
 *     name, when first seen through it.
 *   - Cuts: every call is counted (from 1). With `cutAtCall: k`, call k and every later one fail
 *     with EIO before taking effect; `cut()` cuts from outside at any moment. Asynchronous calls do
 *     their real work at once and settle on a later turn of the event loop; one still pending
 *     at the cut fails, and a sync that fails so has made nothing durable.
 *   - No real fsync/fdatasync is made: durability is what this model says, not what the disk
 *     does, and skipping them keeps thousands of runs fast.
 *
 * Mutants, for proving that a checker can fail: 'ignore-fdatasync' (syncs of regular files make
 * nothing durable, as if the engine never called them) and 'ignore-directory-fsync' (directory
 * syncs make nothing durable).
 */
import fs from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { nodeFileSystem, type FileSystem } from '../file-system.ts'

export type PowerCutMutant = 'ignore-fdatasync' | 'ignore-directory-fsync'

export interface PowerCutOptions {
  /** The store folder: files directly inside it are modelled; other paths pass through. */
  dir: string
  sectorBytes: 512 | 4096
  /** Call number (from 1) that fails first, with every later call. Default: no cut. */
  cutAtCall?: number
  mutant?: PowerCutMutant
}

/** One file, by identity. */
interface SimFile {
  id: number
  /** Current content: what the real file holds (or held when it was last linked). */
  current: Buffer
  /** Content as of the last completed sync. */
  durable: Buffer
  /** Sectors written since the last sync, with the write counter of their last write. */
  dirty: Map<number, number>
  /** Counts writes, so that a sync can tell which writes it covered. */
  writeCount: number
  /** The writes the durable image covers. */
  durableWriteCount: number
}

/** `seq` numbers the operations, so that a directory sync can tell which ones it covered. */
type DirectoryOp =
  | { seq: number; kind: 'create'; name: string; fileId: number }
  | { seq: number; kind: 'rename'; from: string; to: string; fileId: number }
  | { seq: number; kind: 'unlink'; name: string; fileId: number }

interface Descriptor {
  /** Undefined for a descriptor of the folder itself, or of a path outside it. */
  fileId: number | undefined
  isDirectory: boolean
}

function powerOff(): Error {
  return Object.assign(new Error('EIO: the power is off'), { code: 'EIO' })
}

/** Lets the event loop turn, as a real asynchronous call would. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export class PowerCutFileSystem implements FileSystem {
  readonly dir: string
  readonly sectorBytes: number
  readonly mutant: PowerCutMutant | undefined
  private readonly cutAtCall: number
  /** Calls made so far, failed ones included. */
  callCount = 0
  private dead = false
  private nextFileId = 1
  private readonly files = new Map<number, SimFile>()
  /** Names in `dir` and the files they name now. */
  private readonly namespace = new Map<string, number>()
  /** Names as of the last completed directory sync. */
  private durableNamespace = new Map<string, number>()
  /** Directory operations since that sync, in order. */
  private pendingOps: DirectoryOp[] = []
  private lastOpSeq = 0
  /** The operations the durable namespace covers. */
  private durableOpSeq = 0
  private readonly descriptors = new Map<number, Descriptor>()
  /**
   * For reports: the call the cut failed first (method and path or descriptor's file), and the
   * unsynced sectors and directory operations the cut found.
   */
  cutStats = { cutCall: 'none (cut from outside)', dirtySectors: 0, pendingDirectoryOps: 0 }

  constructor(options: PowerCutOptions) {
    this.dir = resolve(options.dir)
    this.sectorBytes = options.sectorBytes
    this.mutant = options.mutant
    this.cutAtCall = options.cutAtCall ?? Number.POSITIVE_INFINITY
  }

  get isCut(): boolean {
    return this.dead
  }

  /** Cuts the power now: every later call fails, and pending asynchronous calls fail. */
  cut(): void {
    this.dead = true
  }

  /**
   * Counts a call and fails it if the power is off (or goes off at this call). `what` names the
   * call for the report (a function, so that the common case builds no string).
   */
  private enter(what: () => string): void {
    this.callCount++
    if (!this.dead && this.callCount >= this.cutAtCall) {
      this.dead = true
      this.cutStats.cutCall = what()
    }
    if (this.dead) throw powerOff()
  }

  private describeFd(fd: number): string {
    const descriptor = this.descriptors.get(fd)
    if (descriptor === undefined) return `fd ${fd}`
    if (descriptor.isDirectory) return 'the folder'
    if (descriptor.fileId === undefined) return `fd ${fd} (outside the folder)`
    const names = [...this.namespace].filter(([, fileId]) => fileId === descriptor.fileId).map(([name]) => name)
    return names.length === 0 ? `file #${descriptor.fileId} (unlinked)` : names.join(', ')
  }

  /** The name of `path` when it is directly inside `dir`, else undefined. */
  private nameIn(path: string): string | undefined {
    const full = resolve(path)
    return dirname(full) === this.dir ? full.slice(this.dir.length + 1) : undefined
  }

  private isDir(path: string): boolean {
    return resolve(path) === this.dir
  }

  private newFile(content: Buffer, durable: Buffer): SimFile {
    const file: SimFile = { id: this.nextFileId++, current: content, durable, dirty: new Map(), writeCount: 0, durableWriteCount: 0 }
    this.files.set(file.id, file)
    return file
  }

  /**
   * The file named `name` now, adopting a file that exists on disk but was never seen here
   * (written by another thread): it counts as durable, content and name.
   */
  private fileNamed(name: string): SimFile | undefined {
    const known = this.namespace.get(name)
    if (known !== undefined) return this.files.get(known)
    const path = join(this.dir, name)
    let content: Buffer
    try {
      if (!fs.statSync(path).isFile()) return undefined
      content = fs.readFileSync(path)
    } catch {
      return undefined
    }
    const file = this.newFile(content, Buffer.from(content))
    this.namespace.set(name, file.id)
    this.durableNamespace.set(name, file.id)
    return file
  }

  /** Notes a write of `length` bytes at `position` into the mirror, marking its sectors. */
  private noteWrite(file: SimFile, source: Buffer, position: number): void {
    const end = position + source.length
    if (end > file.current.length) {
      const grown = Buffer.alloc(end)
      file.current.copy(grown, 0)
      file.current = grown
    }
    source.copy(file.current, position)
    this.markDirty(file, position, end)
  }

  private markDirty(file: SimFile, from: number, to: number): void {
    if (to <= from) return
    file.writeCount++
    const last = Math.floor((to - 1) / this.sectorBytes)
    for (let sector = Math.floor(from / this.sectorBytes); sector <= last; sector++) file.dirty.set(sector, file.writeCount)
  }

  private noteTruncate(file: SimFile, lengthBytes: number): void {
    const before = file.current.length
    if (lengthBytes === before) return
    const resized = Buffer.alloc(lengthBytes)
    file.current.copy(resized, 0, 0, Math.min(before, lengthBytes))
    file.current = resized
    this.markDirty(file, Math.min(before, lengthBytes), Math.max(before, lengthBytes))
  }

  /** What a sync started now will make durable once it completes. */
  private startFileSync(file: SimFile): () => void {
    const image = Buffer.from(file.current)
    const covered = file.writeCount
    return () => {
      // Syncs that overlap may complete out of order: an older image never replaces a newer one.
      if (this.mutant === 'ignore-fdatasync' || covered < file.durableWriteCount) return
      file.durable = image
      file.durableWriteCount = covered
      for (const [sector, writeCount] of file.dirty) if (writeCount <= covered) file.dirty.delete(sector)
    }
  }

  private startDirectorySync(): () => void {
    const image = new Map(this.namespace)
    const covered = this.lastOpSeq
    return () => {
      if (this.mutant === 'ignore-directory-fsync' || covered < this.durableOpSeq) return
      this.durableNamespace = image
      this.durableOpSeq = covered
      this.pendingOps = this.pendingOps.filter((op) => op.seq > covered)
    }
  }

  private startSync(fd: number): () => void {
    const descriptor = this.descriptors.get(fd)
    if (descriptor?.isDirectory === true) return this.startDirectorySync()
    const file = descriptor?.fileId === undefined ? undefined : this.files.get(descriptor.fileId)
    return file === undefined ? () => undefined : this.startFileSync(file)
  }

  private fileOf(fd: number): SimFile | undefined {
    const fileId = this.descriptors.get(fd)?.fileId
    return fileId === undefined ? undefined : this.files.get(fileId)
  }

  // ---------------------------------------------------------------- FileSystem

  openSync(path: string, flags: string): number {
    this.enter(() => `openSync ${path} ${flags}`)
    const name = this.nameIn(path)
    if (name === undefined) {
      const fd = fs.openSync(path, flags)
      this.descriptors.set(fd, { fileId: undefined, isDirectory: this.isDir(path) })
      return fd
    }
    const existing = this.fileNamed(name)
    const fd = fs.openSync(path, flags)
    let file = existing
    if (file === undefined) {
      if (!fs.fstatSync(fd).isFile()) {
        this.descriptors.set(fd, { fileId: undefined, isDirectory: false })
        return fd
      }
      // A create: a new file, and a directory entry that is not durable until `dir` is synced.
      file = this.newFile(Buffer.alloc(0), Buffer.alloc(0))
      this.namespace.set(name, file.id)
      this.pendingOps.push({ seq: ++this.lastOpSeq, kind: 'create', name, fileId: file.id })
    } else if (flags.startsWith('w')) {
      this.noteTruncate(file, 0) // 'w' of an existing file truncates it: a write until synced
    }
    this.descriptors.set(fd, { fileId: file.id, isDirectory: false })
    return fd
  }

  closeSync(fd: number): void {
    this.enter(() => `closeSync ${this.describeFd(fd)}`)
    fs.closeSync(fd)
    this.descriptors.delete(fd)
  }

  readSync(fd: number, target: Buffer, targetOffset: number, lengthBytes: number, position: number): number {
    this.enter(() => `readSync ${this.describeFd(fd)}`)
    return fs.readSync(fd, target, targetOffset, lengthBytes, position)
  }

  writeSync(fd: number, source: Buffer, position: number): number {
    this.enter(() => `writeSync ${this.describeFd(fd)} at ${position}`)
    const written = fs.writeSync(fd, source, 0, source.length, position)
    const file = this.fileOf(fd)
    if (file !== undefined) this.noteWrite(file, source.subarray(0, written), position)
    return written
  }

  fstatSizeBytes(fd: number): number {
    this.enter(() => `fstat ${this.describeFd(fd)}`)
    return fs.fstatSync(fd).size
  }

  ftruncateSync(fd: number, lengthBytes: number): void {
    this.enter(() => `ftruncateSync ${this.describeFd(fd)} to ${lengthBytes}`)
    fs.ftruncateSync(fd, lengthBytes)
    const file = this.fileOf(fd)
    if (file !== undefined) this.noteTruncate(file, lengthBytes)
  }

  fsyncSync(fd: number): void {
    this.enter(() => `fsyncSync ${this.describeFd(fd)}`)
    this.startSync(fd)()
  }

  /** Not in the FileSystem interface yet; here so that the engine may sync data synchronously. */
  fdatasyncSync(fd: number): void {
    this.enter(() => `fdatasyncSync ${this.describeFd(fd)}`)
    this.startSync(fd)()
  }

  writevSync(fd: number, buffers: Buffer[], position: number): number {
    this.enter(() => `writev ${this.describeFd(fd)} at ${position}`)
    const written = fs.writevSync(fd, buffers, position)
    const file = this.fileOf(fd)
    if (file !== undefined) this.noteWrite(file, Buffer.concat(buffers).subarray(0, written), position)
    return written
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    const written = this.writevSync(fd, buffers, position)
    await nextTurn()
    // Cut meanwhile: the bytes may or may not be on disk (their sectors are dirty), and the
    // caller is told it failed.
    if (this.dead) throw powerOff()
    return written
  }

  async fdatasync(fd: number): Promise<void> {
    await this.asyncSync(fd, 'fdatasync')
  }

  async fsync(fd: number): Promise<void> {
    await this.asyncSync(fd, 'fsync')
  }

  private async asyncSync(fd: number, kind: string): Promise<void> {
    this.enter(() => `${kind} ${this.describeFd(fd)}`)
    const complete = this.startSync(fd)
    await nextTurn()
    if (this.dead) throw powerOff() // the sync did not complete: nothing more is durable
    complete()
  }

  async rename(from: string, to: string): Promise<void> {
    this.renameSync(from, to)
    await nextTurn()
    if (this.dead) throw powerOff() // done in memory, perhaps not on disk: the op stays pending
  }

  async unlink(path: string): Promise<void> {
    this.unlinkSync(path)
    await nextTurn()
    if (this.dead) throw powerOff()
  }

  readdirSync(path: string): string[] {
    this.enter(() => `readdirSync ${path}`)
    return fs.readdirSync(path)
  }

  mkdirSync(path: string): void {
    this.enter(() => `mkdirSync ${path}`)
    // The folder itself is taken as durable: the store's files are what is modelled.
    fs.mkdirSync(path, { recursive: true })
  }

  renameSync(from: string, to: string): void {
    this.enter(() => `rename ${from} to ${to}`)
    const fromName = this.nameIn(from)
    const toName = this.nameIn(to)
    const file = fromName === undefined ? undefined : this.fileNamed(fromName)
    fs.renameSync(from, to)
    if (file === undefined || fromName === undefined || toName === undefined) return
    this.namespace.delete(fromName)
    this.namespace.set(toName, file.id)
    this.pendingOps.push({ seq: ++this.lastOpSeq, kind: 'rename', from: fromName, to: toName, fileId: file.id })
  }

  unlinkSync(path: string): void {
    this.enter(() => `unlink ${path}`)
    const name = this.nameIn(path)
    const file = name === undefined ? undefined : this.fileNamed(name)
    fs.unlinkSync(path)
    if (file === undefined || name === undefined) return
    this.namespace.delete(name)
    this.pendingOps.push({ seq: ++this.lastOpSeq, kind: 'unlink', name, fileId: file.id })
  }

  readFileSync(path: string): Buffer {
    this.enter(() => `readFileSync ${path}`)
    return fs.readFileSync(path)
  }

  existsSync(path: string): boolean {
    this.enter(() => `existsSync ${path}`)
    return fs.existsSync(path)
  }

  identitySync(path: string): { device: bigint; inode: bigint } {
    this.enter(() => `identitySync ${path}`)
    return nodeFileSystem.identitySync(path)
  }

  // ---------------------------------------------------------------- the cut

  /**
   * Cuts the power (if not cut yet), closes every descriptor opened through this file system,
   * and rewrites `dir` to one state a power cut may leave, drawn with `random` (numbers in
   * [0, 1)). Files never seen through this file system are left as they are.
   */
  materialize(random: () => number): void {
    this.dead = true
    for (const fd of this.descriptors.keys()) {
      try {
        fs.closeSync(fd)
      } catch {
        // Already closed by a call that failed after closing.
      }
    }
    this.descriptors.clear()

    const names = new Map(this.durableNamespace)
    this.cutStats.pendingDirectoryOps = this.pendingOps.length
    for (const op of this.pendingOps) {
      if (random() < 0.5) continue // lost
      if (op.kind === 'unlink') {
        if (names.get(op.name) === op.fileId) names.delete(op.name)
        continue
      }
      for (const [name, fileId] of names) if (fileId === op.fileId) names.delete(name)
      names.set(op.kind === 'create' ? op.name : op.to, op.fileId)
    }

    const contents = new Map<number, Buffer>()
    let dirtySectors = 0
    for (const fileId of new Set(names.values())) {
      const file = this.files.get(fileId)!
      dirtySectors += file.dirty.size
      contents.set(fileId, this.imageAfterCut(file, random))
    }
    this.cutStats.dirtySectors = dirtySectors

    // Every name this simulator knows of is rewritten; unknown files are not touched.
    const known = new Set<string>([...this.durableNamespace.keys(), ...this.namespace.keys()])
    for (const op of this.pendingOps) {
      if (op.kind === 'rename') known.add(op.from).add(op.to)
      else known.add(op.name)
    }
    for (const name of known) fs.rmSync(join(this.dir, name), { force: true })
    for (const [name, fileId] of names) fs.writeFileSync(join(this.dir, name), contents.get(fileId)!)
  }

  /** One content a power cut may leave in `file`: per sector old or new, size old or new. */
  private imageAfterCut(file: SimFile, random: () => number): Buffer {
    const { current, durable } = file
    const sizeBytes = current.length === durable.length || random() < 0.5 ? durable.length : current.length
    const image = Buffer.alloc(sizeBytes)
    durable.copy(image, 0, 0, Math.min(sizeBytes, durable.length))
    for (const sector of [...file.dirty.keys()].sort((left, right) => left - right)) {
      const start = sector * this.sectorBytes
      if (start >= sizeBytes) continue
      if (random() < 0.5) continue // old: the durable image's bytes (zeros past its end)
      const end = Math.min(sizeBytes, start + this.sectorBytes)
      // New: the current bytes, zeros past the current end (a truncation that reached the disk).
      image.fill(0, start, end)
      if (start < current.length) current.copy(image, start, start, Math.min(end, current.length))
    }
    return image
  }
}
