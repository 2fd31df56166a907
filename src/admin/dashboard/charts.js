// Small live charts with uPlot (loaded before this module as the global `uPlot`, from the balancer itself).
// Sparklines in the target rows; larger charts with axes in a target's panel.

const uPlot = globalThis.uPlot

/** The series colours, read from CSS so the dark theme can change them. */
function colour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#4f46e5'
}

/** "#4f46e5" and 0.3 → "rgba(79, 70, 229, 0.3)". */
function alpha(hex, a) {
  const n = parseInt(hex.replace('#', ''), 16)
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`
}

function fillOf(stroke) {
  return (u) => {
    // Before the first layout the box is not measured yet.
    if (!Number.isFinite(u.bbox.top) || !Number.isFinite(u.bbox.height)) return alpha(stroke, 0.15)
    const g = u.ctx.createLinearGradient(0, u.bbox.top, 0, u.bbox.top + u.bbox.height)
    g.addColorStop(0, alpha(stroke, 0.3))
    g.addColorStop(1, alpha(stroke, 0.02))
    return g
  }
}

/** The y range: from 0, with headroom; a flat zero line sits at the bottom. */
function yRange(min) {
  return (_u, _lo, hi) => [0, Math.max(hi ?? 0, min) * 1.15]
}

/** The x axis spans the points there are (up to five minutes); with none yet, the last minute. */
function xRange(_u, lo, hi) {
  if (lo === null || hi === null || lo === hi) { const end = hi ?? Date.now() / 1000; return [end - 60, end] }
  return [lo, hi]
}

function timeOfDay(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}

/** A sparkline in `el` (its CSS width, `height` px): no axes, no cursor. */
export function sparkline(el, kind, height = 28) {
  const stroke = colour(`--chart-${kind}`)
  const opts = {
    width: Math.max(40, el.clientWidth), height,
    pxAlign: false,
    cursor: { show: false }, select: { show: false }, legend: { show: false },
    scales: { x: { time: false, range: xRange }, y: { range: yRange(kind === 'p99' ? 1 : 0.5) } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke, width: 1.5, fill: fillOf(stroke), points: { show: false } }],
  }
  return new uPlot(opts, [[], []], el)
}

/** A chart with time and value axes for a target's panel. */
export function bigChart(el, kind, label, format) {
  const stroke = colour(`--chart-${kind}`)
  const grid = colour('--grid')
  const text = colour('--muted')
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { show: false }, font: '11px system-ui, sans-serif' }
  const opts = {
    width: Math.max(200, el.clientWidth), height: 120,
    cursor: { drag: { x: false, y: false }, points: { size: 7 } }, select: { show: false },
    legend: { show: true, live: true },
    scales: { x: { time: true, range: xRange }, y: { range: yRange(kind === 'p99' ? 1 : 0.5) } },
    axes: [
      { ...axis, space: 80, size: 28, values: (_u, vals) => vals.map(timeOfDay) },
      { ...axis, size: 56, values: (_u, vals) => vals.map((v) => (v === 0 ? '0' : format(v))) },
    ],
    series: [
      { label: 'time', value: (_u, v) => (v === null ? '—' : timeOfDay(v)) },
      { label, stroke, width: 2, fill: fillOf(stroke), points: { show: false }, value: (_u, v) => (v === null ? '—' : format(v)) },
    ],
  }
  return new uPlot(opts, [[], []], el)
}

/** Fits every chart to its container's width again (after a resize). */
export function refit(charts) {
  for (const c of charts) {
    const w = c.root.parentElement?.clientWidth ?? 0
    if (w > 0 && Math.abs(w - c.width) > 1) c.setSize({ width: w, height: c.height })
  }
}
