/** Durations in config: `500ms`, `5s`, `1m`, `1h`, `1.5s`, or a bare number of milliseconds. `0` means "off". */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/

export const DURATION_HINT = 'a duration such as "500ms", "5s", "1m" or "1h"'

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS])
}

/** The shortest exact spelling of a duration in milliseconds, for messages and generated config. */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}
