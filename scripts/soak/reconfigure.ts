/**
 * The soak's configuration file and the changes made to it while the load runs:
 *   every 4-6 s  rewrite the YAML (flip t1's weight between 1 and 3, or add/remove t5) and reload, by
 *                SIGHUP and by POST /api/v1/reload in turn
 *   every 13-17 s register t6 through the admin API, or deregister it (it is never in the file)
 */
import { renameSync, writeFileSync } from 'node:fs'
import { request } from 'undici'
import { every } from './chaos.ts'

export interface ConfigShape {
  readonly workers: number
  readonly listenPort: number
  readonly adminPort: number
  readonly dataDir: string
  readonly group: string
  /** address -> weight, in file order. */
  readonly targets: ReadonlyArray<readonly [string, number]>
}

/** Round robin, passive health (maxFails 1, failTimeout 5s), retries left at their defaults. */
export function configYaml(c: ConfigShape): string {
  return `# Written by scripts/soak.ts; rewritten during the run.
workers: ${c.workers}
admin: { listen: "127.0.0.1:${c.adminPort}" }
dataDir: ${JSON.stringify(c.dataDir)}
drainTimeout: 10s
listeners:
  - name: soak
    protocol: http
    listen: 127.0.0.1:${c.listenPort}
    routes:
      - forward: ${c.group}
targetGroups:
  ${c.group}:
    algorithm: round-robin
    passive: { maxFails: 1, failTimeout: 5s }
    targets:
${c.targets.map(([a, w]) => `      - { address: "${a}", weight: ${w} }`).join('\n')}
`
}

/** Written beside and renamed over, so the balancer never reads half a file. */
export function writeConfig(file: string, c: ConfigShape): void {
  writeFileSync(`${file}.tmp`, configYaml(c))
  renameSync(`${file}.tmp`, file)
}

export async function adminCall(adminPort: number, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await request(`http://127.0.0.1:${adminPort}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  })
  return { status: res.statusCode, text: await res.body.text() }
}

export interface ReconfigureOptions {
  readonly file: string
  readonly base: ConfigShape
  /** t1, always in the file; its weight flips. */
  readonly flipWeightOf: string
  /** t5, in the file or not. */
  readonly toggled: string
  /** t6, registered and deregistered through the API. */
  readonly registered: string
  readonly balancerPid: number
  readonly random: () => number
  readonly log: (line: string) => void
}

export class Reconfigure {
  /** "SIGHUP sent", "API reload 200", "register 201", "deregister 202", "error: …" -> count. */
  readonly outcomes = new Map<string, number>()
  reloads = 0
  readonly #o: ReconfigureOptions
  readonly #abort = new AbortController()
  #weight = 1
  #withToggled = false
  #isRegistered = false
  #running: Promise<unknown> = Promise.resolve()

  constructor(o: ReconfigureOptions) {
    this.#o = o
  }

  start(): void {
    const onError = (err: Error): void => this.#count(`error: ${err.message.slice(0, 80)}`)
    this.#running = Promise.all([
      every(this.#o.random, 4000, 6000, this.#abort.signal, () => this.#reload(), onError),
      every(this.#o.random, 13_000, 17_000, this.#abort.signal, () => this.#register(), onError),
    ])
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#running
  }

  #count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1)
  }

  async #reload(): Promise<void> {
    const o = this.#o
    if (o.random() < 0.5) this.#weight = this.#weight === 1 ? 3 : 1
    else this.#withToggled = !this.#withToggled
    const targets = o.base.targets.map(([a, w]): [string, number] => [a, a === o.flipWeightOf ? this.#weight : w])
    if (this.#withToggled) targets.push([o.toggled, 1])
    writeConfig(o.file, { ...o.base, targets })
    const change = `${o.flipWeightOf} weight ${this.#weight}, ${o.toggled} ${this.#withToggled ? 'in' : 'out'}`
    this.reloads++
    if (this.reloads % 2 === 1) {
      process.kill(o.balancerPid, 'SIGHUP')
      this.#count('reload by SIGHUP: sent')
      o.log(`reload (SIGHUP): ${change}`)
    } else {
      const res = await adminCall(o.base.adminPort, 'POST', '/api/v1/reload')
      this.#count(`reload by POST /api/v1/reload: ${res.status}`)
      o.log(`reload (API ${res.status}): ${change}`)
      if (res.status !== 200) o.log(`  ${res.text.slice(0, 300)}`)
    }
  }

  async #register(): Promise<void> {
    const o = this.#o
    const group = encodeURIComponent(o.base.group)
    const res = this.#isRegistered
      ? await adminCall(o.base.adminPort, 'DELETE', `/api/v1/target-groups/${group}/targets/${encodeURIComponent(o.registered)}`)
      : await adminCall(o.base.adminPort, 'POST', `/api/v1/target-groups/${group}/targets`, { address: o.registered, weight: 1 })
    const what = this.#isRegistered ? 'deregister' : 'register'
    this.#count(`${what} ${o.registered}: ${res.status}`)
    o.log(`admin: ${what} ${o.registered} -> ${res.status}`)
    if (res.status >= 300) o.log(`  ${res.text.slice(0, 300)}`)
    else this.#isRegistered = !this.#isRegistered
  }
}
