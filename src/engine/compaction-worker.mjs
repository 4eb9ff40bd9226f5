// Entry point of the compaction worker thread when the engine runs from its TypeScript sources
// under tsx (the tests; compactor.ts chooses it). A worker thread does not inherit the loader the
// main thread registered, so it registers its own before loading the worker's code. The compiled
// package starts compaction-worker.js instead and needs no loader.
import { register } from 'tsx/esm/api'

register()
await import('./compaction-worker.ts')
