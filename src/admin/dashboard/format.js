// Formatting for the dashboard: numbers, durations, times. Pure functions, no DOM.

/** "3s ago", "5m ago", "2h ago", "3d ago"; "just now" under a second. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000)
  if (s < 1) return 'just now'
  if (s < 60) return `${Math.floor(s)}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

/** "in 28s", "in 4m"; "now" when past. */
export function until(iso, now = Date.now()) {
  const s = (Date.parse(iso) - now) / 1000
  if (s <= 0) return 'now'
  return s < 60 ? `in ${Math.ceil(s)}s` : `in ${Math.ceil(s / 60)}m`
}

/** 12.3 s → "12s", 3725 s → "1h 2m", 200000 s → "2d 7h". */
export function uptime(seconds) {
  const s = Math.floor(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}

/** Milliseconds as "850ms", "1.2s", "30s", "5m". */
export function duration(ms) {
  if (ms < 1000) return `${ms}ms`
  if (ms < 60000) return `${+(ms / 1000).toFixed(1)}s`
  return `${+(ms / 60000).toFixed(1)}m`
}

/** Latency in ms: "0.42 ms", "12 ms", "1.3 s". */
export function latency(ms) {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 10) return `${ms.toFixed(1)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(1)} s`
}

/** Requests per second: "0", "4.5", "120", "1.2k". */
export function rate(n) {
  if (n === null || n === undefined) return '—'
  if (n === 0) return '0'
  if (n < 10) return n.toFixed(1)
  if (n < 1000) return String(Math.round(n))
  return `${(n / 1000).toFixed(1)}k`
}

/** Wall-clock time of day, "14:03:27". */
export function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}

/** "14:03:27, 21 Nov" for titles. */
export function stamp(iso) {
  const d = new Date(iso)
  return `${clock(iso)}, ${d.toLocaleDateString([], { day: 'numeric', month: 'short' })}`
}

/** A health check in words: "HTTP /health every 5s" or "TCP every 10s". */
export function healthCheck(hc) {
  if (hc === null) return 'no health check'
  const what = hc.protocol === 'tcp' ? 'TCP' : `HTTP ${hc.path}`
  const port = hc.port === 'traffic-port' ? '' : ` port ${hc.port}`
  return `${what}${port} every ${duration(hc.interval)}`
}
