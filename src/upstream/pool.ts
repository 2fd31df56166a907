/**
 * One undici `Pool` of keep-alive connections per target, shared by every group and generation that
 * uses the same target with the same connection settings, so a reload keeps warm connections.
 */
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'
import type { TargetGroupConfig } from '../config/schema.ts'

export interface PoolSettings {
  readonly connections: number
  readonly connectTimeout: number
  readonly keepAlive: number
  /** protocol: https groups: how to verify the targets. undefined speaks plain HTTP. */
  readonly tls: UpstreamTls | undefined
}

export interface UpstreamTls {
  /** The CA file's path (for the pool key) and its PEM; undefined uses the system CAs. */
  readonly caFile: string | undefined
  readonly ca: Buffer | undefined
  readonly serverName: string | undefined
  readonly rejectUnauthorized: boolean
}

export function poolSettings(group: TargetGroupConfig): PoolSettings {
  return {
    connections: group.connections,
    connectTimeout: group.timeouts.connect,
    keepAlive: group.timeouts.keepAlive,
    // The CA is read with the settings, which are made once per generation: a reload re-reads it.
    tls: group.protocol !== 'https' ? undefined : {
      caFile: group.tls?.ca,
      ca: group.tls?.ca === undefined ? undefined : readFileSync(group.tls.ca),
      serverName: group.tls?.serverName,
      rejectUnauthorized: group.tls?.insecureSkipVerify !== true,
    },
  }
}

function keyOf(host: string, port: number, s: PoolSettings): string {
  const tls = s.tls === undefined ? '' : `|https|${s.tls.caFile ?? ''}|${s.tls.ca?.toString('base64') ?? ''}|${s.tls.serverName ?? ''}|${s.tls.rejectUnauthorized}`
  return `${host}|${port}|${s.connections}|${s.connectTimeout}|${s.keepAlive}${tls}`
}

export class PoolRegistry {
  readonly #pools = new Map<string, Pool>()
  /** Per-generation target -> pool, so the request path does no key building. */
  readonly #byTarget = new WeakMap<object, Pool>()

  /** The pool for one group target; `target` is the generation's object (a reload makes new ones). */
  forTarget(target: { readonly host: string; readonly port: number }, settings: PoolSettings): Pool {
    let pool = this.#byTarget.get(target)
    if (pool === undefined) {
      pool = this.get(target.host, target.port, settings)
      this.#byTarget.set(target, pool)
    }
    return pool
  }

  get(host: string, port: number, settings: PoolSettings): Pool {
    const key = keyOf(host, port, settings)
    let pool = this.#pools.get(key)
    if (pool === undefined) {
      const scheme = settings.tls === undefined ? 'http' : 'https'
      const origin = host.includes(':') ? `${scheme}://[${host}]:${port}` : `${scheme}://${host}:${port}`
      const tls = settings.tls
      pool = new Pool(origin, {
        connections: settings.connections,
        pipelining: 1,
        connect: {
          timeout: settings.connectTimeout === 0 ? 600_000 : settings.connectTimeout,
          ...(tls === undefined ? {} : {
            ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized,
            // SNI carries names only; for an IP target without serverName none is sent, and the IP is checked.
            ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
          }),
        },
        keepAliveTimeout: settings.keepAlive,
        keepAliveMaxTimeout: Math.max(settings.keepAlive, 1_000),
        // A target's keep-alive hint shorter than ours wins, less this margin, so we don't reuse a socket
        // the target is about to close.
        keepAliveTimeoutThreshold: 1_000,
        // Proxied responses are passed through as they are; their length is the target's business.
        strictContentLength: false,
      })
      this.#pools.set(key, pool)
    }
    return pool
  }

  /** Close pools no longer in `keep` (by the key the same arguments give); they finish their requests first. */
  retain(keep: ReadonlyArray<{ host: string; port: number; settings: PoolSettings }>): void {
    const wanted = new Set(keep.map((k) => keyOf(k.host, k.port, k.settings)))
    for (const [key, pool] of this.#pools) {
      if (wanted.has(key)) continue
      this.#pools.delete(key)
      pool.close().catch(() => pool.destroy().catch(() => {}))
    }
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())))
  }

  async destroyAll(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})))
  }
}
