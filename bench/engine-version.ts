/**
 * Identifies the engine code a benchmark ran against: the git commit, whether src/engine had
 * uncommitted changes, and a digest of the engine's source files, so that printed figures can be
 * tied to the code that produced them.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export function engineVersion(repoDir: string): string {
  const engineDir = path.join(repoDir, 'src', 'engine')
  const digest = createHash('sha256')
  for (const name of fs.readdirSync(engineDir).filter((file) => file.endsWith('.ts')).sort()) {
    digest.update(name).update('\0').update(fs.readFileSync(path.join(engineDir, name))).update('\0')
  }
  let commit = 'unknown commit'
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src/engine'], { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    commit = `commit ${head}${dirty === '' ? '' : ' + uncommitted changes in src/engine'}`
  } catch {
    // Not a git checkout: the digest alone identifies the code.
  }
  return `engine: ${commit}, source digest ${digest.digest('hex').slice(0, 12)}`
}
