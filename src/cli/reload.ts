/** `fulcrum reload`: the admin API's POST /api/v1/reload, the same as sending SIGHUP to `fulcrum start`. */
import { AdminApiError, type AdminClient } from './admin-client.ts'

interface Summary {
  listenersAdded: string[]
  listenersRemoved: string[]
  targetsAdded: string[]
  targetsRemoved: string[]
}

export async function runReload(client: AdminClient): Promise<number> {
  let summary: Summary
  try {
    summary = (await client.call<{ summary: Summary }>('POST', '/api/v1/reload')).summary
  } catch (err) {
    if (!(err instanceof AdminApiError) || err.code !== 'invalid_config') throw err
    // The problems already say FILE:LINE:COL path: message, as `fulcrum validate` prints them.
    for (const p of (err.details.problems as string[] | undefined) ?? []) console.error(p)
    console.error(`fulcrum: reload rejected: ${err.details.message as string}`)
    return 1
  }
  const changes = [
    ...summary.listenersAdded.map((l) => `+listener ${l}`),
    ...summary.listenersRemoved.map((l) => `-listener ${l}`),
    ...summary.targetsAdded.map((t) => `+target ${t}`),
    ...summary.targetsRemoved.map((t) => `-target ${t}`),
  ]
  console.log(`configuration reloaded: ${changes.length === 0 ? 'no listener or target changed' : changes.join(', ')}`)
  return 0
}
