/**
 * Bearer tokens and their roles, read from a token file.
 *
 * The file holds one token a line, as its SHA-256 digest, never the token itself:
 *
 *   # role  digest                                                                   name
 *   write   sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  judge-workers
 *
 * (`stratum token new --role write --name judge-workers` makes a token and its line.) Blank lines
 * and lines starting with `#` are skipped. A call's token is hashed and compared with every digest
 * in constant time, so neither the token nor which digest it is near shows in the timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs'
import { roles, type Role } from './method-roles.ts'

export interface TokenEntry {
  role: Role
  digest: Buffer
  /** A name for logs and operators; never the token. */
  name: string
}

/** A token file that cannot be used: its message names the file, the line and what is wrong. */
export class TokenFileError extends Error {}

const digestPrefix = 'sha256:'

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** A new random token (256 bits, base64url) and the line of the token file that admits it. */
export function newToken(role: Role, name: string): { token: string; line: string } {
  if (/\s/.test(name)) throw new TokenFileError(`a token name has no spaces; got "${name}"`)
  const token = randomBytes(32).toString('base64url')
  return { token, line: `${role} ${digestPrefix}${tokenDigest(token).toString('hex')}${name === '' ? '' : ` ${name}`}` }
}

export function parseTokenFile(text: string, file: string): TokenEntry[] {
  const entries: TokenEntry[] = []
  const lines = text.split('\n')
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const where = `${file}, line ${index + 1}`
    const [role, digest, name = '', ...rest] = line.split(/\s+/)
    if (!(roles as readonly string[]).includes(role!)) throw new TokenFileError(`${where}: the role must be one of ${roles.join(', ')}; got "${role}"`)
    if (digest === undefined || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new TokenFileError(`${where}: expected "sha256:" and 64 lowercase hex digits (the token's SHA-256), after the role`)
    }
    if (rest.length > 0) throw new TokenFileError(`${where}: expected "role digest [name]"; the name has no spaces`)
    entries.push({ role: role as Role, digest: Buffer.from(digest.slice(digestPrefix.length), 'hex'), name })
  }
  if (entries.length === 0) throw new TokenFileError(`${file} holds no token: every call would be refused`)
  return entries
}

export function readTokenFile(file: string): TokenEntry[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new TokenFileError(`cannot read the token file ${file}: ${(error as Error).message}`, { cause: error })
  }
  return parseTokenFile(text, file)
}

/** The entry of `token`, compared with every entry in constant time; undefined when none. */
export function findToken(entries: readonly TokenEntry[], token: string): TokenEntry | undefined {
  const digest = tokenDigest(token)
  let found: TokenEntry | undefined
  for (const entry of entries) {
    if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry
  }
  return found
}
