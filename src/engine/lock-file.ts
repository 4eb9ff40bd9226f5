/**
 * The lock that keeps a second process from opening the same store.
 *
 * Two parts, taken in this order:
 *
 * 1. A kernel lock (kernel-lock.ts): an abstract unix socket named after the folder's device and
 *    inode. The kernel grants it to exactly one process at a time and drops it when that process
 *    dies, so it needs no staleness test and has no takeover race. Every open on this host and
 *    network namespace takes it first; whoever holds it is alone in looking at `LOCK`.
 * 2. `LOCK`, one line of JSON: the holder's pid, its start time as the kernel counts it
 *    (/proc/PID/stat field 22, so that a reused pid is not mistaken for the holder), and its host
 *    name. It is created with O_EXCL. It names the holder in LOCKED errors, tells apart two opens
 *    in one process (which share the kernel lock), and guards against processes the kernel lock
 *    does not reach: other hosts, other network namespaces, and platforms without abstract sockets.
 *
 * A `LOCK` whose holder is not running (no such pid, another start time, or a zombie: killed but
 * not yet reaped by its parent) is stale, as is a torn one, and is taken over: removed and created
 * anew. Under the kernel lock that is atomic with respect to every other process of this host and
 * namespace, since none of them can be between reading `LOCK` and replacing it at the same time.
 * An open that finds the kernel lock held reads `LOCK` to name the holder.
 *
 * Why not the alternatives: Node has no flock() or fcntl() locks; the npm packages that offer them
 * compile native code at install (fs-ext) or decide staleness by timestamps (proper-lockfile). A
 * compare-and-swap takeover from link() and rename() cannot check that the file it replaces is
 * still the stale one (there is no "rename if the target is this inode"), so it needs a second
 * marker file, which can go stale in its turn.
 *
 * Remaining limits: between processes the kernel lock does not reach (other hosts sharing a
 * network file system, other network namespaces, a Stratum older than the kernel lock), `LOCK`
 * alone guards, and two of them that find the same stale lock at the same instant can both take it
 * over, as before. Abstract sockets have no permissions: any local process of the namespace that
 * binds the name keeps the store from opening (LOCKED names the socket, `ss -xlp` its process).
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { isDiskFull, LockedError } from './errors.ts'
import { syncDirectory, type FileSystem } from './file-system.ts'
import { KernelLock } from './kernel-lock.ts'

export const lockFileName = 'LOCK'

/** What LOCK holds. */
interface LockRecord {
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

function isRunning(fileSystem: FileSystem, holder: LockRecord): boolean {
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

/** What LOCK says: its holder, 'torn' when that cannot be read (a crash while it was written), or 'missing'. */
function readHolder(fileSystem: FileSystem, path: string): LockRecord | 'torn' | 'missing' {
  let text: string
  try {
    text = fileSystem.readFileSync(path).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
  try {
    const holder = JSON.parse(text) as Partial<LockRecord> | null
    const valid =
      typeof holder === 'object' &&
      holder !== null &&
      Number.isSafeInteger(holder.pid) &&
      (holder.pid ?? 0) > 0 &&
      typeof holder.host === 'string' &&
      (holder.startTime === null || typeof holder.startTime === 'string')
    return valid ? (holder as LockRecord) : 'torn'
  } catch {
    return 'torn'
  }
}

/**
 * Linux counts a process's start time (/proc/PID/stat field 22) in clock ticks since boot, of
 * USER_HZ: 100 on every architecture Node runs on.
 */
const clockTicksPerSecond = 100

/** The wall-clock time of a start time of this host, or undefined where /proc cannot tell. */
function startDate(fileSystem: FileSystem, startTime: string): Date | undefined {
  try {
    const bootTime = /^btime (\d+)$/m.exec(fileSystem.readFileSync('/proc/stat').toString('latin1'))?.[1]
    const ticks = Number(startTime)
    return bootTime === undefined || !Number.isSafeInteger(ticks) ? undefined : new Date((Number(bootTime) + ticks / clockTicksPerSecond) * 1000)
  } catch {
    return undefined
  }
}

function heldBy(fileSystem: FileSystem, dir: string, path: string, holder: LockRecord): LockedError {
  const startedAt = holder.startTime !== null && holder.host === hostname() ? startDate(fileSystem, holder.startTime) : undefined
  return new LockedError(`${dir} is in use by process ${holder.pid} on ${holder.host} (lock file ${path}); stop it first`, {
    pid: holder.pid,
    host: holder.host,
    startedAt,
  })
}

/**
 * How often, and how long apart, an open that finds the kernel lock held but no live holder in
 * LOCK looks again: the holder may be between binding its socket and writing LOCK, or between
 * removing LOCK and closing its socket. Both take a few file operations; 2 s in all is plenty.
 */
const busyAttempts = 100
const busyRetryMs = 20

/**
 * The folders (by kernel lock name) this process has open now. A LOCK naming this process for a
 * folder not in it was left behind by a release that failed (its removal did): stale, not a
 * second open.
 */
const openHere = new Map<string, number>()

/**
 * Throws LOCKED, naming the holder, when the LOCK file of `dir` names a live process other than
 * this one: a holder in another network namespace or on another host, which the kernel lock does
 * not see. For readers that change nothing and take no LOCK of their own (verify.ts).
 */
export function refuseLiveHolder(fileSystem: FileSystem, dir: string): void {
  const path = join(dir, lockFileName)
  const holder = readHolder(fileSystem, path)
  if (typeof holder === 'object' && holder.pid !== process.pid && isRunning(fileSystem, holder)) throw heldBy(fileSystem, dir, path, holder)
}

/** The name of the kernel lock of the store folder `dir`: after its device and inode, so that every path to it finds the same. */
export function storeLockName(fileSystem: FileSystem, dir: string): string {
  const { device, inode } = fileSystem.identitySync(dir)
  return `stratum-lock:${device}:${inode}`
}

export class LockFile {
  private constructor(
    private readonly fileSystem: FileSystem,
    readonly path: string,
    private readonly kernelLock: KernelLock,
    private readonly kernelLockName: string,
    /**
     * A LOCK was there, stale or torn: the last process to open the store did not close it (it
     * crashed, was killed, or lost power). A close removes LOCK after its last sync.
     */
    readonly tookOverStale: boolean,
  ) {}

  /**
   * Takes the lock of `dir`, taking over a stale one.
   * Throws LOCKED, naming the holder, while another live process holds it.
   */
  static async acquire(fileSystem: FileSystem, dir: string): Promise<LockFile> {
    const path = join(dir, lockFileName)
    const kernelLockName = storeLockName(fileSystem, dir)
    for (let attempt = 1; ; attempt++) {
      const kernelLock = await KernelLock.take(kernelLockName)
      if (kernelLock !== 'busy') {
        let tookOverStale: boolean
        try {
          tookOverStale = takeLockFile(fileSystem, dir, path, (openHere.get(kernelLockName) ?? 0) > 0)
        } catch (error) {
          kernelLock.release()
          throw error
        }
        openHere.set(kernelLockName, (openHere.get(kernelLockName) ?? 0) + 1)
        return new LockFile(fileSystem, path, kernelLock, kernelLockName, tookOverStale)
      }
      // Another process of this host holds the folder, or is taking or dropping it right now.
      const holder = readHolder(fileSystem, path)
      if (typeof holder === 'object' && holder.pid !== process.pid && isRunning(fileSystem, holder)) {
        throw heldBy(fileSystem, dir, path, holder)
      }
      if (attempt >= busyAttempts) {
        throw new LockedError(
          `${dir} is in use by another process: it holds the folder's socket @${kernelLockName}, but lock file ${path} ` +
            'names no live holder (was it deleted by hand?); stop that process first (ss -xlp shows it)',
          undefined,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, busyRetryMs))
    }
  }

  release(): void {
    const opens = (openHere.get(this.kernelLockName) ?? 1) - 1
    if (opens > 0) openHere.set(this.kernelLockName, opens)
    else openHere.delete(this.kernelLockName)
    try {
      this.fileSystem.unlinkSync(this.path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    } finally {
      // After the file: a process that then takes the socket finds no LOCK naming this one.
      this.kernelLock.release()
    }
  }
}

/**
 * Creates LOCK naming this process, taking over a stale one. The caller holds the kernel lock, so
 * no other process of this host and network namespace is in here at the same time: removing a
 * stale LOCK and creating ours cannot interleave with another takeover of theirs.
 */
function takeLockFile(fileSystem: FileSystem, dir: string, path: string, openInThisProcess: boolean): boolean {
  let tookOver = false
  const me: LockRecord = { pid: process.pid, startTime: processStat(fileSystem, process.pid)?.startTime ?? null, host: hostname() }
  const content = Buffer.from(`${JSON.stringify(me)}\n`)
  // Two tries: the second follows the removal of a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number
    try {
      fd = fileSystem.openSync(path, 'wx')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = readHolder(fileSystem, path)
      if (typeof holder === 'object') {
        const mine = holder.pid === process.pid && holder.host === me.host
        if (mine && openInThisProcess) {
          throw new LockedError(`${dir} is already open in this process (pid ${process.pid})`, { pid: process.pid, host: me.host, startedAt: undefined })
        }
        if (!mine && isRunning(fileSystem, holder)) throw heldBy(fileSystem, dir, path, holder)
      }
      // Stale or torn (its writer crashed while writing it): remove it. 'missing' means a process
      // the kernel lock does not see (another namespace) removed it first.
      tookOver = true
      try {
        fileSystem.unlinkSync(path)
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError
      }
      continue
    }
    let failure: unknown
    try {
      fileSystem.writeSync(fd, content, 0)
      fileSystem.fsyncSync(fd)
    } catch (error) {
      // On a full disk the lock is held all the same (the file exists, and the kernel lock is
      // taken); it only cannot name its holder, so others see it as a torn lock.
      if (!isDiskFull(error)) failure = error
    }
    try {
      fileSystem.closeSync(fd)
    } catch (error) {
      failure ??= error
    }
    if (failure !== undefined) {
      // Not taken after all: leave no LOCK behind that would keep this process from trying again.
      try {
        fileSystem.unlinkSync(path)
      } catch {
        // The next open finds it torn or naming this process, and takes it over.
      }
      throw failure
    }
    // Its entry in the folder too: after a power cut, LOCK must still say the store was open.
    try {
      syncDirectory(fileSystem, dir)
    } catch (error) {
      if (!isDiskFull(error)) throw error
    }
    return tookOver
  }
  throw new LockedError(`${dir}: another process took the lock ${path} while it was being taken over`, undefined)
}
