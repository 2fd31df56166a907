/**
 * `fulcrum targets add|remove|list`: register and deregister targets through the admin API, and list them.
 * `remove --wait` returns only once the target has left the group, so a deploy script knows when it may
 * stop the app.
 */
import type { AdminClient } from './admin-client.ts'
import { CliError } from './admin-client.ts'
import { targetTable, type GroupView, type StatusView, type TargetView } from './status.ts'

export const targetPath = (group: string, address?: string): string =>
  `/api/v1/target-groups/${encodeURIComponent(group)}${address === undefined ? '' : `/targets/${encodeURIComponent(address)}`}`

export async function addTarget(client: AdminClient, group: string, address: string, weight: number): Promise<number> {
  const { target } = await client.call<{ target: TargetView }>('POST', `${targetPath(group)}/targets`, { body: { address, weight } })
  console.log(`registered ${target.address} in target group "${group}" (weight ${target.weight}): ${target.state}, ${target.reason}`)
  return 0
}

export type DrainResult = 'drained' | 'delay-expired' | 'not-draining'

export async function removeTarget(client: AdminClient, group: string, address: string, wait: boolean): Promise<number> {
  const drainingUntil = (await client.call<{ drainingUntil: string }>('DELETE', targetPath(group, address))).drainingUntil
  console.log(`${address} in target group "${group}": draining until ${drainingUntil} (no new requests; requests in flight may finish)`)
  if (!wait) return 0
  const { outcome } = await client.call<{ outcome: DrainResult }>('DELETE', `${targetPath(group, address)}?wait=true`, { wait: true })
  if (outcome === 'drained') console.log('drained: no request in flight; the target has left the group')
  else if (outcome === 'delay-expired') console.log('deregistration delay passed with requests still in flight; the target has left the group')
  else throw new CliError(`${address} was registered again in target group "${group}" before it drained`)
  return 0
}

export async function listTargets(client: AdminClient, group: string | undefined, json: boolean): Promise<number> {
  const groups = group === undefined
    ? (await client.call<StatusView>('GET', '/api/v1/status')).targetGroups
    : [await client.call<GroupView>('GET', targetPath(group))]
  console.log(json ? JSON.stringify(group === undefined ? groups : groups[0], null, 2) : targetTable(groups))
  return 0
}
