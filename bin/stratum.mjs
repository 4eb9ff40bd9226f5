#!/usr/bin/env node
// The `stratum` command (see src/cli/main.ts).
//
// The project is TypeScript run by tsx, with no build step, so that `npm ci && npm start` needs
// nothing more; tsx is therefore a runtime dependency. tsx is registered in this process, rather
// than spawning `node --import tsx`, so that there is one process: signals reach the server
// directly and the exit code needs no forwarding.
import { register } from 'tsx/esm/api'

register()
const { runCli } = await import('../src/cli/main.ts')
process.exitCode = await runCli(process.argv.slice(2))
