/**
 * `ip-hash`: the client's address (`req.clientIp`) on a consistent hash ring, so one client keeps reaching
 * one target. Unlike nginx's ip_hash (a hash modulo the target count, over the first three octets of IPv4),
 * ours is consistent: adding a target moves only about 1/(n+1) of the clients, all of them to the new
 * target, and a target that goes down or drains moves only its own clients. The whole address is hashed.
 * An empty address (e.g. a Unix socket client) falls back to smooth weighted round robin, so such clients
 * do not all pile onto one target.
 */
import type { Algorithm, AlgorithmFactory, RequestFacts, Target } from './algorithm.ts'
import { HashRing, hash32 } from './hash-ring.ts'
import { SmoothWeighted } from './smooth-weighted.ts'

class IpHash implements Algorithm {
  readonly name = 'ip-hash'
  readonly #ring: HashRing
  readonly #smooth: SmoothWeighted

  constructor(targets: readonly Target[]) {
    this.#ring = new HashRing(targets)
    this.#smooth = new SmoothWeighted(targets)
  }

  pick(eligible: readonly Target[], req: RequestFacts): Target | undefined {
    const ip = req.clientIp
    if (!ip) return this.#smooth.pick(eligible)
    return this.#ring.pick(eligible, hash32(ip))
  }
}

export const ipHash: AlgorithmFactory = (targets) => new IpHash(targets)
