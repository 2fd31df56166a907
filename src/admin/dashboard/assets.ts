/**
 * The dashboard's static files: the page, its scripts and styles (this folder) and uPlot (from
 * node_modules), read once when the admin API starts and kept in memory, gzipped too. No build step, no
 * CDN: the page works offline. uPlot's URL carries its version, so browsers keep it for a year; our own
 * files are revalidated (ETag) so an upgrade shows at once.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

interface Asset {
  readonly type: string
  readonly body: Buffer
  readonly gzip: Buffer
  readonly etag: string
  readonly cache: string
}

const HERE = dirname(fileURLToPath(import.meta.url))
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot/package.json'))
const UPLOT_VERSION = (JSON.parse(readFileSync(join(UPLOT, 'package.json'), 'utf8')) as { version: string }).version

const REVALIDATE = 'no-cache'
const FOREVER = 'public, max-age=31536000, immutable'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** The page's headers: scripts and styles from this server only, never framed (the buttons act). */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

function asset(name: string, body: Buffer, cache: string): Asset {
  const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream'
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  return { type, body, gzip: gzipSync(body), etag, cache }
}

function load(): Map<string, Asset> {
  const uplotJs = `uplot-${UPLOT_VERSION}.min.js`
  const uplotCss = `uplot-${UPLOT_VERSION}.min.css`
  const own = (name: string): Buffer => readFileSync(join(HERE, name))
  const page = own('index.html').toString('utf8').replaceAll('{{uplot.js}}', uplotJs).replaceAll('{{uplot.css}}', uplotCss)
  const files = new Map<string, Asset>([
    ['/', asset('index.html', Buffer.from(page), REVALIDATE)],
    [uplotJs, asset(uplotJs, readFileSync(join(UPLOT, 'dist/uPlot.iife.min.js')), FOREVER)],
    [uplotCss, asset(uplotCss, readFileSync(join(UPLOT, 'dist/uPlot.min.css')), FOREVER)],
  ])
  for (const name of ['dashboard.js', 'api.js', 'charts.js', 'render.js', 'format.js', 'dashboard.css', 'favicon.svg']) {
    files.set(name, asset(name, own(name), REVALIDATE))
  }
  return files
}

const FILES = load()

/** Serves `/` (name "/") or `/dashboard/<name>`; false when there is no such file. */
export function serveAsset(req: IncomingMessage, res: ServerResponse, name: string): boolean {
  const file = FILES.get(name)
  if (file === undefined) return false
  const headers: Record<string, string | number> = { 'content-type': file.type, 'cache-control': file.cache, etag: file.etag, vary: 'accept-encoding' }
  if (name === '/') Object.assign(headers, PAGE_HEADERS)
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers)
    res.end()
    return true
  }
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  const body = gzip ? file.gzip : file.body
  if (gzip) headers['content-encoding'] = 'gzip'
  headers['content-length'] = body.length
  res.writeHead(200, headers)
  res.end(body)
  return true
}
