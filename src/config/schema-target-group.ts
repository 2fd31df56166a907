/**
 * The target-group part of the configuration's one definition (see schema.ts): targets, algorithms,
 * passive and active health, retries, timeouts, slow start, stickiness, upstream TLS. Split out so each
 * file stays readable; schema.ts re-exports what other modules use.
 */
import { z } from 'zod'
import { DURATION_HINT, parseDuration } from './duration.ts'

/** A duration: "500ms", "5s", "1m", "1h", or a number of milliseconds. Parsed to milliseconds. */
export const duration = z
  .union([z.string(), z.number().nonnegative()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value
    const ms = parseDuration(value)
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, found "${value}"` })
      return z.NEVER
    }
    return ms
  })
  .describe('A duration: "500ms", "5s", "1m", "1h", or milliseconds as a number. 0 turns the limit off.')

const targetObject = z.strictObject({
  address: z.string().describe('host:port of the target, e.g. 127.0.0.1:8081 or [::1]:8081.'),
  weight: z.number().int().min(1).max(1_000_000).default(1).describe('Relative share of requests. Default 1.'),
  maxConns: z
    .number().int().min(0).default(0)
    .describe('Most requests in flight to this target at once; 0 means no limit (nginx max_conns). Default 0.'),
  backup: z.boolean().default(false).describe('Serve only when every primary target is down (nginx backup). Default false.'),
})

/** A target, written either as "host:port" or as an object. */
export const target = z
  .union([z.string(), targetObject])
  .transform((t) => (typeof t === 'string' ? { address: t, weight: 1, maxConns: 0, backup: false } : t))

export const ALGORITHMS = ['round-robin', 'least-conn', 'least-time', 'random', 'p2c', 'ip-hash', 'hash'] as const

export const RETRY_CONDITIONS = [
  'error', 'timeout', 'invalid_header',
  'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429',
] as const

const passive = z.strictObject({
  maxFails: z
    .number().int().min(0).default(1)
    .describe('Failures within failTimeout that mark the target down for failTimeout; 0 turns passive checks off. Default 1 (nginx max_fails).'),
  failTimeout: duration.default(10_000).describe('Window for counting failures, and how long a failed target stays down. Default 10s (nginx fail_timeout).'),
})

const retryBudget = z.strictObject({
  ratio: z.number().min(0).max(10).default(0.2).describe('Retries may add at most this share to the request rate. Default 0.2 (20%).'),
  minPerSecond: z.number().min(0).default(10).describe('Retries always allowed per second regardless of the ratio. Default 10.'),
})

const retries = z.strictObject({
  tries: z.number().int().min(1).default(3).describe('Most attempts per request, the first included (nginx proxy_next_upstream_tries). Default 3.'),
  on: z
    .array(z.enum(RETRY_CONDITIONS)).default(['error', 'timeout'])
    .describe('What moves a request to the next target (nginx proxy_next_upstream). Default [error, timeout].'),
  nonIdempotent: z
    .boolean().default(false)
    .describe('Also retry POST, PATCH and other non-idempotent requests after they reached a target. Default false.'),
  timeout: duration.default(0).describe('Time limit for all attempts of one request together; 0 = none (nginx proxy_next_upstream_timeout). Default 0.'),
  budget: retryBudget.default({ ratio: 0.2, minPerSecond: 10 }).describe('Caps retries so a failing group is not hit with multiplied load.'),
})

const upstreamTimeouts = z.strictObject({
  connect: duration.default(5_000).describe('Time to open a connection to a target. Default 5s.'),
  responseHeader: duration.default(60_000).describe('Time from sending the request to the end of the response headers. Default 60s.'),
  idle: duration.default(60_000).describe('Longest pause while reading the response body (nginx proxy_read_timeout between reads). Default 60s.'),
  keepAlive: duration.default(60_000).describe('How long an idle pooled connection to a target is kept. Default 60s.'),
})

const MATCHER = /^\s*[1-5]\d\d(\s*-\s*[1-5]\d\d)?(\s*,\s*[1-5]\d\d(\s*-\s*[1-5]\d\d)?)*\s*$/

const healthCheck = z.strictObject({
  protocol: z.enum(['http', 'https', 'tcp']).optional()
    .describe('http: a request to path must answer a matching status; https: the same over TLS, verified as the group\'s traffic is (tls.ca, serverName, insecureSkipVerify); '
      + 'tcp: a connection must open. Default: the group\'s protocol (http or https), as an ALB.'),
  path: z.string().startsWith('/').default('/').describe('Path requested by http checks. Default /.'),
  port: z
    .union([z.literal('traffic-port'), z.number().int().min(1).max(65535)])
    .default('traffic-port')
    .describe('Port to check: the target\'s own (traffic-port) or another. Default traffic-port.'),
  host: z.string().optional().describe('Host header of http checks. Default: the target address.'),
  interval: duration.default(30_000).describe('Time between two checks of one target. Default 30s (as an ALB).'),
  timeout: duration.default(5_000).describe('A check without an answer in this time fails. Default 5s.'),
  healthyThreshold: z.number().int().min(1).max(100).default(5).describe('Passes in a row that make a target healthy. Default 5.'),
  unhealthyThreshold: z.number().int().min(1).max(100).default(2).describe('Failures in a row that make a target unhealthy. Default 2.'),
  matcher: z
    .string().regex(MATCHER, 'expected status codes and ranges such as "200", "200-299" or "200-299,302"')
    .default('200')
    .describe('Statuses that pass, e.g. "200-299,302". Default "200".'),
})

const slowStart = z
  .union([
    duration,
    z.strictObject({
      until: z.literal('latency').describe('End the ramp when the target answers as fast as its peers.'),
      max: duration.default(120_000).describe('Longest ramp, whatever the latency. Default 2m.'),
    }),
  ])
  .describe('Ramp a new or recovered target\'s weight up linearly: a duration, or { until: latency, max }. Default 0 (off).')

const stickiness = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('cookie'),
      cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).default('fulcrum_sticky'),
      duration: duration.default(3_600_000).describe('Cookie lifetime. Default 1h.'),
    }),
    z.strictObject({
      type: z.literal('app-cookie'),
      cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).describe('The application\'s session cookie, e.g. JSESSIONID.'),
    }),
  ])
  .describe('Keep a client on one target: a balancer cookie, or follow the application\'s cookie.')

const upstreamTls = z.strictObject({
  ca: z.string().min(1).optional().describe('PEM file of the CA that signs the targets\' certificates (relative to the config file\'s folder). Default: the system CAs.'),
  serverName: z.string().min(1).optional().describe('SNI name sent, and the name the certificate must carry. Default: the target\'s host.'),
  insecureSkipVerify: z.boolean().default(false)
    .describe('UNSAFE: accept any certificate, so anyone on the path can read and change the traffic. For tests only. Default false.'),
})

export const targetGroup = z.strictObject({
  protocol: z.enum(['http', 'https']).default('http').describe('How targets are spoken to: http, or https (TLS, verified by default). Default http.'),
  tls: upstreamTls.optional().describe('With protocol https: the CA, server name and verification.'),
  algorithm: z.enum(ALGORITHMS).default('round-robin').describe('How a target is chosen. Default round-robin (smooth weighted, as nginx).'),
  hashKey: z
    .string()
    .regex(/^(header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|cookie:[^\s;=]+|path|client-ip|[^]*\$[^]*)$/,
      // Templates are for nginx users; the hint names the forms most people want.
      'expected header:NAME, cookie:NAME, path or client-ip')
    .optional()
    .describe('For algorithm hash: header:NAME | cookie:NAME | path | client-ip, or an nginx template ("$request_uri", '
      + '"$remote_addr$http_x_user"). Consistent hashing.'),
  targets: z.array(target).default([]).describe('The targets: "host:port" strings or objects with address, weight, maxConns, backup.'),
  passive: passive.default({ maxFails: 1, failTimeout: 10_000 }),
  retries: retries.default({
    tries: 3, on: ['error', 'timeout'], nonIdempotent: false, timeout: 0, budget: { ratio: 0.2, minPerSecond: 10 },
  }),
  timeouts: upstreamTimeouts.default({ connect: 5_000, responseHeader: 60_000, idle: 60_000, keepAlive: 60_000 }),
  connections: z.number().int().min(1).default(128).describe('Most pooled connections per target. Default 128.'),
  healthCheck: healthCheck.optional().describe('Active health checks (ALB target-group semantics). None: targets are healthy once registered.'),
  failOpen: z.boolean().default(true).describe('When no target is healthy, use them all (as an ALB does); false answers 503. Default true.'),
  deregistrationDelay: duration.default(30_000).describe('How long a deregistered target may finish its requests in flight. Default 30s.'),
  slowStart: slowStart.default(0),
  stickiness: stickiness.optional(),
})
