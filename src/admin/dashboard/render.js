// Builds and updates the page from the status document. Rows and cards are keyed and updated in place, so
// the charts inside them live on across updates. Text goes in through textContent only.
import * as fmt from './format.js'

export const STATES = ['healthy', 'initial', 'unhealthy', 'draining', 'unused', 'removed']

/** h('div', { class: 'x', onclick }, 'text', child): a small element builder. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (k === 'style') Object.assign(el.style, v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

/** A state as a colour and a word. */
export function chip(state) {
  return h('span', { class: `chip s-${state}` }, h('i', { 'aria-hidden': 'true' }), state)
}

/** Text that says how long ago `iso` was, kept fresh by refreshTimes(). */
export function agoEl(iso, cls = 'muted') {
  return h('time', { class: cls, datetime: iso, 'data-ago': iso, title: fmt.stamp(iso) }, fmt.ago(iso))
}

export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll('[data-ago]')) el.textContent = fmt.ago(el.dataset.ago)
  for (const el of root.querySelectorAll('[data-until]')) el.textContent = fmt.until(el.dataset.until)
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false))
}

export function renderHeader(status) {
  document.getElementById('version').textContent = `v${status.version}`
  fill(document.getElementById('footer'),
    h('span', {}, 'config ', h('code', {}, status.configFile)),
    h('span', {}, `pid ${status.pid}`),
    h('span', {}, `up ${fmt.uptime(status.uptimeSeconds)}`))
}

export function renderSummary(status) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]))
  let total = 0
  for (const g of status.targetGroups) for (const t of g.targets) { counts[t.state]++; total++ }
  const active = total - counts.unused
  const tile = (label, value, cls, sub) => h('div', { class: `tile ${cls ?? ''}` }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub' }, sub) : null)
  fill(document.getElementById('summary'),
    tile('Healthy targets', `${counts.healthy}`, counts.healthy === active && active > 0 ? 'good' : '', `of ${active} in use`),
    tile('Unhealthy', `${counts.unhealthy}`, counts.unhealthy > 0 ? 'bad' : ''),
    tile('Draining', `${counts.draining}`, counts.draining > 0 ? 'warn' : ''),
    tile('Initial', `${counts.initial}`, counts.initial > 0 ? 'info' : ''),
    tile('Target groups', `${status.targetGroups.length}`, '', `${status.listeners.length} listener${status.listeners.length === 1 ? '' : 's'}`),
    tile('Uptime', fmt.uptime(status.uptimeSeconds), ''))
}

export function renderListeners(status) {
  fill(document.getElementById('listeners'), status.listeners.map((l) => h('div', { class: 'listener' },
    h('span', { class: 'listener-name' }, l.name),
    h('span', { class: 'proto' }, l.protocol.toUpperCase()),
    h('code', {}, l.port === null ? l.listen : bound(l.listen, l.port)))))
}

/** "127.0.0.1:0" listening on 43121 → "127.0.0.1:43121". */
function bound(listen, port) {
  const m = /^(.*?)(\d+)$/.exec(listen)
  return m === null ? `${listen} (${port})` : `${m[1]}${port}`
}

/** The group card's header and health bar; the target rows are kept by the caller. */
export function renderGroupHead(card, g, removed) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]))
  for (const t of g.targets) counts[t.state]++
  const total = g.targets.length
  const healthy = counts.healthy
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': STATES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`).join(', ') || 'no targets' },
    STATES.filter((s) => counts[s] > 0).map((s) => h('span', { class: `seg s-${s}`, style: { flexGrow: String(counts[s]) } })))
  const tags = [h('span', { class: 'tag' }, g.algorithm), h('span', { class: 'tag' }, fmt.healthCheck(g.healthCheck))]
  if (!g.used) tags.push(h('span', { class: 'tag muted-tag' }, 'unused: no route forwards here'))
  const summary = total === 0 ? 'no targets' : !g.used ? `${total} target${total === 1 ? '' : 's'}` : `${healthy}/${total} healthy`
  fill(card.querySelector('.group-head'),
    h('div', { class: 'group-title' }, h('h2', {}, g.name), h('span', { class: `group-count ${total > 0 && healthy === 0 && g.used ? 'bad' : ''}` }, summary)),
    h('div', { class: 'tags' }, tags),
    bar)
  card.querySelector('.empty').hidden = total + removed.length > 0
}

/** The cells of a target row that change with the status (state, weight, last check, actions). */
export function renderTargetCells(row, t, actions) {
  const c = (name) => row.querySelector(`.c-${name}`)
  row.dataset.state = t.state
  fill(c('target').querySelector('.src'), t.source === 'api' ? h('span', { class: 'tag small' }, 'api') : null)
  // A draining target leaves when its requests are done, or at the deadline at the latest.
  const draining = t.state === 'draining' && t.drainingUntil
  const reason = draining ? h('span', {}, 'leaves ', h('span', { 'data-until': t.drainingUntil }, fmt.until(t.drainingUntil))) : t.reason
  const title = draining ? `${t.reason}: leaves when its requests in flight are done, at ${fmt.stamp(t.drainingUntil)} at the latest` : t.reason
  fill(c('state'), chip(t.state), h('span', { class: 'reason', title }, reason))
  c('weight').textContent = t.weight ?? '—'
  const check = t.lastCheck
  fill(c('check'), check === null || check === undefined
    ? h('span', { class: 'muted' }, '—')
    : [h('div', { class: `check-detail ${check.ok ? 'ok' : 'fail'}`, title: check.detail }, check.ok ? '✓ ' : '✕ ', check.detail),
       h('div', { class: 'muted small' }, `${fmt.latency(check.latencyMs)} · `, agoEl(check.at, ''))])
  fill(c('actions'), actions)
}

/** One event of the recent-events list: a state change or a reload. */
export function eventItem(e) {
  if (e.kind === 'reload') {
    const changes = e.changes.length === 0 ? [h('li', {}, 'settings changed')] : e.changes.slice(0, 6).map((x) => h('li', {}, x))
    if (e.changes.length > 6) changes.push(h('li', { class: 'muted' }, `and ${e.changes.length - 6} more`))
    return h('li', { class: 'ev ev-reload' },
      h('time', { datetime: e.at, title: fmt.stamp(e.at) }, fmt.clock(e.at)),
      h('div', { class: 'ev-body' }, h('div', { class: 'ev-title' }, '↻ Configuration reloaded'), h('ul', { class: 'ev-changes' }, changes)))
  }
  return h('li', { class: `ev ev-${e.to}` },
    h('time', { datetime: e.at, title: fmt.stamp(e.at) }, fmt.clock(e.at)),
    h('div', { class: 'ev-body' },
      h('div', { class: 'ev-title' }, h('b', {}, e.group), ' ', h('button', { class: 'link addr', 'data-open': `${e.group}\n${e.address}` }, e.address)),
      transition(e),
      h('div', { class: 'ev-reason' }, e.reason)))
}

/** "healthy → unhealthy", or "registered" for a new target. */
export function transition(e) {
  // A new target's first entry (its reason says "registered; …").
  if (e.from === e.to) return h('div', { class: 'ev-change' }, chip(e.to))
  return h('div', { class: 'ev-change' }, chip(e.from), h('span', { class: 'arrow', 'aria-label': 'to' }, '→'), chip(e.to))
}
