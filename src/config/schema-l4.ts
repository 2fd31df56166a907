/**
 * The L4 listeners (the network load balancer): tcp, udp and tls-passthrough. They relay bytes or
 * datagrams to a target group without reading HTTP. Split out of schema.ts, which composes them with the
 * HTTP listener into one `listeners` list told apart by `protocol`.
 */
import { z } from 'zod'
import { access, forward, listenAddress } from './schema-common.ts'
import { cidrLists, connectionLimits } from './schema-protection.ts'
import { duration } from './schema-target-group.ts'

const proxyProtocol = z.enum(['v1', 'v2'])
  .describe('Send a PROXY protocol header (HAProxy\'s, v1 text or v2 binary) to the target first, so it learns the client\'s address.')

const acceptProxyProtocol = z.boolean().default(false)
  .describe('Clients (another balancer) start each connection with a PROXY protocol header, v1 or v2; its source is the client\'s address. '
    + 'Turning this on is the trust: only put it on a listener that nothing but that balancer can reach. A missing or malformed header closes the connection. Default false.')

const prereadTimeout = duration.default(30_000)
  .describe('Time a client has to send the PROXY header or the TLS ClientHello (nginx preread_timeout, proxy_protocol_timeout). Default 30s.')

const sessionLog = z.strictObject({
  format: z.union([z.literal('stream'), z.literal('json'), z.string().min(1)]).default('stream')
    .describe('stream ("$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time \\"$upstream_addr\\""), '
      + 'json (one object per line), or a template with nginx stream variables. Default stream.'),
  path: z.string().min(1).default('stdout').describe('stdout, or a file (relative to the config file\'s folder); reopened on SIGUSR1 for logrotate.'),
}).describe('One line per session (connection, or UDP client flow) when it ends; none by default.')

const streamCommon = {
  name: z.string().min(1).describe('A name for logs and metrics.'),
  listen: listenAddress,
  proxyProtocol: proxyProtocol.optional(),
  acceptProxyProtocol,
  idleTimeout: duration.default(600_000)
    .describe('A connection with no bytes either way for this long is closed (nginx proxy_timeout). Default 10m.'),
  prereadTimeout,
  access: access.optional(),
  ...cidrLists,
  connectionLimits: connectionLimits.optional(),
  accessLog: sessionLog.optional(),
}

export const tcpListener = z.strictObject({
  protocol: z.literal('tcp').describe('tcp: each connection is relayed to a target of the forward group.'),
  ...streamCommon,
  forward: forward,
})

const sniRoute = z.strictObject({
  serverNames: z.array(z.string().min(1)).min(1)
    .describe('SNI names: exact (api.example.com) or a leading wildcard (*.example.com, any depth below). Exact names win, then the longest wildcard.'),
  forward: forward,
})

export const tlsPassthroughListener = z.strictObject({
  protocol: z.literal('tls-passthrough')
    .describe('tls-passthrough: the TLS stays end to end; the target group is chosen by the SNI name of the ClientHello.'),
  ...streamCommon,
  routes: z.array(sniRoute).default([]).describe('SNI name -> target group.'),
  forward: forward.optional().describe('Where connections go whose SNI name no route lists (or that send none). Default: they are closed.'),
})

export const udpListener = z.strictObject({
  protocol: z.literal('udp').describe('udp: datagrams from one client address go to one target while they keep coming.'),
  name: streamCommon.name,
  listen: listenAddress,
  forward: forward,
  idleTimeout: duration.default(120_000)
    .describe('A client\'s session (its target and socket) ends after this long without a datagram either way (the AWS NLB\'s UDP timeout). Default 120s.'),
  maxSessions: z.number().int().min(1).default(10_000)
    .describe('Most client sessions kept at once; a new client past it replaces the longest idle one. Default 10000.'),
  access: access.optional(),
  ...cidrLists,
  accessLog: sessionLog.optional(),
})

