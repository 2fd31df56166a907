import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { readNginxTree } from './include.ts'
import type { Directive } from './syntax.ts'

function folder(t: TestContext, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-nginx-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

function names(list: readonly Directive[]): string[] {
  return list.flatMap((d) => [`${d.name}${d.args.length > 0 ? ` ${d.args.join(' ')}` : ''}`, ...names(d.block ?? []).map((n) => `  ${n}`)])
}

test('include splices files in place, globs sorted; a file nginx would not find is taken from beside the including file', (t) => {
  const dir = folder(t, {
    'nginx.conf': 'events {}\nhttp {\n  include conf.d/*.conf;\n  include mime.types;\n}\n',
    'mime.types': 'types { text/html html; }\n',
    'conf.d/b.conf': 'server { listen 81; include ../snippets/proxy.conf; }\n',
    'conf.d/a.conf': 'server { listen 80; }\n',
    'conf.d/ignored.txt': 'not included;\n',
    'snippets/proxy.conf': 'proxy_set_header Host $host;\n',
  })
  const tree = readNginxTree(join(dir, 'nginx.conf'))
  assert.deepEqual(tree.problems, [])
  assert.deepEqual(names(tree.directives), [
    'events', 'http', '  server', '    listen 80', '  server', '    listen 81', '    proxy_set_header Host $host', '  types', '    text/html html',
  ])
  const proxy = tree.directives[1].block?.[1].block?.[1]
  assert.equal(proxy?.file, join(dir, 'conf.d/../snippets/proxy.conf'))
  assert.equal(proxy?.line, 1)
  assert.equal(tree.files.length, 5)
})

test('a relative include is resolved against the main file\'s folder first, as nginx does', (t) => {
  // Debian's layout: sites-enabled/app includes proxy_params and snippets/…, which sit beside nginx.conf.
  const dir = folder(t, {
    'nginx.conf': 'events {}\nhttp {\n  include sites-enabled/*;\n}\n',
    'sites-enabled/app': 'server { include proxy_params; include snippets/*.conf; include local/listen.conf; }\n',
    'proxy_params': 'proxy_set_header Host $host;\n',
    'snippets/a.conf': 'add_header X-A a;\n',
    'sites-enabled/snippets/b.conf': 'add_header X-B b;\n',
    'sites-enabled/local/listen.conf': 'listen 81;\n',
  })
  const tree = readNginxTree(join(dir, 'nginx.conf'))
  assert.deepEqual(tree.problems, [])
  // The glob only where nginx looks (snippets/b.conf beside the site is not nginx's); a plain name that nginx
  // would not find (local/listen.conf) is taken from beside the including file.
  assert.deepEqual(names(tree.directives), ['events', 'http', '  server', '    proxy_set_header Host $host', '    add_header X-A a', '    listen 81'])
})

test('a pattern without glob characters must match a file; with them it may match nothing', (t) => {
  const dir = folder(t, { 'nginx.conf': 'events {}\nhttp {\n  include sites-enabled/*;\n  include missing.conf;\n}\n' })
  const tree = readNginxTree(join(dir, 'nginx.conf'))
  assert.equal(tree.problems.length, 1)
  assert.equal(tree.problems[0].line, 4)
  assert.match(tree.problems[0].message, /include "missing.conf": .*missing.conf does not exist; nginx fails here too/)
})

test('include loops are reported with their chain, directly and through other files', (t) => {
  const dir = folder(t, {
    'nginx.conf': 'events {}\ninclude a.conf;\n',
    'a.conf': 'include b.conf;\n',
    'b.conf': 'worker_processes 1;\ninclude a.conf;\n',
    'self.conf': 'include self.conf;\n',
  })
  const tree = readNginxTree(join(dir, 'nginx.conf'))
  assert.equal(tree.problems.length, 1)
  assert.equal(tree.problems[0].file, join(dir, 'b.conf'))
  assert.equal(tree.problems[0].line, 2)
  assert.match(tree.problems[0].message, /makes a loop \(.*a\.conf -> .*b\.conf -> .*a\.conf\)/)
  assert.deepEqual(names(tree.directives), ['events', 'worker_processes 1'])
  const self = readNginxTree(join(dir, 'self.conf'))
  assert.match(self.problems[0].message, /makes a loop/)
})

test('a loop through a symbolic link is still a loop; the same file twice is not', (t) => {
  const dir = folder(t, { 'nginx.conf': 'include link.conf;\n', 'twice.conf': 'include one.conf;\ninclude one.conf;\n', 'one.conf': 'a;\n' })
  symlinkSync(join(dir, 'nginx.conf'), join(dir, 'link.conf'))
  assert.match(readNginxTree(join(dir, 'nginx.conf')).problems[0].message, /makes a loop/)
  const twice = readNginxTree(join(dir, 'twice.conf'))
  assert.deepEqual(twice.problems, [])
  assert.deepEqual(names(twice.directives), ['a', 'a'])
})

test('an unreadable main file is a problem, not an exception', () => {
  const tree = readNginxTree('/nonexistent/nginx.conf')
  assert.match(tree.problems[0].message, /cannot read the file: no such file or directory/)
})
