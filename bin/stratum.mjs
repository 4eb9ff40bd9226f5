#!/usr/bin/env node
// The `stratum` command (see src/cli/main.ts), run from the compiled JavaScript in dist/. In a
// checkout, dist/ is written by `npm run build`, which `npm ci` runs (the `prepare` script) and
// `npm test` runs first. The command runs in this one process, rather than in a child, so that
// signals reach the server directly and the exit code needs no forwarding.
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('stratum: dist/ has not been built; run `npm run build` (npm ci does) and try again\n')
  process.exit(1)
}
const { runCli } = await import(main.href)
// Exits at once rather than letting the event loop drain: while Node tears down a draining
// process it restores the default action of SIGINT and SIGTERM, and a late stop signal (npm's
// copy of a Ctrl-C) would then kill a server that had stopped gracefully. stdout and stderr are
// written synchronously (files and pipes on Linux; the logger is synchronous), so nothing is lost.
process.exit(await runCli(process.argv.slice(2)))
