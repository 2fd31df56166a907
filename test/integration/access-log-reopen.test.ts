/**
 * logrotate with the real `fulcrum start`: rename the access log, send SIGUSR1, and new lines go to a new
 * file at the original path; with two workers, the primary passes the signal on and both workers' lines
 * move, whole, with none lost.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { freePort, spawnFulcrum, tempDir, until, waitForHttp, type Child } from '../helpers/process.ts'

/** The file's lines, without those of the start-up probe (a GET /). */
function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !/ \/( |$)/.test(l)) : []
}

async function start(t: TestContext, format: string, workers: number): Promise<{ lb: Child; url: string; file: string }> {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const port = await freePort()
  const { dir, write } = tempDir(t)
  // The admin API (fixed default port) is off so tests can run in parallel.
  const file = write('fulcrum.yaml', `admin: { enabled: false }
workers: ${workers}
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:${port}
    accessLog: { format: ${JSON.stringify(format)}, path: logs/access.log }
    routes: [ { forward: app } ]
targetGroups:
  app:
    targets: [${backend.address}]
`)
  const lb = spawnFulcrum(t, ['start', '-c', file])
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(url, 10_000, lb)
  return { lb, url, file: join(dir, 'logs/access.log') }
}

/** One request on its own connection (so that with workers the kernel may pick either). */
async function get(url: string): Promise<void> {
  const res = await request(url, { reset: true })
  await res.body.dump()
  assert.equal(res.statusCode, 200)
}

test('SIGUSR1 reopens the access log: after a rename, new lines go to a new file at the original path', async (t) => {
  const { lb, url, file } = await start(t, 'combined', 1)
  for (let i = 0; i < 3; i++) await get(`${url}/before-${i}`)
  await until(() => lines(file).filter((l) => l.includes('/before-')).length === 3, 5_000, 'the first lines')
  renameSync(file, `${file}.1`)
  lb.signal('SIGUSR1')
  await lb.waitForOutput('SIGUSR1: reopening access logs')
  await until(async () => { await get(`${url}/after`); return lines(file).length > 0 }, 5_000, 'a new file at the original path')
  const rotated = lines(`${file}.1`)
  const fresh = lines(file)
  assert.ok(rotated.length === 3 && rotated.every((l, i) => l.includes(`"GET /before-${i} HTTP/1.1" 200`)), rotated.join('\n'))
  assert.ok(fresh.every((l) => l.includes('"GET /after HTTP/1.1" 200')), fresh.join('\n'))
  assert.ok(lb.running)
  assert.doesNotMatch(lb.stdout, /"level":50/, 'no error logged')
})

test('with two workers, the primary passes SIGUSR1 on: both reopen, and no line is lost or torn', async (t) => {
  const { lb, url, file } = await start(t, '$pid $request_uri', 2)
  const pids = (ls: string[]): Set<string> => new Set(ls.map((l) => l.split(' ')[0]))
  let sent = 0
  // Requests until both workers have written (each connection goes to one of them).
  await until(async () => { await get(`${url}/before-${sent++}`); return pids(lines(file)).size === 2 }, 10_000, 'both workers to log')
  await until(() => lines(file).length === sent, 5_000, 'every line before the rename')
  renameSync(file, `${file}.1`)
  lb.signal('SIGUSR1')
  await lb.waitForOutput('SIGUSR1: reopening access logs')
  let after = 0
  await until(async () => { await get(`${url}/after-${after++}`); return pids(lines(file)).size === 2 }, 10_000, 'both workers to write the new file')
  await until(() => lines(file).length + lines(`${file}.1`).length === sent + after, 5_000, 'every line')
  const all = [...lines(`${file}.1`), ...lines(file)]
  assert.ok(all.every((l) => /^\d+ \/(before|after)-\d+$/.test(l)), 'whole lines only')
  assert.equal(new Set(all.map((l) => l.split(' ')[1])).size, sent + after, 'each request once')
  assert.ok(lines(file).every((l) => l.includes('/after-')), 'the new file has only lines from after the rename')
})
