/**
 * The compaction worker thread: runs compaction jobs (compaction-job.ts) off the event loop, so
 * that reading, checking and writing hundreds of megabytes never blocks the requests being served.
 * It answers each job with a `WorkerReply`: where the records went, or why the job failed.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { compact } from './compaction-job.ts'
import type { CompactionJob, WorkerReply } from './compaction-protocol.ts'
import { failureOf } from './errors.ts'
import { nodeFileSystem } from './file-system.ts'

/**
 * Compaction is background work: on Linux the worker lowers its own thread's CPU priority, so
 * that on a busy machine the event loop, the thread pool's syncs and the kernel come first.
 * (`/proc/thread-self` names this thread; `setPriority` takes a thread id on Linux.) Elsewhere,
 * or if it is refused, the worker runs at the normal priority.
 */
function lowerPriority(): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, workerNiceness)
  } catch {
    // Not Linux, or not allowed: the normal priority.
  }
}

/** The worker thread's niceness: 10, as `nice` gives by default. */
const workerNiceness = 10

const port = parentPort
if (port === null) throw new Error('compaction-worker.ts runs in a worker thread')
lowerPriority()
port.on('message', (job: CompactionJob) => {
  let reply: WorkerReply
  try {
    reply = compact(job, nodeFileSystem, () => port.postMessage({ type: 'writing' } satisfies WorkerReply))
  } catch (error) {
    reply = { type: 'failed', ...failureOf(error) }
  }
  port.postMessage(reply, reply.type === 'done' ? [reply.newSegments.buffer as ArrayBuffer, reply.newOffsets.buffer as ArrayBuffer] : [])
})
