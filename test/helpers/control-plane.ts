/**
 * Starts a ControlPlane in this process (data plane in-process, real health checker, state in a temp
 * dataDir) from a YAML text written to a temp file, and stops it after the test.
 */
import type { TestContext } from 'node:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, formatProblem } from '../../src/config/load.ts'
import { ControlPlane } from '../../src/control/control-plane.ts'
import { InProcessDataPlane } from '../../src/control/data-plane.ts'
import { ActiveHealthChecker } from '../../src/health/active.ts'
import { silentLogger } from '../../src/log.ts'
import { FileStateStore } from '../../src/state/file-store.ts'

export interface RunningControlPlane {
  readonly cp: ControlPlane
  readonly dir: string
  readonly file: string
  url(listener?: string): Promise<string>
  /** Replace the config file's text (then call cp.reload()). */
  write(yaml: string): void
}

export async function startControlPlane(t: TestContext, yaml: string, dir = mkdtempSync(join(tmpdir(), 'fulcrum-cp-'))): Promise<RunningControlPlane> {
  const file = join(dir, 'fulcrum.yaml')
  writeFileSync(file, yaml)
  const loaded = await loadConfig(file)
  if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'))
  const log = silentLogger()
  const cp = new ControlPlane({
    configFile: file,
    config: loaded.config,
    log,
    dataPlane: new InProcessDataPlane(log),
    store: new FileStateStore(loaded.config.dataDir),
    checker: (onResult) => new ActiveHealthChecker(onResult),
  })
  await cp.start()
  t.after(() => cp.stop(500))
  return {
    cp, dir, file,
    url: async (listener?: string) => {
      const ports = await cp.dataPlane.ports()
      return `http://127.0.0.1:${listener === undefined ? Object.values(ports)[0] : ports[listener]}`
    },
    write: (text: string) => writeFileSync(file, text),
  }
}
