/**
 * The store's metrics. Its sizes and counters are read from `store.stats()` when scraped (one
 * call a scrape, shared by every metric, so that they agree with each other); its syncs and group
 * commits are observed as they happen (StoreObserver), which gives their distributions.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Store, StoreObserver, StoreStats } from '../engine/index.ts'

/** fdatasync takes tens of microseconds on a battery-backed cache, tens of milliseconds on a disk. */
const fsyncDurationBucketsSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
/** Records a group commit carries: one for a lone writer, about as many as there are concurrent writers. */
const groupCommitRecordBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]

interface StatsMetric {
  name: string
  help: string
  /** A counter only goes up while the store is open; a gauge goes both ways. */
  type: 'counter' | 'gauge'
  read: (stats: StoreStats) => number
}

const msToSeconds = (ms: number): number => ms / 1000

export const statsMetrics: readonly StatsMetric[] = [
  { name: 'stratum_documents', type: 'gauge', help: 'Documents (problems) in the index', read: (s) => s.documents },
  { name: 'stratum_input_nodes', type: 'gauge', help: 'Input nodes (test cases) in the index', read: (s) => s.inputNodes },
  { name: 'stratum_output_nodes', type: 'gauge', help: 'Output nodes (expected outputs) in the index', read: (s) => s.outputNodes },
  { name: 'stratum_segments', type: 'gauge', help: 'Segment files, the active one included', read: (s) => s.segmentCount },
  { name: 'stratum_disk_bytes', type: 'gauge', help: 'Bytes of the segment files up to their last record', read: (s) => s.diskBytes },
  { name: 'stratum_live_bytes', type: 'gauge', help: 'Bytes of the records the index points to', read: (s) => s.liveBytes },
  {
    name: 'stratum_dead_bytes',
    type: 'gauge',
    help: 'Bytes compaction can reclaim: superseded records, tombstones, file headers',
    read: (s) => s.deadBytes,
  },
  { name: 'stratum_index_bytes', type: 'gauge', help: 'Bytes of the in-memory index table', read: (s) => s.indexBytes },
  { name: 'stratum_cache_bytes', type: 'gauge', help: 'Bytes of segment blocks held in the read cache', read: (s) => s.cacheBytes },
  { name: 'stratum_cache_hits_total', type: 'counter', help: 'Block reads served from the read cache', read: (s) => s.cacheHits },
  { name: 'stratum_cache_misses_total', type: 'counter', help: 'Block reads that went to the segment files', read: (s) => s.cacheMisses },
  { name: 'stratum_fsyncs_total', type: 'counter', help: 'fdatasync and fsync calls made on segment files', read: (s) => s.syncCount },
  { name: 'stratum_compaction_runs_total', type: 'counter', help: 'Compactions finished (not those that found nothing to merge)', read: (s) => s.compaction.runs },
  {
    name: 'stratum_compaction_reclaimed_bytes_total',
    type: 'counter',
    help: 'Bytes of segment files compactions removed, less what they wrote',
    read: (s) => s.compaction.bytesReclaimed,
  },
  { name: 'stratum_compaction_failures_total', type: 'counter', help: 'Compactions that failed', read: (s) => s.compaction.failures },
  { name: 'stratum_compaction_running', type: 'gauge', help: '1 while a compaction runs, else 0', read: (s) => (s.compaction.running ? 1 : 0) },
  {
    name: 'stratum_compaction_last_duration_seconds',
    type: 'gauge',
    help: 'Wall time of the last finished compaction (0 before the first)',
    read: (s) => msToSeconds(s.compaction.last?.durationMs ?? 0),
  },
  {
    name: 'stratum_last_recovery_duration_seconds',
    type: 'gauge',
    help: 'Time opening the store took to recover its index from the segment files',
    read: (s) => msToSeconds(s.lastRecovery.durationMs),
  },
]

/** The observer to open the store with: it feeds the sync and group-commit histograms. */
export function storeObserverMetrics(registry: Registry): StoreObserver {
  const fsyncDurations = new Histogram({
    name: 'stratum_fsync_duration_seconds',
    help: 'Time each fdatasync or fsync of a segment file took',
    buckets: fsyncDurationBucketsSeconds,
    registers: [registry],
  })
  const groupCommitRecords = new Histogram({
    name: 'stratum_group_commit_records',
    help: 'Records written by each group commit (one write, and one fdatasync with sync mode always)',
    buckets: groupCommitRecordBuckets,
    registers: [registry],
  })
  return {
    onSync: (durationMs) => fsyncDurations.observe(msToSeconds(durationMs)),
    onGroupCommit: (records) => groupCommitRecords.observe(records),
  }
}

/** Registers the metrics read from `store.stats()`. */
export function registerStoreStatsMetrics(registry: Registry, store: Store): void {
  const stats = sharedStats(store)
  for (const metric of statsMetrics) {
    const common = { name: metric.name, help: metric.help, registers: [registry] }
    if (metric.type === 'gauge') {
      new Gauge({
        ...common,
        async collect() {
          this.set(metric.read(await stats()))
        },
      })
    } else {
      new Counter({
        ...common,
        // The store keeps the count; the counter is set to it (a counter has no `set`).
        async collect() {
          const value = metric.read(await stats())
          this.reset()
          this.inc(value)
        },
      })
    }
  }
}

/**
 * `store.stats()` shared by the calls made while one is pending: a scrape collects every metric in
 * the same turn of the event loop, so it reads the stats once, and the next scrape reads them anew.
 */
function sharedStats(store: Store): () => Promise<StoreStats> {
  let pending: Promise<StoreStats> | undefined
  return () => {
    pending ??= store.stats().finally(() => {
      pending = undefined
    })
    return pending
  }
}
