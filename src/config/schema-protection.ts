/**
 * What protects the front door: request limits (sizes and timeouts), rate limits (nginx limit_req),
 * connection limits (nginx limit_conn), allow/deny lists, and which peers may speak for the client
 * (trusted proxies). Split out of schema.ts, which puts them on listeners and routes.
 */
import { z } from 'zod'
import { duration } from './schema-target-group.ts'

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i
const UNIT: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 }
export const SIZE_HINT = 'a number of bytes, or a size such as "16KiB", "10MiB", "8k" or "1m" (k, m and g count 1024s, as nginx)'

/** Bytes, or text with a unit: "16KiB", "10MiB", "8k" (nginx's k/m/g are 1024s too). */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim())
  if (m === null) return undefined
  const n = Number(m[1]) * UNIT[(m[2] ?? 'b').toLowerCase()]
  return Number.isSafeInteger(Math.round(n)) ? Math.round(n) : undefined
}

export const size = z
  .union([z.number().int().min(0), z.string().regex(SIZE, `expected ${SIZE_HINT}`)])
  .transform((v) => (typeof v === 'number' ? v : parseSize(v) as number))
  .describe(`A size: ${SIZE_HINT}.`)

export const clientLimits = z.strictObject({
  maxHeaderBytes: size.default(16 * 1024)
    .describe('Largest request head (request line and headers): 431 past it. nginx large_client_header_buffers. Default 16KiB.'),
  maxHeaders: z.number().int().min(1).max(10_000).default(100).describe('Most request header fields: 431 past it. Default 100.'),
  maxUriBytes: size.default(8 * 1024).describe('Longest request target (path and query): 414 past it. nginx large_client_header_buffers. Default 8KiB.'),
  maxBodyBytes: size.optional()
    .describe('Largest request body for every route of the listener that sets none (as maxBodyBytes on the listener): 413 before the body is read. Default: no limit.'),
  headerTimeout: duration.default(60_000)
    .describe('Time a client has to send the whole request head; past it the connection is closed (408 when a request had started). nginx client_header_timeout. Default 60s.'),
  bodyTimeout: duration.default(60_000)
    .describe('Longest pause between two reads of a request body; past it 408 (or a close once the answer started). nginx client_body_timeout. Default 60s.'),
  keepAliveTimeout: duration.default(75_000).describe('How long an idle client connection is kept (nginx keepalive_timeout). Default 75s.'),
})

/** Route-level limits: what may differ per route (the head is read before any route is known). */
export const routeLimits = z.strictObject({
  maxBodyBytes: size.optional().describe('Largest request body of this route (same as maxBodyBytes on the route).'),
  bodyTimeout: duration.optional().describe('Longest pause between two reads of this route\'s request bodies.'),
})

const RATE = /^(\d+(?:\.\d+)?)r\/(s|m)$/
export const rateLimit = z.strictObject({
  rate: z.string().regex(RATE, 'expected a rate such as "10r/s" or "600r/m"')
    .transform((r) => { const m = RATE.exec(r) as RegExpExecArray; return Number(m[1]) / (m[2] === 's' ? 1 : 60) })
    .refine((perSecond) => perSecond > 0, 'a rate must be above 0; to refuse every request, use deny: [all]')
    .describe('Requests allowed per second ("10r/s") or minute ("600r/m"), per key; a leaky bucket as nginx limit_req.'),
  burst: z.number().int().min(0).default(0).describe('Requests above the rate held (delayed) or, with nodelay, served at once before any is refused. Default 0.'),
  nodelay: z.boolean().default(false).describe('Serve requests within the burst at once instead of spacing them at the rate. Default false.'),
  delay: z.number().int().min(0).default(0).describe('Requests of the burst served without delay before the rest are spaced (nginx delay=). Default 0.'),
  key: z.string().regex(/^(client-ip|header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+)$/, 'expected client-ip or header:NAME').default('client-ip')
    .describe('What a bucket is kept for: client-ip (the client\'s address, after trustedProxies and PROXY protocol) or header:NAME. A request without the header is not limited (as nginx with an empty key). Default client-ip.'),
  status: z.number().int().min(400).max(599).default(429).describe('Status of a refused request, with Retry-After. Default 429 (nginx limit_req_status defaults to 503).'),
  zone: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional()
    .describe('Share buckets with every rateLimit of the same zone name (nginx limit_req_zone); they must have the same rate. Default: buckets of this rateLimit alone.'),
  maxKeys: z.number().int().min(1).default(100_000).describe('Most keys tracked; the least recently seen is forgotten past it (nginx zone size). Default 100000.'),
})

export const rateLimits = z.union([rateLimit, z.array(rateLimit).min(1)])
  .describe('Rate limit(s) as nginx limit_req: every one must pass. The innermost level that sets any decides (route or location, virtual host, listener).')

export const connectionLimits = z.strictObject({
  perClient: z.number().int().min(1).optional().describe('Most open connections from one client address (nginx limit_conn with $binary_remote_addr).'),
  total: z.number().int().min(1).optional().describe('Most open connections on this listener (nginx limit_conn with $server_name).'),
  status: z.number().int().min(400).max(599).default(503)
    .describe('HTTP listeners: the status a connection over a limit gets to its first request before it is closed (nginx limit_conn_status). L4 listeners close it. Default 503.'),
})

const cidr = z.string().min(1)
export const cidrLists = {
  allow: z.array(cidr).optional()
    .describe('Only these clients (addresses or CIDRs, IPv4 and IPv6) are let in; others get 403 (HTTP) or are closed (L4). The security group of the seeds.'),
  deny: z.array(cidr).optional().describe('These clients (addresses or CIDRs) get 403 (HTTP) or are closed (L4), before allow is looked at.'),
}

export const trustedProxies = z.array(cidr)
  .describe('Peers (addresses or CIDRs) whose X-Forwarded-For is believed: the client is the rightmost address in it that is not itself a trusted proxy '
    + '(nginx set_real_ip_from with real_ip_recursive on). From other peers the connecting address is the client.')
