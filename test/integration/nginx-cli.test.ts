/**
 * The real CLI with nginx files: `start` serves one, a SIGHUP with a broken file is rejected with the
 * same `FILE:LINE: message` that `validate` prints (the old configuration keeps serving), a good one
 * applies; `--format nginx` reads a file without the .conf name; `convert` prints the equivalent YAML,
 * which `validate` accepts as it is.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { parse } from 'yaml'
import { Backend } from '../helpers/backend.ts'
import { freePort, runFulcrum, spawnFulcrum, tempDir, waitForHttp } from '../helpers/process.ts'

// nginx files have no place for the admin API; its default port (9090) would make parallel tests collide.
process.env.FULCRUM_ADMIN_LISTEN = 'off'

function nginxConf(port: number, targets: string[], extra = ''): string {
  return `events {}
http {
    upstream app {
${targets.map((t) => `        server ${t};`).join('\n')}
    }
    server {
        listen 127.0.0.1:${port};
        location / {
${extra}            proxy_pass http://app;
        }
    }
}
`
}

async function body(url: string): Promise<string> {
  const res = await request(url)
  return res.body.text()
}

test('start serves an nginx file; a broken one is rejected on SIGHUP with its line, a good one applies', async (t) => {
  const [a, b] = [await new Backend().start(), await new Backend().start()]
  t.after(() => Promise.all([a.close(), b.close()]))
  const port = await freePort()
  const { write } = tempDir(t)
  const file = write('nginx.conf', nginxConf(port, [a.address]))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  const url = `http://127.0.0.1:${port}/`
  await waitForHttp(url, 8_000, lb)
  assert.equal(await body(url), `Response from ${a.port}`)

  write('nginx.conf', nginxConf(port, [a.address], '            proxy_pass app;\n'))
  const validated = (await runFulcrum(t, ['validate', '-c', file])).stderr.split('\n')
  assert.match(validated[1], /nginx\.conf:10: "proxy_pass" is duplicate \(first on line 9\)/)
  const expected = validated[0]
  assert.match(expected, /nginx\.conf:9: proxy_pass needs a scheme: write http:\/\/app/)
  lb.signal('SIGHUP')
  await lb.waitForOutput('reload rejected')
  assert.ok(lb.stdout.includes(JSON.stringify(expected).slice(1, -1)), `the log carries validate's message\n${lb.output}`)
  assert.equal(await body(url), `Response from ${a.port}`, 'the old configuration keeps serving')

  write('nginx.conf', nginxConf(port, [b.address]))
  lb.signal('SIGHUP')
  await lb.waitForOutput('configuration reloaded')
  assert.equal(await body(url), `Response from ${b.port}`)
})

test('--format nginx reads any file name as nginx; convert prints YAML that validates as it is', async (t) => {
  const { write } = tempDir(t)
  const file = write('site', nginxConf(8080, ['127.0.0.1:8081', '127.0.0.1:8082']))
  const refused = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /unknown file type ""/)

  const valid = await runFulcrum(t, ['validate', '-c', file, '--format', 'nginx'])
  assert.equal(valid.code, 0, valid.stderr)
  assert.match(valid.stdout, /configuration is valid \(1 listener, 1 target group\)/)

  const converted = await runFulcrum(t, ['convert', '-c', file, '--format', 'nginx'])
  assert.equal(converted.code, 0, converted.stderr)
  const yaml = parse(converted.stdout) as { listeners: { listen: string; forwardedHeaders: boolean }[]; targetGroups: Record<string, { timeouts: { connect: string } }> }
  assert.equal(yaml.listeners[0].listen, '127.0.0.1:8080')
  assert.equal(yaml.listeners[0].forwardedHeaders, false)
  assert.equal(yaml.targetGroups.app.timeouts.connect, '60s')
  const again = await runFulcrum(t, ['validate', '-c', write('converted.yaml', converted.stdout)])
  assert.equal(again.code, 0, again.stderr)

  const bad = await runFulcrum(t, ['convert', '-c', file, '--format', 'xml'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--format must be one of nginx, yaml, json, ts/)
})

test('convert refuses a broken file with its problems and prints nothing on stdout', async (t) => {
  const { write } = tempDir(t)
  const file = write('nginx.conf', 'events {}\nhttp {\n    server {\n        listen 8080;\n        location / { proxy_pass momo; }\n    }\n}\n')
  const result = await runFulcrum(t, ['convert', '-c', file])
  assert.equal(result.code, 1)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /nginx\.conf:5: proxy_pass needs a scheme: write http:\/\/momo/)
})
