#!/usr/bin/env node
// Launcher: Fulcrum is TypeScript run by Node's type stripping, which needs Node >= 23.6. When an older
// node runs this file (e.g. the machine's own), re-run it with the Node 24 pinned in node_modules.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major > 23 || (major === 23 && minor >= 6)) {
  await import('../src/cli/main.ts')
} else {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(pinned)) {
    console.error(`fulcrum needs Node.js 24 (this is ${process.version}); run "npm install" in the fulcrum folder first`)
    process.exit(1)
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)))
}
