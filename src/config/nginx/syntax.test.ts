import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_DEPTH, parseNginx, walk } from './syntax.ts'
import type { Directive } from './syntax.ts'

/** name + args, and blocks as nested arrays: enough to compare trees at a glance. */
function shape(list: readonly Directive[]): unknown[] {
  return list.map((d) => (d.block === undefined ? [d.name, ...d.args] : [d.name, ...d.args, shape(d.block)]))
}

test('directives, blocks and positions', () => {
  const { directives, problems } = parseNginx('events {}\nhttp {\n  server {\n    listen 8080;\n  }\n}\n', 'a.conf')
  assert.deepEqual(problems, [])
  assert.deepEqual(shape(directives), [['events', []], ['http', [['server', [['listen', '8080']]]]]])
  const listen = directives[1].block?.[0].block?.[0]
  assert.deepEqual([listen?.file, listen?.line, listen?.column], ['a.conf', 4, 5])
})

test('quotes, escapes and comments as nginx reads them', () => {
  const text = String.raw`a "x y" 'it"s' "q\"uote" 'back\\slash' tab\tnl\n other\q;  # comment; not a directive
b "#not a comment" c#d;
e "";`
  const { directives, problems } = parseNginx(text, 'f')
  assert.deepEqual(problems, [])
  assert.deepEqual(shape(directives), [
    ['a', 'x y', 'it"s', 'q"uote', 'back\\slash', 'tab\tnl\n', 'other\\q'],
    ['b', '#not a comment', 'c#d'],
    ['e', ''],
  ])
})

test('variables keep their text, ${name} does not open a block', () => {
  const { directives, problems } = parseNginx('proxy_set_header X "${host}:$server_port";\nreturn 200 ${scheme}://$host;\n', 'f')
  assert.deepEqual(problems, [])
  assert.deepEqual(shape(directives), [['proxy_set_header', 'X', '${host}:$server_port'], ['return', '200', '${scheme}://$host']])
})

test('a brace ends a word; a semicolon inside quotes does not', () => {
  const { directives } = parseNginx('location /x{return 200 "a;b";}', 'f')
  assert.deepEqual(shape(directives), [['location', '/x', [['return', '200', 'a;b']]]])
})

test('an unterminated quote is reported at the line where it opens', () => {
  const { problems } = parseNginx('events {}\nhttp {\n  return 200 "oops;\n}\n', 'f')
  assert.equal(problems.length, 2)
  assert.equal(problems[0].line, 3)
  assert.match(problems[0].message, /unterminated double quote.*line 3/)
  assert.match(problems[1].message, /"http" block opened on line 2 is never closed/)
})

test('unterminated blocks and directives, stray braces and semicolons', () => {
  assert.deepEqual(parseNginx('http {\n  server {\n', 'f').problems.map((p) => [p.line, p.message]), [
    [2, 'unexpected end of file: the "server" block opened on line 2 is never closed; add "}"'],
    [1, 'unexpected end of file: the "http" block opened on line 1 is never closed; add "}"'],
  ])
  assert.deepEqual(parseNginx('events {}\nworker_processes 2', 'f').problems.map((p) => p.line), [2])
  assert.match(parseNginx('}\nevents {}', 'f').problems[0].message, /unexpected "}"/)
  assert.match(parseNginx('events {};', 'f').problems[0].message, /unexpected ";"/)
  assert.match(parseNginx('{ a; }', 'f').problems[0].message, /needs a directive name/)
  assert.match(parseNginx('a "b"c;', 'f').problems[0].message, /after a quoted word/)
  assert.match(parseNginx('http { listen 80 }', 'f').problems[0].message, /"listen" on line 1 is not finished/)
})

test('200,000 directives parse in linear time', () => {
  const lines = ['events {}', 'http {', '  upstream big {']
  for (let i = 0; i < 200_000; i++) lines.push(`    server 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80 weight=2;`)
  lines.push('  }', '}')
  const started = performance.now()
  const { directives, problems } = parseNginx(lines.join('\n'), 'big.conf')
  const ms = performance.now() - started
  assert.deepEqual(problems, [])
  assert.equal(directives[1].block?.[0].block?.length, 200_000)
  // Generous: about 100 ms on a laptop; a quadratic parser would take minutes.
  assert.ok(ms < 5_000, `took ${ms} ms`)
})

test('deep nesting is cut off with one problem, not a stack overflow', () => {
  const depth = 100_000
  const { directives, problems } = parseNginx('location / {'.repeat(depth) + '}'.repeat(depth), 'deep.conf')
  assert.equal(problems.length, 1)
  assert.match(problems[0].message, new RegExp(`more than ${MAX_DEPTH} deep`))
  let count = 0
  for (const _ of walk(directives)) count++
  assert.equal(count, MAX_DEPTH)
})

test('walk visits every directive in file order with its parents', () => {
  const { directives } = parseNginx('a; b { c { d; } e; } f;', 'f')
  assert.deepEqual([...walk(directives)].map(({ directive, parents }) => `${parents.map((p) => p.name).join('/')}:${directive.name}`),
    [':a', ':b', 'b:c', 'b/c:d', 'b:e', ':f'])
})
