/**
 * The configuration's one definition. Types (`Config`, `ConfigInput`), validation and the published JSON
 * Schema (`schema/fulcrum.schema.json`, made by `npm run schema`) all come from here, so they cannot drift.
 * Descriptions feed the JSON Schema, and so editors' hover text.
 */
import { z } from 'zod'
import { ALGORITHMS, RETRY_CONDITIONS, duration, targetGroup } from './schema-target-group.ts'

export { ALGORITHMS, RETRY_CONDITIONS, duration, target, targetGroup } from './schema-target-group.ts'
import { access, forward, listenAddress } from './schema-common.ts'
import { tcpListener, tlsPassthroughListener, udpListener } from './schema-l4.ts'
import { cidrLists, clientLimits, connectionLimits, rateLimit, rateLimits, routeLimits, size, trustedProxies } from './schema-protection.ts'

const httpStatus = z.number().int().min(100).max(599)

const headerMatch = z.record(z.string(), z.string()).describe('Header name -> exact value ("*" = present).')

export const routeMatch = z.strictObject({
  host: z.string().optional().describe('Host name, exact or wildcard *.example.com; compared without port, case-insensitively.'),
  path: z.string().startsWith('/').optional().describe('Path prefix, e.g. /api/.'),
  pathExact: z.string().startsWith('/').optional().describe('Exact path.'),
  pathRegex: z.string().optional().describe('Regular expression tested against the path (JavaScript syntax).'),
  method: z.union([z.string(), z.array(z.string()).min(1)]).optional().describe('Method or list of methods.'),
  headers: headerMatch.optional(),
})

const redirectStatus = z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(302)
const redirect = z.union([
  z.strictObject({
    location: z.string().min(1).describe('Where to send the client.'),
    status: redirectStatus,
  }),
  z.strictObject({
    scheme: z.literal('https').describe('Send the client to the same host, path and query over HTTPS.'),
    port: z.number().int().min(1).max(65535).optional().describe('The HTTPS port, when not 443.'),
    status: redirectStatus,
  }),
])

/** The Location a redirect sends: its own, or for `scheme: https` the same host, path and query over HTTPS. */
export function redirectLocation(r: z.output<typeof redirect>): string {
  if ('location' in r) return r.location
  return `https://$host${r.port === undefined || r.port === 443 ? '' : `:${r.port}`}$request_uri`
}

const respond = z.strictObject({
  status: httpStatus.default(200),
  body: z.string().default(''),
  contentType: z.string().default('text/plain; charset=utf-8'),
  headers: z.record(z.string(), z.string()).default({}),
})

const TEMPLATE_HINT = 'nginx variables such as $host, $remote_addr, $request_uri, $http_NAME, $cookie_NAME, $arg_NAME, or ${name}'

/** A header name (RFC 9110 token). */
const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected a header name (letters, digits, "-")')

const proxyOptions = z.strictObject({
  setHeaders: z
    .record(headerName, z.string())
    .optional()
    .describe('Request headers for the target, as nginx proxy_set_header; values are templates (' + TEMPLATE_HINT + '). '
      + 'When present (even {}), only these are added: listener forwardedHeaders and requestId add nothing, Host defaults to '
      + '$proxy_host, and a header set to "" is not sent (nginx semantics). Absent: Fulcrum\'s forwarding headers.'),
  replacePrefix: z
    .strictObject({
      prefix: z.string().startsWith('/').describe('The matched prefix to cut from the normalised path, e.g. /api/.'),
      with: z.string().startsWith('/').describe('What replaces it, e.g. /v1/.'),
    })
    .optional()
    .describe('Rewrite the path sent to the target, as nginx proxy_pass with a URI part in a prefix location: '
      + '{ prefix: /api/, with: /v1/ } sends /api/x?q as /v1/x?q. Not allowed on regular-expression locations.'),
  host: z
    .string().min(1)
    .optional()
    .describe('The value of $proxy_host: the upstream as written in nginx proxy_pass (e.g. "backend" or "10.0.0.5:8080"). Default: the target group\'s name.'),
  passRequestHeaders: z
    .boolean().default(true)
    .describe('Pass the client\'s request headers to the target (nginx proxy_pass_request_headers). Default true.'),
  httpVersion: z
    .enum(['1.0', '1.1'])
    .default('1.1')
    .describe('nginx proxy_http_version; Fulcrum speaks HTTP/1.1 to targets either way (kept for translated files). Default 1.1.'),
}).describe('How a forwarded request is shaped (nginx proxy_* directives).')

const addHeader = z.strictObject({
  name: headerName.describe('Response header name.'),
  value: z.string().describe('A template (' + TEMPLATE_HINT + ').'),
  always: z
    .boolean().default(false)
    .describe('Add it whatever the status; otherwise only on 200, 201, 204, 206, 301, 302, 303, 304, 307, 308 (nginx add_header). Default false.'),
})

const addHeaders = z
  .array(addHeader)
  .describe('Response headers added as nginx add_header: only on success and redirect statuses unless always: true.')

const maxBodyBytes = size
  .describe('Largest request body in bytes (nginx client_max_body_size); 0 = no limit. A larger Content-Length gets 413 '
    + 'before the body is read; a chunked body that grows past it is cut. The innermost level that sets it decides. Default: no limit.')

/** What routes and locations share beyond their action. */
const actionExtras = {
  proxy: proxyOptions.optional(),
  addHeaders: addHeaders.optional(),
  access: access.optional(),
  ...cidrLists,
  maxBodyBytes: maxBodyBytes.optional(),
  limits: routeLimits.optional(),
  rateLimit: rateLimits.optional(),
  accessLog: z.boolean().optional()
    .describe('false: requests of this route (or location, and the locations inside it) are left out of the listener\'s access log (nginx access_log off); metrics still count them. Default: logged.'),
}

/** A route: optional `match`, then exactly one action: forward, redirect or respond. */
export const route = z.strictObject({
  match: routeMatch.default({}),
  forward: forward.optional(),
  redirect: redirect.optional(),
  respond: respond.optional(),
  ...actionExtras,
})

/** An nginx `location`: a selector and one action, or nested locations. */
export interface LocationInput {
  location: string
  forward?: z.input<typeof forward>
  redirect?: z.input<typeof redirect>
  respond?: z.input<typeof respond>
  proxy?: z.input<typeof proxyOptions>
  addHeaders?: z.input<typeof addHeaders>
  access?: z.input<typeof access>
  allow?: string[]
  deny?: string[]
  maxBodyBytes?: z.input<typeof maxBodyBytes>
  limits?: z.input<typeof routeLimits>
  rateLimit?: z.input<typeof rateLimits>
  accessLog?: boolean
  locations?: LocationInput[]
}
export interface LocationOutput {
  location: string
  forward?: z.output<typeof forward>
  redirect?: z.output<typeof redirect>
  respond?: z.output<typeof respond>
  proxy?: z.output<typeof proxyOptions>
  addHeaders?: z.output<typeof addHeaders>
  access?: z.output<typeof access>
  allow?: string[]
  deny?: string[]
  maxBodyBytes?: number
  limits?: z.output<typeof routeLimits>
  rateLimit?: z.output<typeof rateLimits>
  accessLog?: boolean
  locations?: LocationOutput[]
}

export const location: z.ZodType<LocationOutput, LocationInput> = z.strictObject({
  location: z
    .string().min(1)
    .describe('As nginx location: "= /exact", "^~ /prefix", "~ regex" (case-sensitive), "~* regex" (case-insensitive), '
      + 'or "/prefix". Exact match stops; else the longest prefix is remembered (^~ stops there); else regexes in order; '
      + 'else the remembered prefix.'),
  forward: forward.optional(),
  redirect: redirect.optional(),
  respond: respond.optional(),
  ...actionExtras,
  get locations(): z.ZodOptional<z.ZodArray<z.ZodType<LocationOutput, LocationInput>>> {
    return z.array(location).optional()
      .describe('Nested locations, searched as nginx does once this (prefix) location is chosen; if none matches, this one serves.')
  },
})

/** An nginx `server` block on a listener. */
export const virtualHost = z.strictObject({
  names: z
    .array(z.string())
    .default([])
    .describe('nginx server_name forms: exact, "*.example.com", "www.example.*", ".example.com" (both), "~regex"; [] or [""] = no name. '
      + 'Chosen as nginx: exact, longest leading wildcard, longest trailing wildcard, first regex, else the default.'),
  default: z
    .boolean().default(false)
    .describe('The virtual host for requests no name matches (nginx default_server). Default: the listener\'s first virtual host.'),
  locations: z.array(location).default([]).describe('nginx locations; none matching answers 404.'),
  access: access.optional(),
  ...cidrLists,
  maxBodyBytes: maxBodyBytes.optional(),
  rateLimit: rateLimits.optional(),
})

const accessLog = z.strictObject({
  format: z
    .union([z.literal('combined'), z.literal('json'), z.string().min(1)])
    .default('combined')
    .describe('combined (nginx\'s, byte for byte), json (one object per line), or a template with nginx variables such as "$remote_addr $status $request_time".'),
  path: z.string().min(1).default('stdout').describe('stdout, or a file (relative to the config file\'s folder); reopened on SIGUSR1 for logrotate.'),
})

const certificate = z.strictObject({
  cert: z.string().min(1).describe('PEM certificate (chain) file, relative to the config file\'s folder; its names come from its SAN.'),
  key: z.string().min(1).describe('PEM private key file of that certificate.'),
})
const listenerTls = z.strictObject({
  certificates: z.array(certificate).min(1)
    .describe('Chosen by SNI: exact names before wildcards; the first certificate answers when no name matches.'),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version accepted. Default TLSv1.2.'),
})
const hsts = z.strictObject({
  maxAge: duration.describe('How long browsers must use HTTPS only (e.g. "365d"); sent in seconds.'),
  includeSubDomains: z.boolean().default(false),
  preload: z.boolean().default(false),
})

export const httpListener = z.strictObject({
  name: z.string().min(1).describe('A name for logs and metrics.'),
  protocol: z.enum(['http', 'https']).describe('http, or https (TLS terminated here; needs tls).'),
  listen: listenAddress,
  tls: listenerTls.optional().describe('With protocol https: certificates and TLS version.'),
  http2: z.boolean().default(false).describe('With protocol https: offer HTTP/2 by ALPN (h2, then http/1.1). Targets still get HTTP/1.1. Default false.'),
  hsts: hsts.optional().describe('With protocol https: send Strict-Transport-Security on every answer.'),
  routes: z.array(route).default([]).describe('Tried in order; the first match wins; no match answers 404.'),
  virtualHosts: z
    .array(virtualHost).min(1)
    .optional()
    .describe('Instead of routes: nginx server blocks with locations, chosen by nginx\'s server_name and location rules.'),
  access: access.optional(),
  ...cidrLists,
  maxBodyBytes: maxBodyBytes.optional(),
  rateLimit: rateLimits.optional(),
  connectionLimits: connectionLimits.optional(),
  trustedProxies: trustedProxies.optional(),
  replaceForwardedFor: z.boolean().default(false)
    .describe('From peers that are not trusted proxies, drop the X-Forwarded-For they sent instead of appending to it (targets then see only what this balancer saw). Default false.'),
  errorPages: z
    .enum(['plain', 'nginx'])
    .default('plain')
    .describe('Bodies of Fulcrum\'s own 403/404/413/502/503/504 answers: plain text, or nginx\'s HTML pages (signed "fulcrum"). Default plain.'),
  limits: clientLimits.default({
    maxHeaderBytes: 16 * 1024, maxHeaders: 100, maxUriBytes: 8 * 1024, headerTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 75_000,
  }),
  forwardedHeaders: z
    .boolean().default(true)
    .describe('Add X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP to proxied requests. Default true.'),
  requestId: z.boolean().default(true).describe('Keep or generate X-Request-Id and echo it on the response. Default true.'),
  accessLog: accessLog.optional().describe('One line per request; none by default.'),
  acceptProxyProtocol: z.boolean().default(false)
    .describe('Clients (an L4 balancer in front) start each connection with a PROXY protocol header, v1 or v2; its source is the client\'s '
      + 'address in X-Forwarded-For, access logs, allow/deny. Turning this on is the trust: only put it on a listener nothing but that '
      + 'balancer can reach. A missing or malformed header closes the connection (the header timeout applies). Default false.'),
})

export const listener = z.discriminatedUnion('protocol', [httpListener, tcpListener, udpListener, tlsPassthroughListener])

export const configSchema = z.strictObject({
  workers: z
    .union([z.number().int().min(1).max(256), z.literal('auto')])
    .default(1)
    .describe('Data-plane processes: a number, or auto for one per core. Default 1, as nginx.'),
  admin: z
    .strictObject({
      listen: listenAddress.default('127.0.0.1:9090'),
      token: z.string().min(1).optional().describe('Bearer token the admin API requires; mandatory on a non-loopback address.'),
      enabled: z.boolean().default(true).describe('Serve the admin API. Default true.'),
    })
    .default({ listen: '127.0.0.1:9090', enabled: true }),
  dataDir: z.string().default('./data').describe('Durable state, relative to the config file\'s folder.'),
  drainTimeout: duration.default(30_000).describe('On stop, how long requests in flight may take to finish. Default 30s.'),
  maxConnections: z.number().int().min(1).optional()
    .describe('Most open client connections over all listeners together; past it new ones are closed at once. Default: no cap.'),
  listeners: z.array(listener).min(1).describe('Where clients connect.'),
  targetGroups: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use only letters, digits, "_", "." and "-"'), targetGroup)
    .default({})
    .describe('Named groups of targets.'),
})

/** A validated configuration, defaults filled in, durations in milliseconds. */
export type Config = z.output<typeof configSchema>
/** What a user writes (defaults optional, durations as strings). `defineConfig` takes this. */
export type ConfigInput = z.input<typeof configSchema>
/** Any listener: HTTP (http, https) or L4 (tcp, udp, tls-passthrough). */
export type ListenerConfig = Config['listeners'][number]
export type HttpListenerConfig = Extract<ListenerConfig, { protocol: 'http' | 'https' }>
export type TcpListenerConfig = Extract<ListenerConfig, { protocol: 'tcp' }>
export type UdpListenerConfig = Extract<ListenerConfig, { protocol: 'udp' }>
export type TlsPassthroughListenerConfig = Extract<ListenerConfig, { protocol: 'tls-passthrough' }>
/** The listeners that relay connections (tcp, tls-passthrough). */
export type StreamListenerConfig = TcpListenerConfig | TlsPassthroughListenerConfig
export type RouteConfig = HttpListenerConfig['routes'][number]
export type RouteMatchConfig = RouteConfig['match']
export type VirtualHostConfig = NonNullable<HttpListenerConfig['virtualHosts']>[number]
export type LocationConfig = LocationOutput
export type ProxyOptionsConfig = NonNullable<RouteConfig['proxy']>
export type AddHeaderConfig = NonNullable<RouteConfig['addHeaders']>[number]
export type AccessRuleConfig = NonNullable<RouteConfig['access']>[number]
export type TargetGroupConfig = Config['targetGroups'][string]
export type TargetConfig = TargetGroupConfig['targets'][number]
export type RetryCondition = (typeof RETRY_CONDITIONS)[number]
export type AlgorithmName = (typeof ALGORITHMS)[number]
export type HealthCheckConfig = NonNullable<TargetGroupConfig['healthCheck']>
export type AccessLogConfig = NonNullable<HttpListenerConfig['accessLog']>

export function isHttpListener(l: ListenerConfig): l is HttpListenerConfig {
  return l.protocol === 'http' || l.protocol === 'https'
}

/** The HTTP and HTTPS listeners of a config, in order. */
export function httpListeners(config: Pick<Config, 'listeners'>): HttpListenerConfig[] {
  return config.listeners.filter(isHttpListener)
}
export type RateLimitConfig = z.output<typeof rateLimit>
export type ConnectionLimitsConfig = z.output<typeof connectionLimits>
export type StickinessConfig = NonNullable<TargetGroupConfig['stickiness']>
