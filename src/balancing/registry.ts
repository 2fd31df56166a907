/** Every balancing algorithm by its config name (`targetGroups.*.algorithm`). */
import type { AlgorithmName } from '../config/schema.ts'
import type { AlgorithmFactory } from './algorithm.ts'
import { hash } from './hash.ts'
import { ipHash } from './ip-hash.ts'
import { leastConn } from './least-conn.ts'
import { leastTime } from './least-time.ts'
import { p2c } from './p2c.ts'
import { random } from './random.ts'
import { roundRobin } from './round-robin.ts'

export const algorithms: Record<AlgorithmName, AlgorithmFactory> = {
  'round-robin': roundRobin,
  'least-conn': leastConn,
  'least-time': leastTime,
  random,
  p2c,
  'ip-hash': ipHash,
  hash,
}
