/**
 * Appends records to the active segment, with group commit.
 *
 * `append` is synchronous: it places the records at the logical tail, so the caller knows at once
 * where they go, in the order the writes were made; each append's `publish` is called when its
 * pass is done, so that the caller updates its index then (see docs/format.md, *The write path*).
 * The bytes are written later by one flush loop, which takes every record appended since its last
 * pass, writes them with one `writev` a segment, and (in `always` mode) makes them durable with one
 * `fdatasync`. Every append of a pass shares one promise, settled when its pass is done: with 64
 * concurrent writers a pass carries about 64 records for the cost of one sync.
 *
 * Invariants:
 *   - Bytes reach each file in offset order, with no gaps; a sealed segment is synced before the
 *     next one is created, so only the newest segment can have a torn tail after a crash.
 *   - The records of one `append` (one write of the API) never span two segments.
 *   - Space is reserved before a write is accepted: `append` makes sure the bytes its records will
 *     take (and a syncMark's after them) are already in the file, zero-filled, writing zeros
 *     ahead of the tail (`zeroAheadBytes`, fewer when the disk is nearly full), and a write that
 *     would need a new segment gets it prepared (created, header written) first. On a full disk
 *     `append` throws DISK_FULL before anything is queued: the store keeps serving reads, and the
 *     next write tries again, so writing resumes by itself once space is freed. Records are then
 *     written over reserved zeros, which needs no new space on ext4, XFS or tmpfs. The zeros also
 *     keep most syncs data-only: appending would change the file size at every sync, and on ext4
 *     that costs a journal commit each time (measured: 1.66× fewer syncs a second for 64-record
 *     passes). Recovery reads an all-zero tail of the newest segment as the end of the log. A
 *     sealed segment, and the active one on close, are cut back to their last record.
 *   - Every segment it seals is reported to `onSealed` once synced (the store writes its hint
 *     file then: see sealed-hints.ts).
 *   - Records are sealed (group tag, GROUP_ENDS, seeded checksums: see record.ts) as a pass writes
 *     them: each pass is one group commit per segment, its last record flagged GROUP_ENDS, tagged
 *     with the segment's next group number when the segment was synced since the tag last moved
 *     on, else with the same tag (passes not yet synced share it). Records of a new tag are
 *     written only after the sync of the tag before returned, which is what lets recovery tell the
 *     unsynced tail from what is durable.
 *   - A syncMark follows the last group of a segment when it is sealed and of the active segment
 *     on close, written only once everything before it is synced (see sync-mark.ts).
 *   - After a failed write or sync the writer is failed for good: the page cache may have dropped
 *     the data (an fsync error is not retryable on Linux), so every later append fails and the
 *     store must be reopened, which recovers from what is really on disk.
 */
import assert from 'node:assert/strict'
import { DiskFullError, failureOf, isDiskFull, StratumError } from './errors.ts'
import { syncDirectoryAsync, type FileSystem } from './file-system.ts'
import { recordHeaderBytes, segmentHeaderBytes } from './limits.ts'
import { recordGroupMask, sealRecord, type RecordSeeds } from './record.ts'
import { encodeSegmentHeader, segmentFormatVersion, segmentPath } from './segment-file.ts'
import { encodeSyncMark } from './sync-mark.ts'
import type { SegmentFiles } from './segment-files.ts'
import type { SegmentStatsTable } from './segment-stats.ts'
import type { StoreObserver } from './store-observer.ts'

export type SyncMode = 'always' | 'interval' | 'none'

/**
 * How far past the tail the active segment is zero-filled, in bytes. One pass in 1 MiB of writes
 * pays for the size change; the zeros are cut off again when the segment is sealed or closed.
 */
export const zeroAheadBytes = 1024 * 1024
const zeros = Buffer.alloc(zeroAheadBytes)

/** Passes up to this many bytes are written from the event loop; see `writeGroup`. */
const syncWriteMaxBytes = 256 * 1024

/** Bytes kept free after the reserved records for the syncMark that may follow them. */
const syncMarkBytes = recordHeaderBytes

/** Zeros written ahead, while the disk is full, to find out whether it has room again. */
const probeBytes = 4096

/** A segment prepared for the tail to move into: created under its temporary name, not yet renamed. */
interface PreparedSegment {
  fd: number
  seeds: RecordSeeds
  /** Bytes of the file: the header, then zeros. */
  fileBytes: number
}

/** Why writes are refused while the disk is full: what was being written, and how much more it needed. */
export interface DiskFullState {
  path: string
  bytesNeeded: number
  since: Date
}
export const syncModes: readonly SyncMode[] = ['always', 'interval', 'none']

interface Chunk {
  segmentNumber: number
  position: number
  buffers: Buffer[]
}

/** The appends gathered for one pass of the flush loop. */
class Group {
  readonly chunks: Chunk[] = []
  /** Set by `flush()`: sync at the end of this pass whatever the sync mode. */
  forceSync = false
  /** What to publish, in append order, once the pass is done: see `append`. */
  readonly published: Published[] = []
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (error: Error) => void

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // A group nobody awaits (a flush with nothing to do) must not raise an unhandled rejection.
    this.done.catch(() => undefined)
  }

  isEmpty(): boolean {
    return this.chunks.length === 0 && !this.forceSync
  }
}

/** Where an append's records went: the first at `offset`, the others after it without gaps. */
export interface Placed {
  segmentNumber: number
  offset: number
}

interface Published extends Placed {
  publish: (at: Placed) => void
}

export interface Placement {
  segmentNumber: number
  /** Offset of the first record; the others follow it without gaps. */
  offset: number
  /** Settles when the records are written (and synced, in `always` mode). */
  durable: Promise<void>
}

export interface SegmentWriterOptions {
  fileSystem: FileSystem
  dir: string
  files: SegmentFiles
  syncMode: SyncMode
  syncIntervalMs: number
  segmentSizeBytes: number
  /** The segment to append to, already registered in `files` with its descriptor. */
  activeSegmentNumber: number
  activeFd: number
  activeSizeBytes: number
  /** The active file's size on disk, zero-filled tail included (at least `activeSizeBytes`). */
  activeFileBytes: number
  /** The seeds of the active segment's checksums, and the tag of its last group commit. */
  activeSeeds: RecordSeeds
  activeLastGroupTag: number
  /** Whether the active segment's log ends with a syncMark (or holds no record). */
  activeProven: boolean
  /**
   * The index's slots for segments: a segment gets one before the first write to it is accepted
   * (`reserve` throws LIMIT_EXCEEDED when none is left), and gives it back if it is removed empty.
   */
  segmentSlots: { reserve(segmentNumber: number): void; release(segmentNumber: number): void }
  /** Per-segment stats, kept up to date with every record appended. */
  segmentStats: SegmentStatsTable
  /** Called when a segment is sealed: cut to its last record and synced, never written again. */
  onSealed: (segmentNumber: number, sizeBytes: number) => void
  /** Called when writes start being refused for a full disk, and when they are accepted again. */
  onDiskFull: (state: DiskFullState | undefined) => void
  /** Called once, when the writer fails for good. */
  onFailed: (error: StratumError) => void
  /** Told of each sync of a segment and each group commit; its methods never throw. */
  observer: Required<StoreObserver>
}

export class SegmentWriter {
  private readonly options: SegmentWriterOptions
  /** Where the next appended record goes. */
  private tailSegmentNumber: number
  private tailOffset: number
  /** The segment whose file `fd` is, which may lag behind the tail until the loop rotates. */
  private fileSegmentNumber: number
  private fd: number
  /** Bytes of `fd`'s file: records up to `fileLogicalBytes`, then zeros. */
  private fileBytes: number
  private fileLogicalBytes: number
  private fileSeeds: RecordSeeds
  /** The tag of the last group commit written to `fd`'s segment. */
  private fileGroupTag: number
  /**
   * Whether `fd` was synced since its tag last moved on. The tag moves on only then: the passes
   * written between two syncs (several in the `interval` and `none` modes) share one tag, so that
   * recovery treats them as one unsynced window (see segment-scan.ts `findLogEnd`).
   */
  private syncedSinceTag = true
  /** Bytes of `fd`'s file that a syncMark proves durable: a mark is due on close when below the tail. */
  private fileProvenBytes: number
  private open = new Group()
  /** The group the flush loop is writing, if any. */
  private inFlight: Group | undefined
  private flushing = false
  private flushScheduled = false
  /** Bytes written to `fd` since its last sync. */
  private unsyncedBytes = 0
  private intervalSyncDue = false
  private readonly intervalTimer: NodeJS.Timeout | undefined
  private failure: StratumError | undefined
  private diskFullState: DiskFullState | undefined
  /** Segments created ahead of the flush loop for the tail to move into, by number. */
  private readonly prepared = new Map<number, PreparedSegment>()
  /** The segment whose slot in the index was last reserved (see `segmentSlots`). */
  private reservedSegmentNumber = 0
  syncCount = 0

  constructor(options: SegmentWriterOptions) {
    this.options = options
    this.tailSegmentNumber = options.activeSegmentNumber
    this.tailOffset = options.activeSizeBytes
    this.fileSegmentNumber = options.activeSegmentNumber
    this.fd = options.activeFd
    this.fileBytes = options.activeFileBytes
    this.fileLogicalBytes = options.activeSizeBytes
    this.fileSeeds = options.activeSeeds
    this.fileGroupTag = options.activeLastGroupTag
    // Recovery leaves the log of the active segment proven (see recovery.ts `proveTail`), unless
    // the disk had no room for the mark: then the first seal or close writes one.
    this.fileProvenBytes = options.activeProven ? options.activeSizeBytes : -1
    if (options.syncMode === 'interval') {
      this.intervalTimer = setInterval(() => {
        if (this.unsyncedBytes === 0) return
        this.intervalSyncDue = true
        this.scheduleFlush()
      }, options.syncIntervalMs)
      this.intervalTimer.unref()
    }
  }

  get activeSegmentNumber(): number {
    return this.tailSegmentNumber
  }

  /**
   * Every segment numbered below this one is sealed (whole on disk, synced, never written again)
   * and holds no record still to be published: what compaction may take. A pass writing to two
   * segments seals the first before it is done, so the pass in flight bounds it too. The tail may
   * be past the file segment (appends placed in a segment the flush loop has not reached), so
   * `activeSegmentNumber` is no such bound.
   */
  get firstUnsettledSegmentNumber(): number {
    const inFlight = this.inFlight?.chunks[0]?.segmentNumber
    return inFlight === undefined ? this.fileSegmentNumber : Math.min(inFlight, this.fileSegmentNumber)
  }

  get activeSizeBytes(): number {
    return this.tailOffset
  }

  /** The error that failed the writer, if one did. */
  get failed(): StratumError | undefined {
    return this.failure
  }

  /** Set while writes are refused because the disk is full. */
  get diskFull(): DiskFullState | undefined {
    return this.diskFullState
  }

  /**
   * Places `records` (the whole of one API write, in order) at the tail and queues them.
   * Rotates to a new segment first when they would not fit in the active one, unless it is empty.
   * `publish` is called once the pass that writes them is done (written, and synced in `always`
   * mode), before `durable` settles: the store applies the write to its index then, so that
   * readers never see it before it is acknowledged. Passes complete in order and each calls its
   * publishers in append order. Never called if the pass fails. A publisher must not throw: one
   * that does fails the writer, as a bug.
   */
  append(records: readonly Buffer[], publish: (at: Placed) => void): Placement {
    if (this.failure !== undefined) throw this.failure
    let totalBytes = 0
    for (const record of records) totalBytes += record.length
    const segmentIsEmpty = this.tailOffset === segmentHeaderBytes
    const rotates = !segmentIsEmpty && this.tailOffset + totalBytes > this.options.segmentSizeBytes
    const segmentNumber = rotates ? this.tailSegmentNumber + 1 : this.tailSegmentNumber
    const newlyReserved = segmentNumber !== this.reservedSegmentNumber
    if (newlyReserved) {
      // Throws LIMIT_EXCEEDED before anything is prepared or queued.
      this.options.segmentSlots.reserve(segmentNumber)
      this.reservedSegmentNumber = segmentNumber
    }
    if (rotates) {
      try {
        // Throws DISK_FULL (the tail stays where it is) when the next segment cannot be created.
        this.prepareSegment(this.tailSegmentNumber + 1, segmentHeaderBytes + totalBytes)
      } catch (error) {
        // The slot goes back: the number may never hold a record (compaction may take it).
        if (newlyReserved) {
          this.options.segmentSlots.release(segmentNumber)
          this.reservedSegmentNumber = 0
        }
        throw error
      }
      this.moveTail(this.tailSegmentNumber + 1)
    }
    this.reserve(this.tailSegmentNumber, this.tailOffset + totalBytes)
    const offset = this.tailOffset
    const chunk = this.tailChunk()
    for (const record of records) {
      chunk.buffers.push(record)
      this.options.segmentStats.noteEncoded(this.tailSegmentNumber, record)
    }
    this.open.published.push({ segmentNumber: this.tailSegmentNumber, offset, publish })
    this.tailOffset += totalBytes
    this.scheduleFlush()
    return { segmentNumber: this.tailSegmentNumber, offset, durable: this.open.done }
  }

  /**
   * Seals the active segment and starts a new one numbered `skipNumbers + 1` above it, leaving
   * the numbers between free for the caller (compaction writes its segments under them: they sort
   * below the active segment, which recovery must find as the newest). Without `skipNumbers`, an
   * active segment holding no record is left as it is. Resolves to the first number skipped (or
   * the new active segment's number) once the new segment exists on disk.
   */
  async rotate(skipNumbers = 0): Promise<number> {
    if (this.failure !== undefined) throw this.failure
    if (skipNumbers === 0 && this.tailOffset === segmentHeaderBytes) return this.tailSegmentNumber
    const firstFree = this.tailSegmentNumber + 1
    this.prepareSegment(this.tailSegmentNumber + 1 + skipNumbers, segmentHeaderBytes)
    this.moveTail(this.tailSegmentNumber + 1 + skipNumbers)
    // An empty chunk: the flush loop creates the segment even though no record goes to it yet.
    this.tailChunk()
    const done = this.open.done
    this.scheduleFlush()
    await done
    return firstFree
  }

  /**
   * Fails the writer for good, as an I/O error of its own would: used when a step of compaction
   * that cannot be undone in memory fails, so that the store is reopened and recovery finishes it.
   */
  failWith(error: unknown): void {
    this.fail(error)
  }

  /**
   * Makes sure segment `segmentNumber` (the file segment or a prepared one) has its bytes up to
   * `endOffset`, and room for a syncMark after them, in the file: zeros are written ahead, up to
   * `zeroAheadBytes` past the end, or just what is needed when the disk has no room for more.
   * Throws DISK_FULL when even that does not fit; fails the writer on any other error.
   */
  private reserve(segmentNumber: number, endOffset: number): void {
    const prepared = this.prepared.get(segmentNumber)
    assert(prepared !== undefined || segmentNumber === this.fileSegmentNumber, 'space is reserved in the tail segment')
    const fd = prepared?.fd ?? this.fd
    const fileBytes = prepared?.fileBytes ?? this.fileBytes
    const neededBytes = endOffset + syncMarkBytes
    if (neededBytes <= fileBytes) {
      // It fits in what was reserved. While writes are being refused, this write also probes for
      // room (a few zeros more), so that the state changes when the disk has room again, not
      // whenever a small write fits in what is left.
      if (this.diskFullState !== undefined) this.probeForRoom(segmentNumber, fd, fileBytes)
      return
    }
    const wantedBytes = Math.max(neededBytes, Math.min(this.options.segmentSizeBytes, endOffset + zeroAheadBytes))
    const path = `${segmentPath(this.options.dir, segmentNumber)}${prepared === undefined ? '' : '.tmp'}`
    let reachedBytes = fileBytes
    try {
      reachedBytes = this.writeZeros(fd, fileBytes, wantedBytes)
    } catch (error) {
      reachedBytes = (error as { reachedBytes?: number }).reachedBytes ?? fileBytes
      // A nearly full disk: the zeros ahead are a saving, not a need.
      if (isDiskFull(error) && reachedBytes < neededBytes) {
        try {
          reachedBytes = this.writeZeros(fd, reachedBytes, neededBytes)
        } catch (again) {
          reachedBytes = (again as { reachedBytes?: number }).reachedBytes ?? reachedBytes
          this.noteAllocated(segmentNumber, reachedBytes)
          this.refuseForDiskFull(again, path, neededBytes - reachedBytes)
        }
      } else if (!isDiskFull(error)) {
        this.fail(error)
        throw this.failure!
      }
    }
    this.noteAllocated(segmentNumber, reachedBytes)
    this.setDiskFull(undefined)
  }

  /** Tries to reserve a little more of segment `segmentNumber`; clears the disk-full state if it can. */
  private probeForRoom(segmentNumber: number, fd: number, fileBytes: number): void {
    const probeEndBytes = Math.min(this.options.segmentSizeBytes + syncMarkBytes, fileBytes + probeBytes)
    try {
      if (probeEndBytes > fileBytes) this.noteAllocated(segmentNumber, this.writeZeros(fd, fileBytes, probeEndBytes))
      this.setDiskFull(undefined)
    } catch (error) {
      this.noteAllocated(segmentNumber, (error as { reachedBytes?: number }).reachedBytes ?? fileBytes)
      if (!isDiskFull(error)) {
        this.fail(error)
        throw this.failure!
      }
    }
  }

  private noteAllocated(segmentNumber: number, fileBytes: number): void {
    const prepared = this.prepared.get(segmentNumber)
    if (prepared !== undefined) prepared.fileBytes = Math.max(prepared.fileBytes, fileBytes)
    else this.fileBytes = Math.max(this.fileBytes, fileBytes)
  }

  /**
   * Writes zeros to `fd` from `fromBytes` to `toBytes` and returns `toBytes`. On failure the error
   * carries `reachedBytes`, how far the zeros got.
   */
  private writeZeros(fd: number, fromBytes: number, toBytes: number): number {
    let position = fromBytes
    // Bounded: each pass writes at least one chunk or throws.
    while (position < toBytes) position = this.writeBytes(fd, zeros.subarray(0, Math.min(zeros.length, toBytes - position)), position)
    return toBytes
  }

  /**
   * Writes all of `bytes` at `position` of `fd`, going on after short writes, and returns where
   * they end. On failure the error carries `reachedBytes`, how far the bytes got.
   */
  private writeBytes(fd: number, bytes: Buffer, position: number): number {
    let done = 0
    // Bounded: each pass writes at least one byte or throws.
    while (done < bytes.length) {
      try {
        const written = this.options.fileSystem.writeSync(fd, done === 0 ? bytes : bytes.subarray(done), position + done)
        if (written <= 0) throw new StratumError('IO_ERROR', `a write of ${bytes.length - done} bytes at ${position + done} wrote nothing`)
        done += written
      } catch (error) {
        throw Object.assign(error as object, { reachedBytes: position + done })
      }
    }
    return position + bytes.length
  }

  /** Refuses the write at hand for a full disk, noting the state (reported once per change). */
  private refuseForDiskFull(cause: unknown, path: string, bytesNeeded: number): never {
    const state = this.diskFullState ?? { path, bytesNeeded, since: new Date() }
    this.setDiskFull({ ...state, path, bytesNeeded })
    throw new DiskFullError(path, bytesNeeded, cause)
  }

  private setDiskFull(state: DiskFullState | undefined): void {
    const changed = (state === undefined) !== (this.diskFullState === undefined)
    this.diskFullState = state
    if (changed) this.options.onDiskFull(state)
  }

  /**
   * Creates segment `segmentNumber` under its temporary name, writes its header and reserves
   * `endOffset` bytes of it, so that the tail can move into it: the flush loop syncs it and
   * renames it into place when it gets there (see `rotateTo`). Throws DISK_FULL, leaving nothing
   * behind, when the disk has no room for it. Synchronous, so that `append` knows at once; no
   * sync here (the flush loop does it).
   */
  private prepareSegment(segmentNumber: number, endOffset: number): void {
    assert(!this.prepared.has(segmentNumber), 'a segment is prepared once')
    const { fileSystem, dir } = this.options
    const path = `${segmentPath(dir, segmentNumber)}.tmp`
    const header = encodeSegmentHeader()
    let fd: number
    try {
      fd = fileSystem.openSync(path, 'w+')
    } catch (error) {
      if (isDiskFull(error)) this.refuseForDiskFull(error, path, endOffset + syncMarkBytes)
      this.fail(error)
      throw this.failure!
    }
    this.prepared.set(segmentNumber, { fd, seeds: header.seeds, fileBytes: 0 })
    try {
      this.noteAllocated(segmentNumber, this.writeBytes(fd, header.bytes, 0))
      this.reserve(segmentNumber, endOffset)
    } catch (error) {
      this.prepared.delete(segmentNumber)
      this.discardPrepared(fd, path)
      if (isDiskFull(error) && !(error instanceof DiskFullError)) this.refuseForDiskFull(error, path, endOffset + syncMarkBytes)
      if (!(error instanceof DiskFullError) && this.failure === undefined) this.fail(error)
      throw error instanceof DiskFullError ? error : this.failure!
    }
  }

  /** Closes and removes a prepared segment that will not be used; a leftover is removed on open. */
  private discardPrepared(fd: number, path: string): void {
    const { fileSystem } = this.options
    try {
      fileSystem.closeSync(fd)
      fileSystem.unlinkSync(path)
    } catch {
      // The next open removes `.seg.tmp` files.
    }
  }

  private moveTail(segmentNumber: number): void {
    this.tailSegmentNumber = segmentNumber
    this.tailOffset = segmentHeaderBytes
  }

  /** The open group's chunk for the tail segment, added when the group has none. */
  private tailChunk(): Chunk {
    const chunks = this.open.chunks
    let chunk = chunks[chunks.length - 1]
    if (chunk === undefined || chunk.segmentNumber !== this.tailSegmentNumber) {
      chunk = { segmentNumber: this.tailSegmentNumber, position: this.tailOffset, buffers: [] }
      chunks.push(chunk)
    }
    return chunk
  }

  /** Resolves when everything appended so far is written and synced, whatever the sync mode. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.open.chunks.length === 0 && this.unsyncedBytes === 0 && !this.flushing) return Promise.resolve()
    this.open.forceSync = true
    this.scheduleFlush()
    return this.open.done
  }

  /**
   * Flushes, stops the interval timer, writes a syncMark after the last group, and cuts the
   * zero-filled tail off the active segment.
   */
  async close(): Promise<void> {
    if (this.intervalTimer !== undefined) clearInterval(this.intervalTimer)
    if (this.failure === undefined) {
      await this.flush()
      const marked = this.writeSyncMark()
      if (marked && this.tailSegmentNumber === this.fileSegmentNumber) this.tailOffset = this.fileLogicalBytes
      if (this.fileBytes !== this.fileLogicalBytes) this.options.fileSystem.ftruncateSync(this.fd, this.fileLogicalBytes)
      if (marked || this.fileBytes !== this.fileLogicalBytes) this.options.fileSystem.fsyncSync(this.fd)
      this.fileBytes = this.fileLogicalBytes
    }
    // Only a failed writer can leave a prepared segment unused.
    for (const [segmentNumber, prepared] of this.prepared) this.discardPrepared(prepared.fd, `${segmentPath(this.options.dir, segmentNumber)}.tmp`)
    this.prepared.clear()
  }

  /**
   * Appends a syncMark to the file segment when records follow the last one. REQUIRES: every byte
   * before it is synced. Not synced here: the caller syncs. True when a mark was written.
   */
  private writeSyncMark(): boolean {
    if (this.fileLogicalBytes === this.fileProvenBytes) return false
    assert.equal(this.unsyncedBytes, 0, 'a sync mark follows synced bytes only')
    const groupTag = (this.fileGroupTag + 1) & recordGroupMask
    const mark = encodeSyncMark(this.fileSeeds, groupTag)
    let written: number
    try {
      // Within the space `reserve` kept for it, unless nothing was appended since the open.
      written = this.options.fileSystem.writeSync(this.fd, mark, this.fileLogicalBytes)
    } catch (error) {
      // The mark is a defence against damage, not a need: a full disk only does without it.
      if (isDiskFull(error)) return false
      throw error
    }
    assert.equal(written, mark.length, 'a short write of a sync mark')
    this.fileGroupTag = groupTag
    this.fileLogicalBytes += mark.length
    this.fileProvenBytes = this.fileLogicalBytes
    this.fileBytes = Math.max(this.fileBytes, this.fileLogicalBytes)
    this.options.files.grow(this.fileSegmentNumber, this.fileLogicalBytes)
    return true
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return
    this.flushScheduled = true
    // setImmediate, not a microtask: it lets every write issued in this turn of the event loop
    // (for example the continuations of all the writers the last pass resolved) join the pass.
    setImmediate(() => {
      this.flushScheduled = false
      void this.flushLoop()
    })
  }

  private async flushLoop(): Promise<void> {
    if (this.flushing) return
    this.flushing = true
    try {
      // Bounded by the appends made meanwhile; each pass empties the open group.
      while (!this.open.isEmpty() || this.intervalSyncDue) {
        const group = this.open
        this.open = new Group()
        this.inFlight = group
        try {
          await this.writeGroup(group)
          for (const entry of group.published) entry.publish(entry)
          this.inFlight = undefined
          group.resolve()
        } catch (error) {
          this.fail(error)
          this.inFlight = undefined
          group.reject(this.failure!)
          this.open.reject(this.failure!)
          return
        }
      }
    } finally {
      this.flushing = false
    }
  }

  private async writeGroup(group: Group): Promise<void> {
    const fileSystem = this.options.fileSystem
    for (const chunk of group.chunks) {
      if (chunk.segmentNumber !== this.fileSegmentNumber) await this.rotateTo(chunk.segmentNumber)
      let recordBytes = 0
      for (const buffer of chunk.buffers) recordBytes += buffer.length
      const end = chunk.position + recordBytes
      assert.equal(chunk.position, this.fileLogicalBytes, 'chunks follow each other without gaps')
      const buffers = chunk.buffers
      if (buffers.length === 0) continue // a rotation with no record yet (see `rotate`)
      // One group commit of this segment: every record tagged with it, the last one ending it.
      if (this.syncedSinceTag) {
        this.fileGroupTag = (this.fileGroupTag + 1) & recordGroupMask
        this.syncedSinceTag = false
      }
      for (let index = 0; index < buffers.length; index++) sealRecord(buffers[index]!, this.fileSeeds, this.fileGroupTag, index === buffers.length - 1)
      // `append` reserved these bytes: they overwrite zeros already in the file.
      assert(end + syncMarkBytes <= this.fileBytes, 'records are written over reserved space')
      await this.writeAll(buffers, chunk.position, recordBytes)
      this.unsyncedBytes += recordBytes
      this.fileLogicalBytes = end
      this.options.files.grow(chunk.segmentNumber, end)
    }
    const mustSync = this.options.syncMode === 'always' || group.forceSync || this.intervalSyncDue
    if (mustSync && this.unsyncedBytes > 0) {
      this.intervalSyncDue = false
      await this.syncFile('data')
      this.unsyncedBytes = 0
      this.syncedSinceTag = true
    }
    this.intervalSyncDue = false
    let records = 0
    for (const chunk of group.chunks) records += chunk.buffers.length
    if (records > 0) this.options.observer.onGroupCommit(records)
  }

  /** Syncs `fd`'s file, its data only or with its metadata, counted and timed for the observer. */
  private async syncFile(what: 'data' | 'data and metadata'): Promise<void> {
    const fileSystem = this.options.fileSystem
    const started = performance.now()
    if (what === 'data') await fileSystem.fdatasync(this.fd)
    else await fileSystem.fsync(this.fd)
    this.syncCount++
    this.options.observer.onSync(performance.now() - started)
  }

  /**
   * Writes `buffers` at `position`, going on after a short write. A pass's records go to the page
   * cache in microseconds, less than a round trip through the thread pool costs, and the sync that
   * follows waits for them anyway; only big passes (large blobs) are handed to the thread pool, so
   * as not to stall the event loop.
   */
  private async writeAll(buffers: Buffer[], position: number, totalBytes: number): Promise<void> {
    const fileSystem = this.options.fileSystem
    let done = 0
    let remaining = buffers
    // Bounded: each pass writes at least one byte or throws.
    while (done < totalBytes) {
      const written =
        totalBytes - done <= syncWriteMaxBytes
          ? fileSystem.writevSync(this.fd, remaining, position + done)
          : await fileSystem.writev(this.fd, remaining, position + done)
      if (written <= 0) throw new StratumError('IO_ERROR', `a write of ${totalBytes - done} bytes at ${position + done} wrote nothing`)
      done += written
      remaining = remainingBuffers(buffers, done)
    }
  }

  /** Seals the current segment (synced, whatever the sync mode) and creates the next one. */
  private async rotateTo(segmentNumber: number): Promise<void> {
    assert(segmentNumber > this.fileSegmentNumber, 'segments are created in increasing order')
    const { fileSystem, dir, files } = this.options
    if (this.fileLogicalBytes === segmentHeaderBytes && this.removeEmptySegment()) {
      // No record was written to it (a `rotate` right after another): nothing to seal.
    } else {
      // The mark must follow synced bytes (in `always` mode they are; in the others, sync first).
      if (this.unsyncedBytes > 0) {
        await this.syncFile('data')
        this.unsyncedBytes = 0
      }
      this.writeSyncMark()
      // Cut the zeros before the sync, so that a sealed segment ends at its last record.
      if (this.fileBytes !== this.fileLogicalBytes) fileSystem.ftruncateSync(this.fd, this.fileLogicalBytes)
      await this.syncFile('data and metadata')
      this.options.onSealed(this.fileSegmentNumber, this.fileLogicalBytes)
    }
    // Prepared by `append` or `rotate` (created, header written, space reserved): now synced and
    // renamed into place, and the folder synced, so that it exists whole before records go to it.
    const prepared = this.prepared.get(segmentNumber)
    assert(prepared !== undefined, `segment ${segmentNumber} was prepared before the tail moved to it`)
    const path = segmentPath(dir, segmentNumber)
    await fileSystem.fsync(prepared.fd)
    await fileSystem.rename(`${path}.tmp`, path)
    await syncDirectoryAsync(fileSystem, dir)
    this.prepared.delete(segmentNumber)
    files.add(segmentNumber, segmentHeaderBytes, prepared.fd, { version: segmentFormatVersion, headerBytes: segmentHeaderBytes, seeds: prepared.seeds, headerDamaged: false })
    this.fd = prepared.fd
    this.fileSegmentNumber = segmentNumber
    this.fileBytes = prepared.fileBytes
    this.fileLogicalBytes = segmentHeaderBytes
    this.fileSeeds = prepared.seeds
    this.fileGroupTag = 0
    this.syncedSinceTag = true
    this.fileProvenBytes = segmentHeaderBytes
  }

  /**
   * Removes the file segment, which holds no record, with no folder sync: if a crash brings it
   * back, an empty segment is harmless. False if it could not be removed: it is then sealed.
   */
  private removeEmptySegment(): boolean {
    const { fileSystem, dir, files } = this.options
    try {
      fileSystem.unlinkSync(segmentPath(dir, this.fileSegmentNumber))
    } catch {
      return false
    }
    files.remove(this.fileSegmentNumber)
    this.options.segmentStats.delete(this.fileSegmentNumber)
    this.options.segmentSlots.release(this.fileSegmentNumber)
    return true
  }

  /**
   * Fails the writer for good. An I/O error (or a failure already classified as one) makes every
   * later call UNAVAILABLE; a bug (an assertion, any unexpected exception) makes it INTERNAL, with
   * the error kept as the cause for its stack.
   */
  private fail(error: unknown): void {
    if (this.failure !== undefined) return
    const message = error instanceof Error ? error.message : String(error)
    this.failure =
      failureOf(error).code === 'INTERNAL'
        ? new StratumError('INTERNAL', `the store stopped after an internal error and must be reopened: ${message}`, { cause: error })
        : new StratumError('UNAVAILABLE', `the store failed after an I/O error and must be reopened: ${message}`, { cause: error })
    this.options.onFailed(this.failure)
  }
}

/** The part of `buffers` after their first `skipBytes` bytes (views, no copy). */
function remainingBuffers(buffers: readonly Buffer[], skipBytes: number): Buffer[] {
  const remaining: Buffer[] = []
  let skipped = 0
  for (const buffer of buffers) {
    if (skipped + buffer.length <= skipBytes) {
      skipped += buffer.length
      continue
    }
    remaining.push(skipped >= skipBytes ? buffer : buffer.subarray(skipBytes - skipped))
    skipped += buffer.length
  }
  return remaining
}
