#!/usr/bin/env node
// `npm run test:python`: runs the Python client's tests (clients/python/tests) with
// `python3 -m unittest`. The tests start their own servers (`node bin/stratum.mjs serve --port 0`
// on 127.0.0.1, with a temporary folder) so that they can restart them; this script only finds a
// Python that has gRPC and protobuf, and tells the tests which node and checkout to use.
//
// The first `python3` on PATH may be one without grpc (a pyenv build, say), while Debian's
// /usr/bin/python3 has it from apt (python3-grpcio, python3-protobuf); LSE_PYTHON, when set, is
// tried first. Extra arguments go to unittest, e.g. `npm run test:python -- -k restart`.
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const clientDir = path.join(repoDir, 'clients', 'python')
const candidates = [process.env.LSE_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean)

function findPython() {
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import grpc, google.protobuf; print(grpc.__version__, google.protobuf.__version__)'], {
      encoding: 'utf8',
    })
    if (probe.status === 0) return { python: candidate, versions: probe.stdout.trim().split(' ') }
  }
  return undefined
}

const found = findPython()
if (found === undefined) {
  console.error(
    `test:python: no Python that can import grpc and google.protobuf (tried ${candidates.join(', ')}).\n` +
      'Install them with: apt-get install -y python3-grpcio python3-protobuf (or set LSE_PYTHON to a python that has them).',
  )
  process.exit(1)
}
const [grpcVersion, protobufVersion] = found.versions
console.log(`test:python: ${found.python} with grpcio ${grpcVersion}, protobuf ${protobufVersion}`)

const child = spawn(found.python, ['-m', 'unittest', 'discover', '-v', '-s', 'tests', '-t', '.', ...process.argv.slice(2)], {
  cwd: clientDir,
  stdio: ['ignore', 'inherit', 'pipe'],
  env: {
    ...process.env,
    PYTHONPATH: [clientDir, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
    PYTHONDONTWRITEBYTECODE: '1',
    LSE_REPO_DIR: repoDir,
    LSE_NODE: process.execPath,
  },
})
// unittest reports on stderr; it is passed through as it comes and read for the closing line.
let report = ''
child.stderr.on('data', (chunk) => {
  process.stderr.write(chunk)
  report += chunk.toString('utf8')
})
child.on('close', (code, signal) => {
  const ran = Number(/^Ran (\d+) tests? in /m.exec(report)?.[1] ?? 0)
  const counts = /^FAILED \((.*)\)$/m.exec(report)?.[1] ?? ''
  const count = (name) => Number(new RegExp(`${name}=(\\d+)`).exec(counts)?.[1] ?? 0)
  const failed = count('failures') + count('errors') + count('unexpected successes')
  const skipped = count('skipped')
  console.log(`python: ${ran - failed - skipped} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  if (ran === 0) console.error('test:python: no test ran')
  process.exit(code === 0 && ran > 0 ? 0 : code || 1)
})
