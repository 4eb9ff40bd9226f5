/**
 * The published package, as a user gets it (about 15 s; the slowest part is the type-check).
 *
 * It packs the repository's build (dist/, which `npm test` builds first: run `npm run build`
 * before running this file alone), installs the tarball in an empty project, and then, from
 * that project only: imports the engine and the client from plain JavaScript (a store whose
 * compaction runs in the worker thread, and a client talking to the installed `stratum serve`),
 * type-checks a TypeScript file against the declarations, and runs `npx stratum --version`.
 *
 * The install is offline. `npm install --offline <tarball>` cannot work on a machine that only
 * ran `npm ci`, which caches the tarballs of its dependencies but not the registry's metadata
 * needed to resolve the package's version ranges. So the project gets a lockfile: the
 * repository's own entries for the packages the runtime needs (those not marked dev), the exact
 * versions the rest of the tests ran against, and `npm ci --offline` installs them from the
 * cache. Only if the cache lacks one of them (node_modules copied rather than installed) does it
 * fall back to fetching them, with a diagnostic.
 */
import assert from 'node:assert/strict'
import { execFile, type ExecFileException } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { cleanEnv, logLine, repoDir, startCollecting, waitFor } from '../support/stratum-cli.ts'

const run = promisify(execFile)
const packageJson = JSON.parse(fs.readFileSync(path.join(repoDir, 'package.json'), 'utf8')) as {
  name: string
  version: string
}

interface LockEntry {
  dev?: boolean
  [field: string]: unknown
}

/** What `npm pack --json` reports of the tarball. */
interface PackReport {
  filename: string
  size: number
  files: { path: string }[]
}

/** What the tarball may hold: what runs, its declarations, and the package's documents. */
function isShipped(file: string): boolean {
  if (['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/stratum.mjs', 'proto/lse.proto'].includes(file)) return true
  return file.startsWith('dist/') && (file.endsWith('.js') || file.endsWith('.d.ts')) && !file.includes('.test.')
}

/** The plain-JavaScript user: the engine in a folder of its own, then the client against a server. */
const checkScript = `
import assert from 'node:assert/strict'
import { openStore, int64, int64List, isStratumError } from '${packageJson.name}/engine'
import { StratumClient, StratumClientError, StatusCode, string } from '${packageJson.name}/client'

const [storeDir, address] = process.argv.slice(2)

// The engine: writes that leave garbage, a compaction (in the worker thread, since the store
// uses the real file system), reads after it, and a reopen.
const store = await openStore({ dir: storeDir, segmentSizeBytes: 64 * 1024 })
const docId = await store.createProblem('<p>Add two numbers.</p>', { title: 'A+B' })
for (let index = 0; index < 300; index++) {
  const garbage = await store.addTestCase(docId, int64List([index, index]))
  await store.deleteTestCase(docId, garbage)
}
const tcId = await store.addTestCase(docId, int64List([1, 2]))
await store.setExpectedOutput(docId, tcId, int64(3))
const compaction = await store.compactNow()
assert.ok(compaction.segmentsCompacted > 0 && compaction.bytesReclaimed > 0, JSON.stringify(compaction))
assert.deepEqual(await store.getTestCase(docId, tcId), int64List([1, 2]))
await store.close()
const reopened = await openStore({ dir: storeDir })
assert.deepEqual(await reopened.getExpectedOutput(docId, tcId), int64(3))
assert.equal(await reopened.getProblemHtml(docId), '<p>Add two numbers.</p>')
await reopened.close()
const locked = await openStore({ dir: storeDir })
assert.ok(isStratumError(await openStore({ dir: storeDir }).catch((error) => error)), 'a second open is refused')
await locked.close()

// The client, against the installed command's server.
const client = new StratumClient(address)
const problemId = await client.createProblem('<p>Hello.</p>', { title: 'hello' })
const nodeId = await client.addTestCase(problemId, string('input'))
assert.deepEqual(await client.getTestCase(problemId, nodeId), string('input'))
const error = await client.getProblemHtml(problemId + 1000).catch((failure) => failure)
assert.ok(error instanceof StratumClientError && error.code === StatusCode.NOT_FOUND, String(error))
assert.equal((await client.compactNow()).segmentsCompacted >= 0, true)
client.close()

// Only the two entry points are exported.
await assert.rejects(import('${packageJson.name}/dist/engine/store.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
console.log('checked')
`

/** The TypeScript user: compiles only if the declarations give the real types. */
const typedScript = `
import { openStore, int64, type Store, type Value, type StoreStats, StratumError } from '${packageJson.name}/engine'
import { StratumClient, StatusCode, type ServerStats, type CompactionResult } from '${packageJson.name}/client'

const store: Store = await openStore({ dir: './data', syncMode: 'always' })
const value: Value = int64(3)
const docId: number = await store.createProblem('<p></p>', { title: 'x' })
const stats: StoreStats = await store.stats()
// @ts-expect-error: the declarations know a store's methods
store.noSuchMethod()
// @ts-expect-error: and their argument types
await store.getProblemHtml('1')

const client = new StratumClient('localhost:50051')
const serverStats: Promise<ServerStats> = client.getStats()
const compacted: Promise<CompactionResult> = client.compactNow()
const notFound: number = StatusCode.NOT_FOUND
console.log(value, docId, stats, serverStats, compacted, notFound, StratumError)
`

const typedConfig = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    // The package's own declarations are checked too, not only their use.
    skipLibCheck: false,
    types: ['node'],
  },
  files: ['typed.ts'],
}

/**
 * A lockfile for the empty project: the tarball, and the repository's own entries for the
 * packages the runtime needs (those not marked dev), so that `npm ci` resolves nothing.
 */
function consumerLock(tarball: string): object {
  const repoLock = JSON.parse(fs.readFileSync(path.join(repoDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const repoRoot = repoLock.packages['']!
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { [packageJson.name]: tarball } },
    [`node_modules/${packageJson.name}`]: {
      version: packageJson.version,
      resolved: tarball,
      license: repoRoot.license,
      dependencies: repoRoot.dependencies,
      bin: repoRoot.bin,
      engines: repoRoot.engines,
    },
  }
  for (const [where, entry] of Object.entries(repoLock.packages)) {
    if (where.startsWith('node_modules/') && entry.dev !== true) packages[where] = entry
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages }
}

describe('the npm package (slow, ~15 s: packs, installs and type-checks)', { timeout: 120_000 }, () => {
  let workDir = ''
  let projectDir = ''
  let pack: PackReport
  /** Set when the install could not be done from the cache alone. */
  let installNote: string | undefined

  before(async () => {
    assert.ok(fs.existsSync(path.join(repoDir, 'dist', 'cli', 'main.js')), 'dist/ is built (npm run build)')
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-package-'))
    projectDir = path.join(workDir, 'project')
    fs.mkdirSync(projectDir)
    // --ignore-scripts: packing would run `prepare`, whose rebuild of dist/ would pull it from
    // under the tests that run the command at the same time.
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir], { cwd: repoDir, env: cleanEnv(), timeout: 60_000 })
    pack = (JSON.parse(packed.stdout) as PackReport[])[0]!

    const tarball = `file:${path.join(workDir, pack.filename)}`
    const manifest = { name: 'consumer', private: true, type: 'module', dependencies: { [packageJson.name]: tarball } }
    fs.writeFileSync(path.join(projectDir, 'package.json'), JSON.stringify(manifest, null, 2))
    fs.writeFileSync(path.join(projectDir, 'package-lock.json'), JSON.stringify(consumerLock(tarball), null, 2))
    const install = (mode: string) => run('npm', ['ci', mode, '--no-audit', '--no-fund'], { cwd: projectDir, env: cleanEnv(), timeout: 60_000 })
    try {
      await install('--offline')
    } catch (error) {
      const { stdout = '', stderr = '' } = error as ExecFileException & { stdout?: string; stderr?: string }
      if (!`${stdout}${stderr}`.includes('ENOTCACHED')) throw error
      installNote = 'a dependency was not in the npm cache: installed with --prefer-offline'
      await install('--prefer-offline')
    }
  })

  after(() => {
    if (workDir !== '') fs.rmSync(workDir, { recursive: true, force: true })
  })

  it('holds only what runs: the compiled code, its declarations, the command, the contract, the documents', (t) => {
    if (installNote !== undefined) t.diagnostic(installNote)
    const files = pack.files.map((file) => file.path).sort()
    assert.deepEqual(files.filter((file) => !isShipped(file)), [])
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'proto/lse.proto', 'bin/stratum.mjs', 'dist/engine/compaction-worker.js', 'dist/engine/index.d.ts', 'dist/client/index.d.ts']) {
      assert.ok(files.includes(file), file)
    }
  })

  it('runs from plain JavaScript: the engine, its compaction worker, the client and the command', { timeout: 60_000 }, async () => {
    const installed = path.join(projectDir, 'node_modules')
    // Nothing compiles TypeScript at run time: the worker thread included, which has no loader.
    for (const devOnly of ['tsx', 'typescript', 'esbuild']) assert.ok(!fs.existsSync(path.join(installed, devOnly)), `${devOnly} is installed`)
    const server = startCollecting(path.join(installed, '.bin', 'stratum'), ['serve', '--port', '0', '--data-dir', path.join(workDir, 'served')], {
      cwd: projectDir,
      env: cleanEnv(),
    })
    try {
      const listening = await waitFor(() => logLine<{ port: number }>(server.stdout(), 'listening'), 30_000, server.stderr)
      fs.writeFileSync(path.join(projectDir, 'check.mjs'), checkScript)
      const { stdout } = await run(process.execPath, ['check.mjs', path.join(workDir, 'embedded'), `localhost:${listening.port}`], {
        cwd: projectDir,
        env: cleanEnv(),
        timeout: 30_000,
      })
      assert.equal(stdout.trim(), 'checked')
    } finally {
      server.child.kill('SIGTERM')
      assert.equal(await server.exited, 0, server.stderr())
    }
  })

  it('type-checks TypeScript against its declarations', { timeout: 60_000 }, async () => {
    fs.writeFileSync(path.join(projectDir, 'typed.ts'), typedScript)
    fs.writeFileSync(path.join(projectDir, 'tsconfig.json'), JSON.stringify(typedConfig, null, 2))
    // The repository's compiler: the project has none of its own.
    const tsc = path.join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc')
    await run(process.execPath, [tsc, '-p', '.'], { cwd: projectDir, timeout: 60_000 }).catch((error: { stdout?: string }) => {
      assert.fail(`tsc: ${error.stdout ?? String(error)}`)
    })
  })

  it('runs as `npx stratum --version`', async () => {
    const { stdout } = await run('npx', ['--offline', 'stratum', '--version'], { cwd: projectDir, env: cleanEnv(), timeout: 30_000 })
    assert.equal(stdout.trim(), packageJson.version)
  })
})
