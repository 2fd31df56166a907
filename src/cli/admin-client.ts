/**
 * How the admin commands (targets, reload, status, rollout) reach the admin API, and a small client for it.
 *
 * Where: `--admin URL`, else FULCRUM_ADMIN, else the `admin.listen` of the `-c` file, else
 * http://127.0.0.1:9090 (the default admin.listen). The token: `--token`, else FULCRUM_ADMIN_TOKEN, else
 * the `-c` file's admin.token. Every failure becomes a CliError whose message is one line that says
 * what went wrong and how to fix it.
 */
import { request } from 'undici'
import { parseListenAddress } from '../config/address.ts'

export const DEFAULT_ADMIN = 'http://127.0.0.1:9090'

/** A failure to report as "fulcrum: <message>" with exit code 1. */
export class CliError extends Error {}

/** An error answer of the admin API: `{ error: { code, message, ... } }`. */
export class AdminApiError extends CliError {
  readonly status: number
  readonly code: string
  readonly details: Record<string, unknown>
  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(`${message} (${code})`)
    this.status = status
    this.code = code
    this.details = details
  }
}

export interface AdminFlags {
  readonly admin?: string
  readonly token?: string
  readonly config?: string
}

export interface CallOptions {
  readonly body?: unknown
  /** For calls that answer only when something happened (a drain): no time limit on the answer. */
  readonly wait?: boolean
  readonly signal?: AbortSignal
}

export class AdminClient {
  readonly url: string
  readonly #token: string | undefined

  constructor(url: string, token: string | undefined) {
    this.url = url
    this.#token = token
  }

  /** Calls the API and returns the parsed JSON answer; throws CliError (AdminApiError for error answers). */
  async call<T = any>(method: 'GET' | 'POST' | 'DELETE', path: string, options: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    let res
    try {
      res = await request(`${this.url}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        headersTimeout: options.wait === true ? 0 : 30_000,
        bodyTimeout: 30_000,
        signal: options.signal,
      })
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      throw new CliError(`cannot reach the admin API at ${this.url}: ${networkReason(err)} — is \`fulcrum start\` running? (set --admin or FULCRUM_ADMIN)`)
    }
    const text = await res.body.text()
    let body: any
    try {
      body = JSON.parse(text)
    } catch {
      throw new CliError(`${this.url}${path} answered ${res.statusCode} without JSON: is this Fulcrum's admin API? (set --admin or FULCRUM_ADMIN)`)
    }
    if (res.statusCode >= 400) {
      const e = body?.error ?? {}
      throw new AdminApiError(res.statusCode, String(e.code ?? `http_${res.statusCode}`), String(e.message ?? `status ${res.statusCode}`), e)
    }
    return body as T
  }
}

/** The client for the flags and environment given, following the discovery order above. */
export async function adminClient(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): Promise<AdminClient> {
  let url = nonEmpty(flags.admin) ?? nonEmpty(env.FULCRUM_ADMIN)
  let token = nonEmpty(flags.token) ?? nonEmpty(env.FULCRUM_ADMIN_TOKEN)
  if ((url === undefined || token === undefined) && flags.config !== undefined) {
    const fromFile = await fromConfigFile(flags.config)
    url ??= fromFile.url
    token ??= fromFile.token
  }
  return new AdminClient(normaliseUrl(url ?? DEFAULT_ADMIN), token)
}

/** The admin URL and token a configuration file gives its `fulcrum start`. */
async function fromConfigFile(file: string): Promise<{ url: string | undefined; token: string | undefined }> {
  // Imported on use: the config loader (zod, yaml) is slow to load and most calls do not need it.
  const { formatProblem, loadConfig } = await import('../config/load.ts')
  const loaded = await loadConfig(file)
  if (!loaded.ok) {
    const first = formatProblem(loaded.problems[0])
    throw new CliError(`cannot find the admin API from ${file}: ${first}${loaded.problems.length > 1 ? ` (and ${loaded.problems.length - 1} more problems)` : ''}`)
  }
  const admin = loaded.config.admin
  if (!admin.enabled) throw new CliError(`${file} turns the admin API off (admin.enabled: false)`)
  return { url: urlForListen(admin.listen, file), token: admin.token }
}

/** Where to connect for a listen address: a wildcard (`8080`, `*:9090`, `0.0.0.0`, `::`) means this machine. */
export function urlForListen(listen: number | string, file = 'the configuration'): string {
  const parsed = parseListenAddress(listen)
  if ('error' in parsed) throw new CliError(`admin.listen in ${file}: ${parsed.error}`)
  if (parsed.port === 0) throw new CliError(`admin.listen in ${file} asks for any free port (0), so its address is unknown; pass --admin URL`)
  const host = parsed.host === undefined || parsed.host === '0.0.0.0' || parsed.host === '::' ? '127.0.0.1' : parsed.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${parsed.port}`
}

/** Accepts `http://host:port`, `host:port` or a bare port; no trailing slash. */
function normaliseUrl(text: string): string {
  const withScheme = /^\d+$/.test(text) ? `http://127.0.0.1:${text}` : /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new CliError(`"${text}" is not an admin API URL; write e.g. http://127.0.0.1:9090`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`"${text}": the admin API speaks http or https`)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

function networkReason(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  const code = e.code ?? e.cause?.code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND') return 'no such host'
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connection timed out'
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was cut'
  return e.message ?? String(err)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
