/**
 * What a route or location may add to its action, compiled once per reload: nginx-style request headers
 * and path rewriting for the target (`proxy`), response headers (`addHeaders`), allow/deny rules
 * (`access`), a body limit (`maxBodyBytes`) and nginx's error pages. A route that uses none of them has no
 * extras at all, so its requests take the plain path and pay nothing for them.
 *
 * `RequestScope` is the per-request side: the template variables' source and the answer style, made only
 * for requests whose route has extras.
 */
import type { IncomingMessage } from 'node:http'
import type { AccessRuleConfig, AddHeaderConfig, ProxyOptionsConfig } from '../config/schema.ts'
import { accessRulesOf, type AccessLevel } from '../protection/access-lists.ts'
import type { CompiledRateLimit } from '../protection/rate-limits.ts'
import { AccessList } from '../targets/access.ts'
import { compileTemplate, evaluate, type Template, type TemplateSource } from '../upstream/templates.ts'
import type { AnswerStyle } from '../upstream/response.ts'

export interface CompiledProxy {
  /** [name, lower-case name, value]; undefined = Fulcrum's forwarding headers (no nginx semantics). */
  readonly setHeaders: ReadonlyArray<readonly [name: string, lower: string, value: Template]> | undefined
  /** The lower-case names of setHeaders: the client's headers of these names are not passed. */
  readonly setNames: ReadonlySet<string>
  readonly replacePrefix: { readonly prefix: string; readonly with: string } | undefined
  /** $proxy_host; undefined = the target group's name. */
  readonly host: string | undefined
  readonly passRequestHeaders: boolean
}

export interface CompiledAddHeader {
  readonly name: string
  readonly value: Template
  readonly always: boolean
}

/** nginx add_header: without `always`, only these statuses get the header. */
const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308])

export function addHeaderApplies(status: number, always: boolean): boolean {
  return always || ADD_HEADER_STATUSES.has(status)
}

export interface ExtrasInput {
  readonly proxy?: ProxyOptionsConfig | undefined
  readonly addHeaders?: readonly AddHeaderConfig[] | undefined
  /** Already resolved: the innermost level's rules. */
  readonly access?: AccessList | undefined
  /** Already resolved; 0 or undefined = no limit. */
  readonly maxBodyBytes?: number | undefined
  /** Already resolved: the innermost level's rate limits. */
  readonly rateLimits?: readonly CompiledRateLimit[] | undefined
  /** The route's own body timeout (ms); undefined = the listener's. */
  readonly bodyTimeout?: number | undefined
  /** Already resolved: false leaves the route's requests out of the access log. */
  readonly logged?: boolean | undefined
  readonly nginxPages: boolean
  /** The virtual host's primary name ('' without virtual hosts). */
  readonly serverName: string
  /** true when the listener has virtual hosts: locations always get extras (for $uri, $server_name). */
  readonly always: boolean
  /** The action's own templates have variables (respond body, redirect location). */
  readonly templated: boolean
}

export class RouteExtras {
  readonly proxy: CompiledProxy | undefined
  readonly addHeaders: readonly CompiledAddHeader[] | undefined
  readonly access: AccessList | undefined
  /** 0 = no limit. */
  readonly maxBodyBytes: number
  readonly rateLimits: readonly CompiledRateLimit[] | undefined
  readonly bodyTimeout: number | undefined
  /** false: the route's requests are not written to the access log. */
  readonly logged: boolean
  readonly nginxPages: boolean
  readonly serverName: string

  constructor(input: ExtrasInput) {
    const p = input.proxy
    this.proxy = p === undefined ? undefined : {
      setHeaders: p.setHeaders === undefined ? undefined
        : Object.entries(p.setHeaders).map(([name, value]) => [name, name.toLowerCase(), compileTemplate(value)] as const),
      setNames: new Set(Object.keys(p.setHeaders ?? {}).map((n) => n.toLowerCase())),
      replacePrefix: p.replacePrefix,
      host: p.host,
      passRequestHeaders: p.passRequestHeaders,
    }
    this.addHeaders = input.addHeaders === undefined || input.addHeaders.length === 0 ? undefined
      : input.addHeaders.map((h) => ({ name: h.name, value: compileTemplate(h.value), always: h.always }))
    this.access = input.access
    this.maxBodyBytes = input.maxBodyBytes ?? 0
    this.rateLimits = input.rateLimits === undefined || input.rateLimits.length === 0 ? undefined : input.rateLimits
    this.bodyTimeout = input.bodyTimeout
    this.logged = input.logged !== false
    this.nginxPages = input.nginxPages
    this.serverName = input.serverName
  }

  /** The extras for a route, or undefined when it uses none (then it costs nothing per request). */
  static of(input: ExtrasInput): RouteExtras | undefined {
    const used = input.always || input.templated || input.nginxPages || input.access !== undefined
      || (input.maxBodyBytes ?? 0) > 0 || input.proxy !== undefined || (input.addHeaders?.length ?? 0) > 0
      || (input.rateLimits?.length ?? 0) > 0 || input.bodyTimeout !== undefined || input.logged === false
    return used ? new RouteExtras(input) : undefined
  }
}

/** Builds each rule list once, shared by every route that inherits it. */
export class AccessCache {
  readonly #lists = new Map<object, AccessList>()
  get(rules: readonly AccessRuleConfig[] | undefined): AccessList | undefined {
    if (rules === undefined) return undefined
    let list = this.#lists.get(rules)
    if (list === undefined) this.#lists.set(rules, (list = new AccessList(rules)))
    return list
  }

  /** A level's rules (`access`, or its allow/deny lists); undefined when it sets none. */
  of(level: AccessLevel): AccessList | undefined {
    if (level.access !== undefined) return this.get(level.access)
    const rules = accessRulesOf(level)
    if (rules === undefined) return undefined
    let list = this.#lists.get(level)
    if (list === undefined) this.#lists.set(level, (list = new AccessList(rules)))
    return list
  }
}

/** One request on a route with extras: the template variables and the answer style. */
export class RequestScope implements TemplateSource, AnswerStyle {
  readonly req: IncomingMessage
  readonly extras: RouteExtras
  readonly clientIp: string
  readonly serverPort: string
  /** The normalised path when the router computed it (virtual hosts); else derived on demand. */
  readonly uri: string | undefined
  /** Set once the target group is chosen: proxy.host, else the group's name. */
  proxyHost = ''

  constructor(req: IncomingMessage, extras: RouteExtras, clientIp: string, serverPort: string, uri: string | undefined) {
    this.req = req
    this.extras = extras
    this.clientIp = clientIp
    this.serverPort = serverPort
    this.uri = uri
  }

  get method(): string { return this.req.method as string }
  get url(): string { return this.req.url as string }
  get headers(): IncomingMessage['headers'] { return this.req.headers }
  get remotePort(): number | undefined { return this.req.socket.remotePort }
  get serverName(): string { return this.extras.serverName }
  get scheme(): string { return 'http' }
  get httpVersion(): string { return this.req.httpVersion }
  get nginxPages(): boolean { return this.extras.nginxPages }

  /** Appends the route's addHeaders that apply to `status` (nginx: empty values are not sent). */
  decorate(status: number, headers: string[]): void {
    const add = this.extras.addHeaders
    if (add === undefined) return
    for (let i = 0; i < add.length; i++) {
      const h = add[i]
      if (!addHeaderApplies(status, h.always)) continue
      const value = evaluate(h.value, this)
      if (value !== '') headers.push(h.name, value)
    }
  }
}
