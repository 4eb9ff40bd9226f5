/**
 * A lock that the kernel keeps for this process and drops when the process ends, however it ends:
 * a Linux abstract-namespace unix socket listening on a name.
 *
 * Why a socket: binding a name already bound fails with EADDRINUSE, and the kernel decides that
 * atomically, so of any number of processes binding one name at the same instant exactly one gets
 * it. The name belongs to the open socket, not to a file: when its process exits or is killed, the
 * kernel closes the socket and frees the name before the process is even a zombie. Nothing is left
 * behind that another process would have to judge stale, which is where a lock file alone races.
 * Node has no flock(); this needs nothing but node:net.
 *
 * Scope: abstract names are per network namespace of one host. Processes in other network
 * namespaces (containers sharing a volume) or on other hosts do not see it; the lock file guards
 * against those. Where abstract sockets do not exist (not Linux) or binding is refused for another
 * reason (a sandbox), `take` still succeeds and the lock file alone guards, as it always did.
 *
 * Within one process the lock is shared: a second `take` of a name this process holds succeeds
 * and is counted, and the socket closes when the last holder releases. Telling two opens of one
 * process apart is the lock file's job.
 */
import assert from 'node:assert/strict'
import net from 'node:net'

interface Binding {
  /** The listening socket, or null where the kernel lock is not to be had. */
  server: net.Server | null
  holders: number
  closed: boolean
}

/** This process's bindings by name; a take in progress is there as its promise. */
const bindings = new Map<string, Promise<Binding | 'busy'>>()

function bind(name: string): Promise<Binding | 'busy'> {
  if (process.platform !== 'linux') return Promise.resolve({ server: null, holders: 0, closed: false })
  return new Promise((resolve) => {
    const server = net.createServer()
    // The socket exists only to hold the name: it must not keep the process alive, and nobody
    // has anything to say to it.
    server.unref()
    server.on('connection', (socket) => socket.destroy())
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EADDRINUSE' ? 'busy' : { server: null, holders: 0, closed: false })
    })
    server.listen({ path: `\0${name}` }, () => {
      server.removeAllListeners('error')
      server.on('error', () => undefined) // A failed accept must not end the process.
      resolve({ server, holders: 0, closed: false })
    })
  })
}

export class KernelLock {
  private released = false

  private constructor(
    private readonly name: string,
    private readonly binding: Binding,
  ) {}

  /**
   * Takes the lock `name` (at most 107 bytes), or answers 'busy' while another process holds it.
   * Taking it again in the process that holds it succeeds.
   */
  static async take(name: string): Promise<KernelLock | 'busy'> {
    assert.ok(Buffer.byteLength(name) <= 107, `kernel lock name ${name} is longer than a socket address holds`)
    for (;;) {
      let pending = bindings.get(name)
      if (pending === undefined) {
        const binding = bind(name)
        pending = binding
        bindings.set(name, binding)
        // A refusal is not kept: the next take tries the kernel again. (This runs before the
        // awaits below resume, being registered first.)
        void binding.then((result) => {
          if (result === 'busy' && bindings.get(name) === binding) bindings.delete(name)
        })
      }
      const binding = await pending
      if (binding === 'busy') return 'busy'
      if (binding.closed) continue // Its last holder released it while this take waited.
      binding.holders++
      return new KernelLock(name, binding)
    }
  }

  /** Drops this holder's share; the last one closes the socket, which frees the name at once. */
  release(): void {
    if (this.released) return
    this.released = true
    assert.ok(this.binding.holders > 0 && !this.binding.closed, `kernel lock ${this.name} released more often than taken`)
    this.binding.holders--
    if (this.binding.holders > 0) return
    this.binding.closed = true
    bindings.delete(this.name)
    this.binding.server?.close()
  }
}
