/**
 * Test helpers: a file system whose data syncs can be held, to look at the store while writes are
 * in flight, and a bound on how long a promise may take to settle.
 */
import assert from 'node:assert/strict'
import { nodeFileSystem, type FileSystem } from '../file-system.ts'

/** `promise`, or a failure naming `what` if it has not settled within `seconds` (rather than hang). */
export async function withinSeconds<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${seconds} s: it waits for a sync`)), seconds * 1000)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A file system whose `fdatasync` calls wait while held, until released one by one or all. */
export function gatedFileSystem() {
  const waiting: Array<() => void> = []
  const waiters: Array<() => void> = []
  let held = false
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    fdatasync: async (fd) => {
      if (held) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve)
          for (const wake of waiters.splice(0)) wake()
        })
      }
      return nodeFileSystem.fdatasync(fd)
    },
  }
  return {
    fileSystem,
    hold(): void {
      held = true
    },
    releaseOne(): void {
      waiting.shift()?.()
    },
    releaseAll(): void {
      held = false
      for (const release of waiting.splice(0)) release()
    },
    /** Resolves once `count` writes are held; fails after 5 s rather than hang. */
    async whenWaiting(count: number): Promise<void> {
      const deadline = Date.now() + 5_000
      while (waiting.length < count) {
        assert.ok(Date.now() < deadline, `${count} held writes awaited, ${waiting.length} held after 5 s`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 50)
        })
      }
    },
  }
}
