/**
 * The differential corpus (test/nginx-corpus/): every configuration under real nginx and under Fulcrum, the
 * same requests to both, and no difference the corpus does not expect with a reason the README gives.
 * Skipped when nginx is not installed, except in CI, where .ci/run installs it.
 */
import assert from 'node:assert/strict'
import { accessSync, constants, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { readNginxTree } from '../../src/config/nginx/include.ts'
import { parseNginx } from '../../src/config/nginx/syntax.ts'
import { readCorpus } from '../../scripts/nginx-diff/case.ts'
import { compareRequest, compareStickiness, type Observed } from '../../scripts/nginx-diff/compare.ts'
import { plan, print, quote } from '../../scripts/nginx-diff/conf.ts'
import { describe } from '../../scripts/nginx-diff/report.ts'
import { runAll } from '../../scripts/nginx-diff/run-case.ts'
import { NGINX } from '../../scripts/nginx-diff/servers.ts'
import { ROOT, spawnNode } from '../helpers/process.ts'

const CORPUS = join(ROOT, 'test/nginx-corpus')

function nginxMissing(): string | false {
  try {
    accessSync(NGINX, constants.X_OK)
    return false
  } catch {
    return process.env.CI === 'true' ? false : `nginx is not installed at ${NGINX} (.ci/run installs it; CI=true fails instead)`
  }
}

/** The README's nginx section, whitespace collapsed: where every expected difference must be explained. */
function readmeSection(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('## Bring your nginx.conf')
  const end = readme.indexOf('\n## ', start + 1)
  return readme.slice(start, end < 0 ? undefined : end).replace(/\s+/g, ' ')
}

test('printed configurations read back as the same words', () => {
  for (const word of ['plain', '$host', '${host}_x', '~*', '\\.(gif|jpg)$', 'a b', '', 'say "hi"', "it's", 'back\\slash', 'semi;colon', '{brace}', '#hash']) {
    const parsed = parseNginx(`x ${quote(word)};`, 't.conf')
    assert.deepEqual(parsed.problems, [], word)
    assert.deepEqual(parsed.directives[0].args, [word], word)
  }
  const tree = readNginxTree(join(CORPUS, 'locations.conf')).directives
  const p = plan(tree)
  const ports = { listen: new Map([[8080, { nginx: 40001, fulcrum: 40002 }]]), backend: new Map<string, number>() }
  const printed = print(tree, 'fulcrum', ports, p.upstreams, { dir: '/tmp/x', mainFile: join(CORPUS, 'locations.conf'), nginxPrefix: '/usr/share/nginx' })
  const again = parseNginx(printed.text, 'printed.conf')
  assert.deepEqual(again.problems, [])
  const strip = (list: typeof tree): unknown => list.map((d) => [d.name, d.name === 'listen' ? [] : d.args, d.block && strip(d.block)])
  const listen = (list: typeof tree): string[] => list.flatMap((d) => (d.name === 'listen' ? d.args : listen(d.block ?? [])))
  assert.deepEqual(strip(again.directives), strip(tree))
  assert.deepEqual(listen(again.directives), ['40002'])
})

test('hashed groups: any server of the group will do, but the same request must stick to one', () => {
  const p = plan(parseNginx('http { upstream h { hash $request_uri consistent; server a:80; server b:80; } }', 't.conf').directives)
  const served = (...backends: string[]): Observed[] => backends.map((backend) => ({
    response: { status: 200, rawHeaders: [], body: `backend ${backend}\n` },
    attempts: [{ backend, method: 'GET', url: '/x', rawHeaders: ['Host', 'h'], body: '' }],
  }))
  const [nginx, fulcrum, unsticky] = [served('a:80', 'a:80'), served('b:80', 'b:80'), served('b:80', 'a:80')]
  assert.deepEqual(compareRequest(1, 'GET /x', nginx[0], fulcrum[0], p), [])
  assert.deepEqual(compareStickiness(['k', 'k'], nginx, fulcrum, p), [])
  const [d] = compareStickiness(['k', 'k'], nginx, unsticky, p)
  assert.equal(`${d.field}: ${d.text}`, 'stickiness: nginx always a:80, fulcrum b:80, a:80')
})

test('the nginx corpus: nginx and Fulcrum agree, or the README explains why not', { skip: nginxMissing(), timeout: 60_000 }, async () => {
  const cases = readCorpus(CORPUS)
  for (const seed of ['000-seed-round-robin', '001-seed-passive-health', '002-seed-momo']) assert.ok(cases.some((c) => c.name === seed), `${seed} is in the corpus`)
  const readme = readmeSection()
  for (const c of cases) {
    for (const e of c.expectDifferences ?? []) {
      assert.ok(readme.includes(e.reason.replace(/\s+/g, ' ')), `${c.name}: the reason "${e.reason}" is not in the README's "Bring your nginx.conf" section`)
    }
  }
  const results = await runAll(cases, 4)
  const problems = results.flatMap((r) => [
    ...r.unexplained.map((d) => `${r.name}: ${describe(d)}`),
    ...r.stale.map((e) => `${r.name}: expected /${e.match}/ did not happen; if it was fixed, remove it from the case and the README`),
  ])
  assert.deepEqual(problems, [])
  assert.equal(results.find((r) => r.name === '002-seed-momo')?.outcome, 'both refused')
})

test('npm run nginx-diff -- FILE.conf: a user file with made-up requests', { skip: nginxMissing(), timeout: 20_000 }, async (t) => {
  const child = spawnNode(t, [join(ROOT, 'scripts/nginx-diff.ts'), join(CORPUS, 'server-names.conf')], 'nginx-diff server-names.conf')
  const exit = await child.waitForExit(15_000)
  assert.equal(exit.code, 0, child.output)
  // GET / for each name a Host can carry: example.org, www.example.org (also *.example.org's), mail.com (mail.*),
  // _, example.com (.example.com), and localhost for the servers with a regex or an empty name.
  assert.match(child.stdout, /^server-names\.conf\s+6\s+served\s+none$/m)
  assert.match(child.stdout, /1 case, 0 unexplained differences/)
})

test('npm run nginx-diff: a usage error exits 2', async (t) => {
  const child = spawnNode(t, [join(ROOT, 'scripts/nginx-diff.ts'), '--jobs', 'none'], 'nginx-diff --jobs none')
  const exit = await child.waitForExit(10_000)
  assert.equal(exit.code, 2, child.output)
  assert.match(child.stderr, /--jobs wants a whole number/)
})
