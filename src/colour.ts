/**
 * Terminal colour for the CLI's tables and the human-readable logs: whether to colour a stream, and the
 * few ANSI styles used. One rule everywhere, so `fulcrum status` and the logs agree:
 * NO_COLOR (https://no-color.org) turns colour off; else FORCE_COLOR turns it on (as Node and most tools
 * read it: "0" or "false" mean off); else colour only on a terminal that is not "dumb".
 */

export type Style = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'grey' | 'bold' | 'dim'

const CODES: Record<Style, [open: number, close: number]> = {
  red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], magenta: [35, 39], cyan: [36, 39],
  grey: [90, 39], bold: [1, 22], dim: [2, 22],
}

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false'
  return stream.isTTY === true && env.TERM !== 'dumb'
}

/** A painter: `paint('red', text)` wraps text in ANSI codes, or returns it as it is when colour is off. */
export type Paint = (style: Style, text: string) => string

export function painter(enabled: boolean): Paint {
  if (!enabled) return (_style, text) => text
  return (style, text) => `\x1b[${CODES[style][0]}m${text}\x1b[${CODES[style][1]}m`
}

/** The colour of a target state word, as the dashboard shows it. */
export const STATE_STYLE: Record<string, Style> = {
  healthy: 'green', initial: 'blue', unhealthy: 'red', draining: 'yellow', unused: 'grey',
}
