/**
 * Starts a Balancer in this process from a config object (validated by the real schema), listening on
 * ephemeral ports, and stops it after the test.
 */
import type { TestContext } from 'node:test'
import { Balancer } from '../../src/balancer.ts'
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.ts'
import { silentLogger } from '../../src/log.ts'

export interface RunningBalancer {
  readonly balancer: Balancer
  /** http://127.0.0.1:PORT of the first (or the named) listener. */
  url(listener?: string): string
  port(listener?: string): number
  reload(input: ConfigInput): Promise<void>
}

export function parse(input: ConfigInput): Config {
  return configSchema.parse(input)
}

export async function startBalancer(t: TestContext, input: ConfigInput): Promise<RunningBalancer> {
  const config = parse(input)
  const balancer = new Balancer({ log: silentLogger() })
  await balancer.start(config)
  t.after(() => balancer.stop(1_000))
  const port = (name?: string): number => {
    const ports = balancer.ports()
    return name === undefined ? Object.values(ports)[0] : ports[name]
  }
  return {
    balancer,
    port,
    url: (name?: string) => `http://127.0.0.1:${port(name)}`,
    reload: async (next: ConfigInput) => { await balancer.reload(parse(next)) },
  }
}

/** One HTTP listener on an ephemeral port forwarding everything to one group with these targets. */
export function simpleConfig(targets: string[], group: Record<string, unknown> = {}): ConfigInput {
  return {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets, ...group } },
  } as ConfigInput
}
