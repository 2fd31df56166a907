import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatLine } from './log-pretty.ts'
import { createLogger } from './log.ts'
import { painter } from './colour.ts'

const TIME = '2025-06-01T12:01:02.345Z'
const clock = (iso: string): string => { const d = new Date(iso); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':') }
const line = (fields: Record<string, unknown>): string => JSON.stringify({ level: 30, time: TIME, pid: 7, ...fields })

test('a line: local time, level, message, then key=value with values quoted only when needed', () => {
  assert.equal(formatLine(line({ group: 'web', target: '127.0.0.1:8081', from: 'healthy', to: 'unhealthy', reason: '2 checks failed in a row (status 500)', msg: 'target state changed' })),
    `${clock(TIME)} INFO  target state changed group=web target=127.0.0.1:8081 from=healthy to=unhealthy reason="2 checks failed in a row (status 500)"`)
  assert.equal(formatLine(line({ level: 40, worker: 2, ok: false, n: null, empty: '', msg: 'data-plane worker exited' })),
    `${clock(TIME)} WARN  data-plane worker exited worker=2 ok=false n=null empty=""`)
})

test('a reload: empty lists left out, names comma-separated, sentences one per line under it', () => {
  const text = formatLine(line({ config: '/etc/f.yaml', listenersAdded: [], targetsAdded: ['app/127.0.0.1:8082', 'app/127.0.0.1:8083'], changes: ['~ listener web: routes 1 -> 2', '+ target app/127.0.0.1:8082 (weight 1)'], msg: 'configuration reloaded' }))
  assert.equal(text, [
    `${clock(TIME)} INFO  configuration reloaded config=/etc/f.yaml targetsAdded=app/127.0.0.1:8082,app/127.0.0.1:8083`,
    '    changes: ~ listener web: routes 1 -> 2',
    '    changes: + target app/127.0.0.1:8082 (weight 1)',
  ].join('\n'))
})

test('an error: its message on the line, its stack under it; colour only when asked', () => {
  const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (a.ts:1:1)\n    at g (b.ts:2:2)' }
  assert.equal(formatLine(line({ level: 50, err, msg: 'admin API: unexpected error' })),
    `${clock(TIME)} ERROR admin API: unexpected error err=boom\n    at f (a.ts:1:1)\n    at g (b.ts:2:2)`)
  const coloured = formatLine(line({ level: 50, msg: 'x' }), painter(true))
  assert.equal(coloured, `\x1b[2m${clock(TIME)}\x1b[22m \x1b[31mERROR\x1b[39m x`)
  assert.equal(formatLine('not json\n'), 'not json')
})

test('createLogger: readable lines on a terminal, JSON lines otherwise', () => {
  const written: string[] = []
  const tty = { isTTY: true, write: (s: string) => { written.push(s) } }
  delete process.env.FORCE_COLOR
  process.env.NO_COLOR = '1'
  createLogger('info', tty).info({ listener: 'web', port: 8080 }, 'listening')
  assert.match(written[0], /^\d\d:\d\d:\d\d INFO  listening listener=web port=8080\n$/)

  const json: string[] = []
  const log = createLogger('info', { isTTY: false, write: (s: string) => { json.push(s) } })
  log.info({ listener: 'web', port: 8080 }, 'listening')
  log.debug('not at info')
  assert.equal(json.length, 1)
  const entry = JSON.parse(json[0]) as Record<string, unknown>
  assert.deepEqual([entry.level, entry.msg, entry.listener, entry.port, entry.pid], [30, 'listening', 'web', 8080, process.pid])
  assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT/)
})
