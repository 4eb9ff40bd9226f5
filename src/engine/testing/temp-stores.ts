/**
 * Test helpers: stores in temporary folders, closed and removed when the test file ends.
 *
 *   const { tempDir, open, close } = tempStores('stratum-batch-test-', { syncMode: 'always' })
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { openStore, type Store } from '../store.ts'
import type { StoreOptions } from '../store-options.ts'

export interface TempStores {
  /** A new empty folder, removed at the end. */
  tempDir(): string
  /** Opens a store (in a new folder unless `dir` is given) with the defaults, then `options`. */
  open(options?: Partial<StoreOptions> & { dir?: string }): Promise<Store>
  /** Closes a store opened by `open`, which then need not be closed at the end. */
  close(store: Store): Promise<void>
  /** Forgets a store closed some other way. */
  forget(store: Store): void
}

export function tempStores(prefix: string, defaults: Partial<StoreOptions>): TempStores {
  const createdDirs: string[] = []
  const openStores = new Set<Store>()
  after(async () => {
    for (const store of openStores) await store.close().catch(() => undefined)
    for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true })
  })
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    createdDirs.push(dir)
    return dir
  }
  return {
    tempDir,
    async open(options = {}) {
      const store = await openStore({ ...defaults, ...options, dir: options.dir ?? tempDir() })
      openStores.add(store)
      return store
    },
    async close(store) {
      await store.close()
      openStores.delete(store)
    },
    forget(store) {
      openStores.delete(store)
    },
  }
}
