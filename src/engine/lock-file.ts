/**
 * The lock file that keeps a second process from opening the same store.
 *
 * `LOCK` holds one line of JSON: the holder's pid, its start time as the kernel counts it
 * (/proc/PID/stat field 22, so that a reused pid is not mistaken for the holder), and its host
 * name. The file is created with O_EXCL. A lock whose holder is no longer running is stale (the
 * holder was killed) and is taken over.
 *
 * Known limit: two processes that find the same stale lock at the same instant can both take it
 * over. Opening one store from two processes at once after a crash is the only way to hit it.
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { StratumError } from './errors.ts'
import type { FileSystem } from './file-system.ts'

export const lockFileName = 'LOCK'

interface LockHolder {
  pid: number
  startTime: string | null
  host: string
}

/** Fields 3 (state) and 22 (start time) of /proc/PID/stat, or null where /proc is not there. */
function processStat(fileSystem: FileSystem, pid: number): { state: string; startTime: string } | null {
  try {
    const stat = fileSystem.readFileSync(`/proc/${pid}/stat`).toString('latin1')
    // The command name (field 2) is in parentheses and may hold spaces; count after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    const startTime = fields[19]
    return state === undefined || startTime === undefined ? null : { state, startTime }
  } catch {
    return null
  }
}

/**
 * A killed process stays in the process table as a zombie (`Z`, then `X` while it is reaped)
 * until its parent waits for it, and `kill(pid, 0)` succeeds on it all that time. It has closed
 * its files and will run no more code, so its lock is stale.
 */
const deadStates: ReadonlySet<string> = new Set(['Z', 'X'])

function isRunning(fileSystem: FileSystem, holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true // Another machine's process: assume it is alive.
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    // EPERM: the process exists but belongs to another user; /proc tells the rest.
  }
  const stat = processStat(fileSystem, holder.pid)
  // Where /proc is mounted, a pid without an entry has exited since kill(); without /proc,
  // kill(pid, 0) is all there is to go by.
  if (stat === null) return !fileSystem.existsSync('/proc/self/stat')
  if (deadStates.has(stat.state)) return false
  return holder.startTime === null || stat.startTime === holder.startTime
}

export class LockFile {
  private constructor(
    private readonly fileSystem: FileSystem,
    readonly path: string,
  ) {}

  /**
   * Takes the lock of `dir`, taking over a stale one.
   * Throws LOCKED, naming the holder, while another live process holds it.
   */
  static acquire(fileSystem: FileSystem, dir: string): LockFile {
    const path = join(dir, lockFileName)
    const me: LockHolder = { pid: process.pid, startTime: processStat(fileSystem, process.pid)?.startTime ?? null, host: hostname() }
    const content = Buffer.from(`${JSON.stringify(me)}\n`)
    // Two tries: the second follows the removal of a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number
      try {
        fd = fileSystem.openSync(path, 'wx')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const existing = fileSystem.readFileSync(path).toString('utf8')
        let holder: LockHolder | undefined
        try {
          holder = JSON.parse(existing) as LockHolder
        } catch {
          holder = undefined // A lock torn by a crash while it was written: its writer is gone.
        }
        if (holder !== undefined && holder.pid === process.pid && holder.host === me.host) {
          throw new StratumError('LOCKED', `${dir} is already open in this process (pid ${process.pid})`)
        }
        if (holder !== undefined && isRunning(fileSystem, holder)) {
          throw new StratumError(
            'LOCKED',
            `${dir} is in use by process ${holder.pid} on ${holder.host} (lock file ${path}); stop it first`,
          )
        }
        fileSystem.unlinkSync(path)
        continue
      }
      try {
        fileSystem.writeSync(fd, content, 0)
        fileSystem.fsyncSync(fd)
      } finally {
        fileSystem.closeSync(fd)
      }
      return new LockFile(fileSystem, path)
    }
    throw new StratumError('LOCKED', `${dir}: another process took the lock ${path} while it was being taken over`)
  }

  release(): void {
    try {
      this.fileSystem.unlinkSync(this.path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}
