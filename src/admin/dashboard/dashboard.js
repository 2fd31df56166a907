// The dashboard page: listens to /api/v1/events (status and per-second series), keeps the page in step,
// and sends drain / re-enable. See README "Dashboard".
import { call, Cancelled, eventsUrl } from './api.js'
import { bigChart, refit, sparkline } from './charts.js'
import * as fmt from './format.js'
import { agoEl, chip, eventItem, fill, h, refreshTimes, renderGroupHead, renderHeader, renderListeners, renderSummary, renderTargetCells, transition } from './render.js'

/** Five minutes of one point a second, as the server keeps. */
const POINTS = 300
/** A hidden tab closes its stream after this long, and reopens it when shown again. */
const HIDDEN_CLOSE_MS = 30_000
const EVENTS_SHOWN = 40

const state = { status: null, t: [], series: new Map(), counted: true }
/** group name → card; target key → { row, group, address, target, charts } */
const cards = new Map()
const rows = new Map()
/** The open target panel: { key, group, address, charts, since } */
let panel = null

const key = (group, address) => `${group}\n${address}`
const enc = encodeURIComponent
const $ = (id) => document.getElementById(id)

// ---- The live stream -----------------------------------------------------------------------------------

let stream = null

function connect() {
  stream?.close()
  const es = new EventSource(eventsUrl())
  stream = es
  es.addEventListener('open', () => setConnection('live'))
  es.addEventListener('status', (e) => onStatus(JSON.parse(e.data)))
  es.addEventListener('series', (e) => onSeries(JSON.parse(e.data)))
  es.addEventListener('error', () => {
    if (es !== stream) return
    // CONNECTING: the browser retries by itself. CLOSED: refused (401) or gone; start() finds out which.
    if (es.readyState === EventSource.CONNECTING) { setConnection('reconnecting'); return }
    es.close()
    stream = null
    setConnection('reconnecting')
    setTimeout(start, 1000)
  })
}

/** Loads the status once (asking for the token if the API wants one), then opens the stream. */
async function start() {
  try {
    onStatus(await call('GET', '/api/v1/status', undefined, 'see this balancer'))
    connect()
  } catch (err) {
    if (err instanceof Cancelled) { setConnection('locked'); return }
    setConnection('offline')
    setTimeout(start, 3000)
  }
}

function setConnection(kind) {
  const el = $('conn')
  el.dataset.state = kind
  const words = { live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline, retrying', locked: 'Token needed', paused: 'Paused (tab hidden)' }
  fill(el, h('span', { class: 'dot', 'aria-hidden': 'true' }), words[kind] ?? kind,
    kind === 'locked' ? h('button', { class: 'btn small', onclick: () => start() }, 'Enter token') : null)
}

let hiddenTimer
document.addEventListener('visibilitychange', () => {
  clearTimeout(hiddenTimer)
  if (document.hidden) {
    hiddenTimer = setTimeout(() => { stream?.close(); stream = null; setConnection('paused') }, HIDDEN_CLOSE_MS)
  } else if (stream === null && $('conn').dataset.state === 'paused') {
    start()
  }
})

// ---- Status ----------------------------------------------------------------------------------------------

function onStatus(status) {
  status.reloads ??= []
  status.removedTargets ??= []
  state.status = status
  renderHeader(status)
  renderSummary(status)
  renderListeners(status)
  renderGroups(status)
  renderEvents(status)
  updateMetrics()
  if (panel !== null) renderPanel()
}

function renderGroups(status) {
  const container = $('groups')
  const seenGroups = new Set()
  const seenRows = new Set()
  status.targetGroups.forEach((g, i) => {
    let card = cards.get(g.name)
    if (card === undefined) {
      card = groupCard()
      cards.set(g.name, card)
    }
    if (container.children[i] !== card) container.insertBefore(card, container.children[i] ?? null)
    seenGroups.add(g.name)
    const removed = status.removedTargets.filter((r) => r.group === g.name)
    renderGroupHead(card, g, removed)
    const targets = [...g.targets, ...removed.map((r) => ({
      address: r.address, weight: r.weight, source: '', state: 'removed', reason: 'deregistered: left the group',
      since: r.at, inFlight: 0, drainingUntil: null, lastCheck: null,
    }))]
    const tbody = card.querySelector('tbody')
    targets.forEach((t, j) => {
      const k = key(g.name, t.address)
      seenRows.add(k)
      let r = rows.get(k)
      if (r === undefined) {
        r = { row: targetRow(g.name, t.address), group: g.name, address: t.address, charts: null }
        rows.set(k, r)
      }
      if (tbody.children[j] !== r.row) tbody.insertBefore(r.row, tbody.children[j] ?? null)
      r.target = t
      renderTargetCells(r.row, t, actions(g.name, t))
      r.charts ??= { rps: sparkline(r.row.querySelector('.c-rps .spark'), 'rps'), p99: sparkline(r.row.querySelector('.c-p99 .spark'), 'p99') }
    })
  })
  for (const [name, card] of cards) if (!seenGroups.has(name)) { card.remove(); cards.delete(name) }
  for (const [k, r] of rows) {
    if (seenRows.has(k)) continue
    r.charts?.rps.destroy()
    r.charts?.p99.destroy()
    r.row.remove()
    rows.delete(k)
  }
}

function groupCard() {
  const heads = [['Target and state', 'h-target'], ['Weight', 'num h-weight'], ['In flight', 'num h-inflight'], ['Req/s', 'h-rps'], ['p99', 'h-p99'], ['Last check', 'h-check'], ['', 'c-actions h-actions']]
  return h('section', { class: 'card group' },
    h('div', { class: 'group-head' }),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'targets' },
        h('thead', {}, h('tr', {}, heads.map(([label, cls]) => h('th', { class: cls, scope: 'col' }, label)))),
        h('tbody'))),
    h('p', { class: 'empty muted' }, 'No targets. Register one with POST /api/v1/target-groups/{group}/targets.'))
}

function targetRow(group, address) {
  const metric = () => h('div', { class: 'metric' }, h('div', { class: 'spark' }), h('span', { class: 'val' }, '—'))
  return h('tr', { class: 'target', 'data-group': group, 'data-address': address },
    h('td', { class: 'c-target' },
      h('div', { class: 'addr-line' }, h('button', { class: 'link addr', 'data-open': key(group, address), title: 'Charts and timeline' }, address), h('span', { class: 'src' })),
      h('div', { class: 'c-state' })),
    h('td', { class: 'c-weight num', 'data-label': 'Weight' }),
    h('td', { class: 'c-inflight num', 'data-label': 'In flight' }),
    h('td', { class: 'c-rps', 'data-label': 'Req/s' }, metric()),
    h('td', { class: 'c-p99', 'data-label': 'p99' }, metric()),
    h('td', { class: 'c-check', 'data-label': 'Last check' }),
    h('td', { class: 'c-actions' }))
}

function actions(group, t) {
  if (t.state === 'draining' || t.state === 'removed') {
    return h('button', { class: 'btn', 'data-action': 'enable', onclick: (e) => enable(e.currentTarget, group, t.address, t.weight) }, 'Re-enable')
  }
  return h('button', { class: 'btn quiet', 'data-action': 'drain', onclick: (e) => drain(e.currentTarget, group, t.address) }, 'Drain')
}

function renderEvents(status) {
  const items = [
    ...status.transitions.map((t) => ({ kind: 'transition', ...t })),
    ...status.reloads.map((r) => ({ kind: 'reload', ...r })),
  ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, EVENTS_SHOWN)
  fill($('events'), items.length === 0 ? h('li', { class: 'muted empty-ev' }, 'Nothing yet.') : items.map(eventItem))
}

// ---- Series ----------------------------------------------------------------------------------------------

/** Appends the frame's points newer than what we have (a frame on connect holds up to five minutes). */
function onSeries(frame) {
  state.counted = frame.counted
  const last = state.t.at(-1) ?? -Infinity
  const fresh = frame.t.flatMap((t, i) => (t > last ? [i] : []))
  if (fresh.length > 0) {
    const before = state.t.length
    for (const i of fresh) state.t.push(frame.t[i])
    const seen = new Set()
    for (const p of frame.targets) {
      const k = key(p.group, p.address)
      seen.add(k)
      let s = state.series.get(k)
      if (s === undefined) {
        s = { rps: new Array(before).fill(null), p99: new Array(before).fill(null), inFlight: new Array(before).fill(null) }
        state.series.set(k, s)
      }
      for (const i of fresh) { s.rps.push(p.rps[i]); s.p99.push(p.p99[i]); s.inFlight.push(p.inFlight[i]) }
    }
    for (const [k, s] of state.series) {
      if (seen.has(k)) continue
      if (!rows.has(k)) { state.series.delete(k); continue }
      for (const _ of fresh) { s.rps.push(null); s.p99.push(null); s.inFlight.push(null) }
    }
    const extra = state.t.length - POINTS
    if (extra > 0) {
      state.t.splice(0, extra)
      for (const s of state.series.values()) { s.rps.splice(0, extra); s.p99.splice(0, extra); s.inFlight.splice(0, extra) }
    }
  }
  updateMetrics()
}

function updateMetrics() {
  $('no-metrics').hidden = state.counted || state.status === null
  for (const [k, r] of rows) {
    const s = state.series.get(k)
    const latest = (list) => (list === undefined || list.length === 0 ? null : list.at(-1))
    const inFlight = latest(s?.inFlight) ?? r.target?.inFlight ?? 0
    r.row.querySelector('.c-inflight').textContent = r.target?.state === 'removed' ? '—' : String(inFlight)
    r.row.querySelector('.c-rps .val').textContent = fmt.rate(latest(s?.rps))
    r.row.querySelector('.c-p99 .val').textContent = fmt.latency(latest(s?.p99))
    if (r.charts !== null) {
      r.charts.rps.setData([state.t, s?.rps ?? state.t.map(() => null)])
      r.charts.p99.setData([state.t, s?.p99 ?? state.t.map(() => null)])
    }
  }
  if (panel?.charts) {
    const s = state.series.get(panel.key)
    for (const name of ['rps', 'p99', 'inFlight']) panel.charts[name].setData([state.t, s?.[name] ?? state.t.map(() => null)])
  }
}

// ---- Actions ---------------------------------------------------------------------------------------------

async function drain(button, group, address) {
  button.disabled = true
  try {
    const r = await call('DELETE', `/api/v1/target-groups/${enc(group)}/targets/${enc(address)}`, undefined, `drain ${address}`)
    // Show it at once; the stream confirms within a second.
    patchTarget(group, address, { state: 'draining', reason: 'deregistered', drainingUntil: r.drainingUntil, since: new Date().toISOString() })
  } catch (err) {
    if (!(err instanceof Cancelled)) toast(`Could not drain ${address}: ${err.message}`)
  } finally {
    button.disabled = false
  }
}

async function enable(button, group, address, weight) {
  button.disabled = true
  try {
    const r = await call('POST', `/api/v1/target-groups/${enc(group)}/targets`, { address, weight }, `re-enable ${address}`)
    state.status.removedTargets = state.status.removedTargets.filter((x) => !(x.group === group && x.address === address))
    patchTarget(group, address, r.target)
  } catch (err) {
    if (!(err instanceof Cancelled)) toast(`Could not re-enable ${address}: ${err.message}`)
  } finally {
    button.disabled = false
  }
}

function patchTarget(group, address, fields) {
  const g = state.status?.targetGroups.find((x) => x.name === group)
  if (g === undefined) return
  const t = g.targets.find((x) => x.address === address)
  if (t === undefined) g.targets.push({ address, inFlight: 0, lastCheck: null, drainingUntil: null, ...fields })
  else Object.assign(t, fields)
  onStatus(state.status)
}

let toastTimer
function toast(message) {
  const el = $('toast')
  el.textContent = message
  el.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => { el.hidden = true }, 6000)
}

// ---- A target's panel: larger charts and its timeline ------------------------------------------------------

function openPanel(k) {
  const [group, address] = k.split('\n')
  const dialog = $('target-dialog')
  panel = { key: k, group, address, charts: null, since: null }
  dialog.querySelector('[data-title]').textContent = address
  dialog.querySelector('[data-group]').textContent = `target group ${group}`
  fill(dialog.querySelector('.timeline'), h('li', { class: 'muted' }, 'Loading…'))
  dialog.showModal()
  const chart = (name, label, format) => bigChart(dialog.querySelector(`[data-chart="${name}"]`), name, label, format)
  panel.charts = { rps: chart('rps', 'req/s', fmt.rate), p99: chart('p99', 'p99', fmt.latency), inFlight: chart('inFlight', 'in flight', String) }
  renderPanel()
  updateMetrics()
}

function renderPanel() {
  const p = panel
  const dialog = $('target-dialog')
  const t = rows.get(p.key)?.target
  const body = dialog.querySelector('[data-state]')
  if (t === undefined) {
    fill(body, chip('removed'), h('span', { class: 'muted' }, ' no longer in this group'))
    fill(dialog.querySelector('.facts'))
    fill(dialog.querySelector('.panel-actions'))
  } else {
    fill(body, chip(t.state), h('span', { class: 'panel-reason' }, t.reason), h('span', { class: 'panel-since muted' }, 'since ', agoEl(t.since, '')))
    const check = t.lastCheck
    const facts = [['Weight', t.weight], ['In flight', t.state === 'removed' ? '—' : t.inFlight], ['Source', t.source || '—'],
      ['Last check', check ? h('span', { class: check.ok ? 'ok' : 'fail' }, `${check.ok ? '✓' : '✕'} ${check.detail}`) : '—',
        check ? h('span', { class: 'muted' }, ` · ${fmt.latency(check.latencyMs)} · `, agoEl(check.at, '')) : null]]
    fill(dialog.querySelector('.facts'), facts.map(([k, ...v]) => h('div', { class: k === 'Last check' ? 'wide' : '' }, h('dt', {}, k), h('dd', {}, ...v.map((x) => (x instanceof Node || x === null ? x : String(x)))))))
    fill(dialog.querySelector('.panel-actions'), actions(p.group, t))
  }
  // The timeline changes only when the state does.
  const since = t === undefined ? 'gone' : `${t.state} ${t.since}`
  if (since !== p.since) {
    p.since = since
    void loadTimeline(p)
  }
}

async function loadTimeline(p) {
  const list = $('target-dialog').querySelector('.timeline')
  try {
    const r = await call('GET', `/api/v1/target-groups/${enc(p.group)}/targets/${enc(p.address)}/timeline`, undefined, 'see this timeline')
    if (panel !== p) return
    fill(list, r.timeline.length === 0 ? h('li', { class: 'muted' }, 'No changes seen yet.') : [...r.timeline].reverse().map((e) =>
      h('li', { class: `tl tl-${e.to}` },
        h('time', { datetime: e.at, title: fmt.stamp(e.at) }, fmt.clock(e.at)),
        h('div', {}, transition(e), h('div', { class: 'ev-reason' }, e.reason)))))
  } catch (err) {
    if (panel === p) fill(list, h('li', { class: 'muted' }, err instanceof Cancelled ? 'Needs the admin token.' : err.message))
  }
}

function closePanel() {
  if (panel?.charts) for (const c of Object.values(panel.charts)) c.destroy()
  for (const el of $('target-dialog').querySelectorAll('[data-chart]')) el.replaceChildren()
  panel = null
}

// ---- Wiring ----------------------------------------------------------------------------------------------

document.addEventListener('click', (e) => {
  const open = e.target.closest?.('[data-open]')
  if (open !== null && open !== undefined) openPanel(open.dataset.open)
})
const dialog = $('target-dialog')
dialog.addEventListener('close', closePanel)
dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close())
// A click on the backdrop (outside the panel's box) closes it.
dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close() })

let resizeTimer
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer)
  resizeTimer = setTimeout(() => {
    const charts = [...rows.values()].flatMap((r) => (r.charts ? [r.charts.rps, r.charts.p99] : []))
    if (panel?.charts) charts.push(...Object.values(panel.charts))
    refit(charts)
  }, 150)
})

setInterval(() => refreshTimes(), 5000)
setConnection('reconnecting')
start()
