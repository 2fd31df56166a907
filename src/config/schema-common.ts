/**
 * Schema pieces every kind of listener uses (schema.ts for HTTP, schema-l4.ts for TCP, UDP and TLS
 * passthrough), defined once.
 */
import { z } from 'zod'

/** `8080`, `127.0.0.1:8080`, `[::1]:8080`, `*:8080`. */
export const listenAddress = z
  .union([z.number().int().min(1).max(65535), z.string().min(1)])
  .describe('Where to listen: a port (all addresses), or host:port, or [v6]:port.')

export const forward = z
  .union([z.string().min(1), z.record(z.string(), z.number().int().min(0))])
  .describe('A target group name, or target group -> weight for weighted (canary, blue/green) forwarding.')

const accessRule = z.union([
  z.strictObject({ allow: z.string().min(1).describe('An address, a CIDR (10.0.0.0/8, 2001:db8::/32) or all.') }),
  z.strictObject({ deny: z.string().min(1).describe('An address, a CIDR (10.0.0.0/8, 2001:db8::/32) or all.') }),
])

export const access = z
  .array(accessRule)
  .describe('Client address rules as nginx allow/deny: checked in order, the first match decides, no match allows; '
    + 'denied requests get 403. IPv4-mapped IPv6 clients are compared as IPv4. The innermost level that has rules '
    + '(route or location, then virtual host, then listener) decides; levels do not combine (nginx inheritance).')

