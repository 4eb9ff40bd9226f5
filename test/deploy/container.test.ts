/**
 * The container, without a Docker engine: the Dockerfile passes its linter, the compose file is
 * valid for docker-compose, and the image's exact entrypoint (ENTRYPOINT plus compose's command)
 * and health check, read from those files, are run on the host against the compiled build the
 * image holds, with a temporary folder for /data: health, a write, SIGTERM (exit 0), a restart,
 * and the write read back.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { StratumClient } from '../../src/client/index.ts'
import { makeTempDir } from '../support/fixture.ts'
import { cleanEnv, logLine, repoDir, waitFor } from '../support/stratum-cli.ts'

const run = promisify(execFile)
const dockerfile = fs.readFileSync(path.join(repoDir, 'Dockerfile'), 'utf8')
const compose = fs.readFileSync(path.join(repoDir, 'docker-compose.yml'), 'utf8')
const dataDir = makeTempDir('container-data')
after(() => fs.rmSync(dataDir, { recursive: true, force: true }))

/** The JSON array of the (last) `INSTRUCTION [...]` of the Dockerfile, continuation lines joined. */
function execForm(instruction: string): string[] {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ')
  const lines = joined.split('\n').filter((line) => line.startsWith(`${instruction} `))
  const json = /(\[.*\])\s*$/.exec(lines.at(-1) ?? '')?.[1]
  assert.ok(json !== undefined, `the Dockerfile has ${instruction} in exec form`)
  return JSON.parse(json) as string[]
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** The image's command line on the host: /data is the temporary folder; the port comes from LSE_PORT. */
function containerArgs(): string[] {
  const command = /^\s+command: (\[.*\])\s*$/m.exec(compose)?.[1]
  assert.ok(command !== undefined, 'docker-compose.yml gives the command as a JSON array')
  const args = [...execForm('ENTRYPOINT'), ...(JSON.parse(command) as string[])]
  assert.deepEqual(args.slice(0, 6), ['node', 'bin/stratum.mjs', 'serve', '--host', '0.0.0.0', '--data-dir'])
  return args.map((arg) => (arg === '/data' ? dataDir : arg))
}

async function startContainer(port: number): Promise<{ exited: Promise<number | null>; stdout: () => string; kill: () => void }> {
  const [command, ...args] = containerArgs()
  const child = spawn(command === 'node' ? process.execPath : command!, args, { cwd: repoDir, env: { ...cleanEnv(), LSE_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += String(chunk)))
  child.stderr.on('data', (chunk) => (stderr += String(chunk)))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await waitFor(() => logLine(stdout, 'listening'), 30_000, () => stderr)
  return { exited, stdout: () => stdout, kill: () => child.kill('SIGTERM') }
}

async function healthCheck(port: number): Promise<{ code: number; stdout: string }> {
  const [command, ...args] = execForm('HEALTHCHECK')
  const onPort = args.map((arg) => arg.replace(/^127\.0\.0\.1:50051$/, `127.0.0.1:${port}`))
  try {
    const { stdout } = await run(command === 'node' ? process.execPath : command!, onPort, { cwd: repoDir, env: cleanEnv() })
    return { code: 0, stdout }
  } catch (error) {
    return { code: (error as { code: number }).code, stdout: (error as { stdout: string }).stdout }
  }
}

describe('the container', () => {
  it('has a Dockerfile its linter accepts and a compose file docker-compose accepts', async () => {
    await run('node', ['scripts/lint-dockerfile.mjs'], { cwd: repoDir })
    await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: repoDir })
    for (const needed of [/^VOLUME \/data$/m, /^EXPOSE 50051$/m, /^STOPSIGNAL SIGTERM$/m, /^USER node$/m, /^FROM .* AS build$/m]) assert.match(dockerfile, needed)
    assert.match(compose, /^\s+- stratum-data:\/data$/m)
  })

  it('runs its entrypoint: healthy, a write, SIGTERM, a restart, and the write read back', { timeout: 120_000 }, async () => {
    const port = await freePort()
    let container = await startContainer(port)
    let docId: number
    try {
      assert.deepEqual(await healthCheck(port), { code: 0, stdout: 'SERVING\n' })
      const client = new StratumClient(`127.0.0.1:${port}`)
      try {
        docId = await client.createProblem('<p>kept in the volume</p>', { source: 'container' })
      } finally {
        client.close()
      }
    } finally {
      container.kill()
    }
    assert.equal(await container.exited, 0, container.stdout())
    assert.notEqual((await healthCheck(port)).code, 0, 'unhealthy once stopped')

    container = await startContainer(port)
    try {
      const client = new StratumClient(`127.0.0.1:${port}`)
      try {
        assert.equal(await client.getProblemHtml(docId), '<p>kept in the volume</p>')
        assert.deepEqual(await client.getProblemMeta(docId), { source: 'container' })
      } finally {
        client.close()
      }
    } finally {
      container.kill()
    }
    assert.equal(await container.exited, 0, container.stdout())
  })
})
