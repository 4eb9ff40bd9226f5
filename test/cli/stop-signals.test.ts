/**
 * A stop signal at any moment of the server's life stops it gracefully, never kills it: from the
 * moment it logs `listening` (a supervisor's first SIGTERM) to the moment it exits (npm's copy of
 * a Ctrl-C, which on a busy machine can arrive after the shutdown is over).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { makeTempDir } from '../support/fixture.ts'
import { cleanEnv, logLine, startCollecting, stratumBin, waitFor } from '../support/stratum-cli.ts'

const runs = 5

describe('stop signals', () => {
  it(`stop the server gracefully when they keep coming, from its first logged line to its exit (${runs} runs)`, { timeout: 120_000 }, async () => {
    for (let run = 0; run < runs; run++) {
      const dataDir = makeTempDir('stop-signals')
      try {
        const serve = startCollecting(process.execPath, [stratumBin, 'serve', '--port', '0', '--data-dir', dataDir], { env: cleanEnv() })
        const signalled = new Promise<NodeJS.Signals | null>((resolve) => serve.child.on('exit', (_code, signal) => resolve(signal)))
        await waitFor(() => logLine(serve.stdout(), 'listening'), 30_000, serve.stderr)
        // One SIGINT a millisecond until the process is gone: some land in every phase of the
        // shutdown and of the exit.
        const barrage = setInterval(() => serve.child.kill('SIGINT'), 1)
        const code = await serve.exited
        clearInterval(barrage)
        assert.equal(await signalled, null, `run ${run}: killed by a signal; ${serve.stdout()}`)
        assert.equal(code, 0, serve.stderr())
        assert.ok(logLine(serve.stdout(), 'stopped') !== undefined, serve.stdout())
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    }
  })
})
