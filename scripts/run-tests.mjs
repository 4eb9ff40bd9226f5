#!/usr/bin/env node
// Runs every test file (`*.test.ts` under src/ and test/) with node's test runner and tsx.
// Node 20's `--test` does not expand globs itself, hence this script. Extra arguments are passed
// to node, e.g. `npm test -- --test-name-pattern=recovery`.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function findTests(dir) {
  const found = []
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return found
  }
  for (const name of names) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) found.push(...findTests(path))
    else if (name.endsWith('.test.ts')) found.push(path)
  }
  return found
}

const files = [...findTests('src'), ...findTests('test')].sort()
if (files.length === 0) {
  console.error('no test files found under src/ or test/')
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
