/**
 * A case: an nginx configuration and the requests to send to it, read from `NAME.json` beside `NAME.conf`
 * (test/nginx-corpus/), or made up for a user's file (GET / and GET of each location prefix, for each
 * server_name of each server block).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import type { Behaviour } from './backends.ts'
import type { Plan } from './conf.ts'

export interface RequestSpec {
  /** Default GET. */
  method?: string
  /** The request target as sent, default `/`. */
  path?: string
  /** The Host header; default `localhost:PORT` (the port the request is sent to, as curl writes it). */
  host?: string
  /** More request headers, in this order. */
  headers?: Record<string, string> | [string, string][]
  body?: string
  /** A body of this many bytes (`x`), sent with Content-Length. */
  bodyBytes?: number
  /** Send the body chunked (two chunks) instead of with Content-Length. */
  chunked?: boolean
  /** The client's address (any 127.x.y.z), default 127.0.0.1. */
  client?: string
  /** The listen port as written in the configuration; default its first. */
  port?: number
  /** Send it this many times in a row. */
  repeat?: number
}

/** A difference the README explains: `match` (a regular expression) finds it, `reason` is in the README. */
export interface Expected {
  match: string
  reason: string
}

export interface Case {
  name: string
  /** The nginx.conf. */
  conf: string
  description?: string
  /** Where the configuration comes from (a documentation page, a seed). */
  source?: string
  /** How backends misbehave, by address as written in the configuration. */
  backends?: Record<string, Behaviour>
  requests?: RequestSpec[]
  /** Both nginx and Fulcrum must refuse the configuration. */
  refused?: boolean
  expectDifferences?: Expected[]
}

/** Every case of a corpus folder: each `NAME.json`, its configuration `NAME.conf` unless it names one. */
export function readCorpus(dir: string): Case[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => readCase(join(dir, f)))
}

export function readCase(file: string): Case {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<Case, 'name' | 'conf'> & { conf?: string }
  const name = basename(file, '.json')
  const conf = resolve(dirname(file), raw.conf ?? `${name}.conf`)
  if (!existsSync(conf)) throw new Error(`${file}: its configuration ${conf} does not exist`)
  return { ...raw, name, conf }
}

/** A user's file: the requests from `requests` (a list, or a case object), else made up from the configuration. */
export function userCase(conf: string, requests?: string): Case {
  const c: Case = { name: basename(conf), conf: resolve(conf) }
  if (requests === undefined) return c
  const raw = JSON.parse(readFileSync(requests, 'utf8')) as RequestSpec[] | Omit<Case, 'name' | 'conf'>
  if (Array.isArray(raw)) return { ...c, requests: raw }
  return { ...raw, ...c }
}

/** GET / and GET of every location prefix, for every name of every server block (or `localhost`). */
export function defaultRequests(p: Plan): RequestSpec[] {
  const out: RequestSpec[] = []
  const seen = new Set<string>()
  for (const site of p.sites) {
    for (const name of site.names.length > 0 ? site.names : [undefined]) {
      for (const path of ['/', ...site.paths]) {
        const key = `${site.port} ${name} ${path}`
        if (seen.has(key)) continue
        seen.add(key)
        out.push({ path, port: site.port, ...(name !== undefined ? { host: name } : {}) })
      }
    }
  }
  return out
}

/** Repeats expanded; every request gets its method and path. */
export function expand(requests: readonly RequestSpec[]): RequestSpec[] {
  return requests.flatMap((r) => Array.from({ length: r.repeat ?? 1 }, () => ({ ...r, method: r.method ?? 'GET', path: r.path ?? '/' })))
}
