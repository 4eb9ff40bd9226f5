/**
 * A server's Prometheus metrics, in a registry of its own (not prom-client's global one), so that
 * servers sharing a process (tests, an embedding application) do not clash: calls by method and
 * status (rpc-metrics.ts), the store (store-metrics.ts), and the Node process.
 *
 * The registry exists before the store is opened: the observer goes into the store's options,
 * and the process metrics can be scraped while a long recovery runs. The store's own metrics are
 * added once it is open.
 */
import type * as grpc from '@grpc/grpc-js'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { Store, StoreObserver } from '../engine/index.ts'
import { rpcMetricsInterceptor } from './rpc-metrics.ts'
import { registerStoreStatsMetrics, storeObserverMetrics } from './store-metrics.ts'

export const metricsPrefix = 'stratum_'

/**
 * Gauges of prom-client's process metrics whose names end in `_total`, which Prometheus keeps for
 * counters (rate() over them would be wrong, and `promtool check metrics` says so). Their
 * per-type gauges stay (`stratum_nodejs_active_handles{type}` and so on): they sum to the same.
 */
const misnamedProcessGauges = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

export class ServerMetrics {
  readonly registry = new Registry()
  /** Goes first in the server's interceptors, so that it sees the statuses of all the others. */
  readonly rpcInterceptor: grpc.ServerInterceptor
  /** Goes into the store's options. */
  readonly storeObserver: StoreObserver

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: metricsPrefix })
    for (const name of misnamedProcessGauges) this.registry.removeSingleMetric(`${metricsPrefix}${name}`)
    this.rpcInterceptor = rpcMetricsInterceptor(this.registry)
    this.storeObserver = storeObserverMetrics(this.registry)
  }

  /** Adds the metrics read from the store's stats, once it is open. */
  watchStore(store: Store): void {
    registerStoreStatsMetrics(this.registry, store)
  }
}
