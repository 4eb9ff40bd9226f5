#!/usr/bin/env node
// Lints the Dockerfile (or the files given) with dockerfile-utils, the validator behind the
// Dockerfile language server: every problem it reports, error or warning, fails the lint.
import fs from 'node:fs'
import { validate, ValidationSeverity } from 'dockerfile-utils'

const files = process.argv.length > 2 ? process.argv.slice(2) : ['Dockerfile']
let problems = 0
for (const file of files) {
  for (const diagnostic of validate(fs.readFileSync(file, 'utf8'))) {
    problems++
    const severity = diagnostic.severity === ValidationSeverity.ERROR ? 'error' : 'warning'
    console.error(`${file}:${diagnostic.range.start.line + 1}:${diagnostic.range.start.character + 1}: ${severity}: ${diagnostic.message}`)
  }
}
process.exit(problems === 0 ? 0 : 1)
