/**
 * The child process of SmallCallProber (small-call-prober.ts): calls GetStats on the server at
 * argv[2] every argv[3] ms while probing, without waiting for the previous call, and records each
 * call's latency. Messages from the parent: 'start' (forget what was recorded and probe), 'report'
 * (stop probing, wait for the calls in flight, and send what was recorded), 'exit'.
 *
 * It runs in a process of its own so that it goes on sending while the server's event loop is
 * busy: its latencies are what another client of the server would see.
 */
import { StratumClient } from '../../src/client/index.ts'

export interface ProbeReport {
  latenciesMs: number[]
  failures: string[]
}

const [address, periodText] = process.argv.slice(2)
const client = new StratumClient(address!, { defaultDeadlineMs: 60_000 })
const periodMs = Number(periodText)
let report: ProbeReport = { latenciesMs: [], failures: [] }
let inFlight = new Set<Promise<void>>()
let timer: NodeJS.Timeout | undefined

function probe(): void {
  const started = performance.now()
  const call: Promise<void> = client.getStats().then(
    () => void report.latenciesMs.push(performance.now() - started),
    (error: unknown) => void report.failures.push((error as Error).message),
  )
  inFlight.add(call)
  void call.finally(() => inFlight.delete(call))
}

process.on('message', (message: string) => {
  if (message === 'start') {
    report = { latenciesMs: [], failures: [] }
    inFlight = new Set()
    probe()
    timer = setInterval(probe, periodMs)
  } else if (message === 'report') {
    clearInterval(timer)
    void Promise.all(inFlight).then(() => process.send!(report))
  } else if (message === 'exit') {
    clearInterval(timer)
    client.close()
    process.disconnect()
  }
})

await client.waitForReady(30_000)
process.send!('ready')
