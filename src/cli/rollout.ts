/**
 * `fulcrum rollout --group G --exec "CMD {address}"`: a zero-downtime rolling deploy, one target at a time:
 * deregister and wait until it has drained, run CMD (which restarts the app on that address), register it
 * again with its weight, and wait until its health checks pass before going on. When a step fails (CMD
 * exits non-zero, the target is not healthy within --timeout, Ctrl-C) the rollout stops, puts the current
 * target back in the group if it is out, and says which targets were done and which were not touched.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { AdminApiError, CliError, type AdminClient } from './admin-client.ts'
import type { GroupView, TargetView } from './status.ts'
import { targetPath, type DrainResult } from './targets.ts'

export interface RolloutOptions {
  readonly group: string
  /** Run by /bin/sh -c with every {address} replaced by the target's address. */
  readonly exec: string
  /** How long a re-registered target may take to turn healthy. */
  readonly timeoutMs: number
  /** Abort instead of going on when the deregistration delay passes with requests still in flight. */
  readonly waitDrain: boolean
}

/** Between two looks at a re-registered target's state; the checks themselves run on their own interval. */
const POLL_MS = 100

export async function runRollout(client: AdminClient, o: RolloutOptions): Promise<number> {
  const first = await client.call<GroupView>('GET', targetPath(o.group))
  // A target already draining is on its way out: it is not ours to restart.
  const targets = first.targets.filter((t) => t.state !== 'draining')
  if (targets.length === 0) throw new CliError(`target group "${o.group}" has no target to roll out`)
  console.log(`rollout of target group "${o.group}": ${targets.length} target${targets.length === 1 ? '' : 's'}, one at a time: ${targets.map((t) => t.address).join(', ')}`)

  const interrupt = new AbortController()
  const onSignal = (): void => interrupt.abort(new CliError('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const done: string[] = []
  try {
    for (const [i, target] of targets.entries()) {
      const step = `[${i + 1}/${targets.length}] ${target.address}`
      try {
        await rollOne(client, o, target, step, interrupt.signal)
        done.push(target.address)
      } catch (err) {
        const reason = interrupt.signal.aborted ? 'interrupted' : (err as Error).message
        console.error(`fulcrum: rollout aborted at ${target.address}: ${reason}`)
        await restore(client, o.group, target)
        const untouched = targets.slice(i + 1).map((t) => t.address)
        console.error(`done: ${done.join(', ') || 'none'}; failed: ${target.address}; not touched: ${untouched.join(', ') || 'none'}`)
        return 1
      }
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  console.log(`rollout complete: ${done.length} target${done.length === 1 ? '' : 's'} of "${o.group}" restarted and healthy`)
  return 0
}

async function rollOne(client: AdminClient, o: RolloutOptions, target: TargetView, step: string, signal: AbortSignal): Promise<void> {
  const group = await client.call<GroupView>('GET', targetPath(o.group), { signal })
  if (!group.targets.some((t) => t.address !== target.address && t.state === 'healthy')) {
    console.error(`warning: no other target of "${o.group}" is healthy: requests may fail while ${target.address} restarts`)
  }
  const path = targetPath(o.group, target.address)
  const { drainingUntil } = await client.call<{ drainingUntil: string }>('DELETE', path, { signal })
  console.log(`${step}: deregistered, draining until ${drainingUntil}`)
  // A target with nothing in flight may leave before this second call arrives: that is a finished drain.
  const { outcome } = await client.call<{ outcome: DrainResult }>('DELETE', `${path}?wait=true`, { wait: true, signal })
    .catch((err: unknown) => {
      if (err instanceof AdminApiError && err.code === 'target_not_found') return { outcome: 'drained' as DrainResult }
      throw err
    })
  if (outcome === 'not-draining') throw new CliError('it was registered again by someone else while draining')
  if (outcome === 'delay-expired' && o.waitDrain) throw new CliError('the deregistration delay passed with requests still in flight (--wait-drain)')
  console.log(`${step}: ${outcome === 'drained' ? 'drained: no request in flight' : 'deregistration delay passed with requests still in flight'}`)

  const command = o.exec.replaceAll('{address}', target.address)
  console.log(`${step}: running: ${command}`)
  await run(command, target.address, o.group, signal)

  await client.call('POST', `${targetPath(o.group)}/targets`, { body: { address: target.address, weight: target.weight }, signal })
  console.log(`${step}: registered again (weight ${target.weight}), waiting for it to turn healthy`)
  const deadline = Date.now() + o.timeoutMs
  let last: TargetView | undefined
  for (;;) {
    last = (await client.call<GroupView>('GET', targetPath(o.group), { signal })).targets.find((t) => t.address === target.address)
    if (last?.state === 'healthy') break
    if (last === undefined) throw new CliError('it left the group while waiting for it to turn healthy')
    if (Date.now() >= deadline) {
      const check = last.state === 'initial' && last.lastCheck !== null ? `; last check: ${last.lastCheck.detail}` : ''
      throw new CliError(`not healthy within ${o.timeoutMs / 1000}s (state ${last.state}: ${last.reason}${check})`)
    }
    await sleep(POLL_MS, undefined, { signal })
  }
  console.log(`${step}: healthy`)
}

/** Runs the deploy command with the terminal's stdio; a non-zero exit is an error. */
async function run(command: string, address: string, group: string, signal: AbortSignal): Promise<void> {
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: 'inherit',
    env: { ...process.env, FULCRUM_TARGET: address, FULCRUM_TARGET_GROUP: group },
  })
  const kill = (): void => { child.kill('SIGTERM') }
  signal.addEventListener('abort', kill, { once: true })
  try {
    const [code, sig] = (await Promise.race([once(child, 'exit'), once(child, 'error').then(([err]) => { throw err })])) as [number | null, string | null]
    if (code !== 0) throw new CliError(`the command failed (${sig !== null ? `signal ${sig}` : `exit code ${code}`}): ${command}`)
  } finally {
    signal.removeEventListener('abort', kill)
  }
}

/** Puts the target back in the group when the abort left it out (deregistered or still draining). */
async function restore(client: AdminClient, group: string, target: TargetView): Promise<void> {
  try {
    const now = await client.call<GroupView>('GET', targetPath(group))
    const state = now.targets.find((t) => t.address === target.address)?.state
    if (state !== undefined && state !== 'draining') {
      console.error(`${target.address} stays registered (${state}); fix it, or take it out: fulcrum targets remove ${group} ${target.address}`)
      return
    }
    await client.call('POST', `${targetPath(group)}/targets`, { body: { address: target.address, weight: target.weight } })
    console.error(`${target.address} registered again (weight ${target.weight}) so the group keeps its targets`)
  } catch (err) {
    console.error(`fulcrum: could not register ${target.address} again: ${(err as Error).message}; run: fulcrum targets add ${group} ${target.address} --weight ${target.weight}`)
  }
}
