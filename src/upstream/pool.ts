/**
 * One undici `Pool` of keep-alive connections per target, shared by every group and generation that
 * uses the same target with the same connection settings, so a reload keeps warm connections.
 */
import { Pool } from 'undici'
import type { TargetGroupConfig } from '../config/schema.ts'

export interface PoolSettings {
  readonly connections: number
  readonly connectTimeout: number
  readonly keepAlive: number
}

export function poolSettings(group: TargetGroupConfig): PoolSettings {
  return {
    connections: group.connections,
    connectTimeout: group.timeouts.connect,
    keepAlive: group.timeouts.keepAlive,
  }
}

function keyOf(host: string, port: number, s: PoolSettings): string {
  return `${host}|${port}|${s.connections}|${s.connectTimeout}|${s.keepAlive}`
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
      const origin = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`
      pool = new Pool(origin, {
        connections: settings.connections,
        pipelining: 1,
        connect: { timeout: settings.connectTimeout === 0 ? 600_000 : settings.connectTimeout },
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
