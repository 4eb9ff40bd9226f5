// Entry point of the compaction worker thread (see compaction-worker.ts). The engine is
// TypeScript run by tsx with no build step; a worker thread does not inherit the loader the main
// thread registered, so it registers its own before loading the worker's code.
import { register } from 'tsx/esm/api'

register()
await import('./compaction-worker.ts')
