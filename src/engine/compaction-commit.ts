/**
 * The commit file of a compaction: the one write that makes a compaction happen. See
 * docs/format.md#compaction.
 *
 *   commit := magic: "STRATCMT" (8 bytes), formatVersion: u32 (1), inputCount: u32,
 *             outputCount: u32, input: u64[inputCount], output: u64[outputCount], crc: u32
 *
 * A compaction writes its segments (and their hints) under temporary names and syncs them; then
 * it writes this file (temporary name, sync, rename, folder sync). From then on the compaction
 * is decided: the outputs are renamed into place and the inputs removed, and if the process dies
 * on the way, the next open finishes the job from this file before it reads any segment. Without
 * the file, a compaction never happened: its temporary files are removed and the inputs are
 * untouched. Removing the inputs all together, never some of them, is what keeps a deleted record
 * from coming back: a tombstone dropped from one input may delete a record in another.
 */
import { join } from 'node:path'
import { crc32c } from './crc32c.ts'
import { CorruptionError, StratumError } from './errors.ts'
import { syncDirectoryAsync, type FileSystem } from './file-system.ts'
import { hintFileName } from './hint-file.ts'
import { readUint53, writeUint53 } from './record.ts'
import { segmentFileName } from './segment-file.ts'

export const commitFileName = 'compaction.commit'
const commitMagic = Buffer.from('STRATCMT', 'latin1')
const commitFormatVersion = 1
const commitHeaderBytes = 20

export interface CompactionCommit {
  /** Segments merged: removed once the commit is done. */
  inputs: number[]
  /** Segments written in their place, under `N.seg.tmp` (and `N.hint.tmp`) until renamed. */
  outputs: number[]
}

export function encodeCommit(commit: CompactionCommit): Buffer {
  const count = commit.inputs.length + commit.outputs.length
  const bytes = Buffer.alloc(commitHeaderBytes + count * 8 + 4)
  commitMagic.copy(bytes, 0)
  bytes.writeUInt32LE(commitFormatVersion, 8)
  bytes.writeUInt32LE(commit.inputs.length, 12)
  bytes.writeUInt32LE(commit.outputs.length, 16)
  let offset = commitHeaderBytes
  for (const segmentNumber of [...commit.inputs, ...commit.outputs]) {
    writeUint53(bytes, offset, segmentNumber)
    offset += 8
  }
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, offset)), offset)
  return bytes
}

/** Decodes a commit file; a damaged or foreign one is refused, naming the file. */
export function decodeCommit(bytes: Buffer, path: string): CompactionCommit {
  if (bytes.length < commitHeaderBytes + 4 || crc32c(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) {
    throw new CorruptionError(
      `${path} is damaged: a compaction was committed but which segments it replaced is unreadable; ` +
        'restore the folder from a backup',
    )
  }
  if (!bytes.subarray(0, 8).equals(commitMagic) || bytes.readUInt32LE(8) !== commitFormatVersion) {
    throw new StratumError('UNSUPPORTED_FORMAT', `${path} is not a compaction commit file this version of Stratum reads`)
  }
  const inputCount = bytes.readUInt32LE(12)
  const outputCount = bytes.readUInt32LE(16)
  if (commitHeaderBytes + (inputCount + outputCount) * 8 + 4 !== bytes.length) {
    throw new CorruptionError(`${path} is damaged: its counts do not match its length`)
  }
  const numbers: number[] = []
  for (let index = 0; index < inputCount + outputCount; index++) numbers.push(readUint53(bytes, commitHeaderBytes + index * 8))
  return { inputs: numbers.slice(0, inputCount), outputs: numbers.slice(inputCount) }
}

/**
 * Writes the commit file under its temporary name and syncs it. Failing here, the compaction is
 * not committed (the caller removes the temporary file); `publishCommitFile` commits it.
 */
export async function prepareCommitFile(fileSystem: FileSystem, dir: string, commit: CompactionCommit): Promise<void> {
  const fd = fileSystem.openSync(join(dir, `${commitFileName}.tmp`), 'w')
  try {
    await fileSystem.writev(fd, [encodeCommit(commit)], 0)
    await fileSystem.fsync(fd)
  } finally {
    fileSystem.closeSync(fd)
  }
}

/** Renames the prepared commit file into place and syncs the folder: the compaction is decided. */
export async function publishCommitFile(fileSystem: FileSystem, dir: string): Promise<void> {
  const path = join(dir, commitFileName)
  await fileSystem.rename(`${path}.tmp`, path)
  await syncDirectoryAsync(fileSystem, dir)
}

/** Renames a committed compaction's outputs into place (those not renamed yet), then syncs the folder. */
export async function installOutputs(fileSystem: FileSystem, dir: string, commit: CompactionCommit): Promise<void> {
  for (const segmentNumber of commit.outputs) {
    const segment = join(dir, segmentFileName(segmentNumber))
    if (fileSystem.existsSync(`${segment}.tmp`)) await fileSystem.rename(`${segment}.tmp`, segment)
    else if (!fileSystem.existsSync(segment)) {
      throw new CorruptionError(
        `${join(dir, commitFileName)} names segment ${segmentNumber}, written by a compaction, but neither it nor its ` +
          'temporary file exists; the folder was changed outside Stratum',
      )
    }
    const hint = join(dir, hintFileName(segmentNumber))
    if (fileSystem.existsSync(`${hint}.tmp`)) await fileSystem.rename(`${hint}.tmp`, hint)
  }
  await syncDirectoryAsync(fileSystem, dir)
}

/** Removes a committed compaction's inputs and then the commit file itself. */
export async function removeInputs(fileSystem: FileSystem, dir: string, commit: CompactionCommit): Promise<void> {
  for (const segmentNumber of commit.inputs) await removeSegmentFiles(fileSystem, dir, segmentNumber)
  await syncDirectoryAsync(fileSystem, dir)
  await removeCommitFile(fileSystem, dir)
}

/** Removes one input segment and its hint, if they are still there. */
export async function removeSegmentFiles(fileSystem: FileSystem, dir: string, segmentNumber: number): Promise<void> {
  // The hint first: a hint without its segment is an orphan, a segment without a hint is not.
  for (const name of [hintFileName(segmentNumber), segmentFileName(segmentNumber)]) {
    const path = join(dir, name)
    if (fileSystem.existsSync(path)) await fileSystem.unlink(path)
  }
}

/** Removes the commit file once its compaction is finished, and syncs the folder. */
export async function removeCommitFile(fileSystem: FileSystem, dir: string): Promise<void> {
  await fileSystem.unlink(join(dir, commitFileName))
  await syncDirectoryAsync(fileSystem, dir)
}
