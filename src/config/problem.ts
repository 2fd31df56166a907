/**
 * What a configuration problem looks like, and how it is printed:
 * `quickstart.yaml:14:9 targetGroups.api.targets[2]: "10.0.0.7" has no port; write "10.0.0.7:8080"`.
 */

/** A key path into the configuration, as zod reports it: object keys and list indexes. */
export type Path = readonly (string | number)[]

/** One thing wrong with a configuration file. `line`/`column` are 1-based; absent when unknown (TypeScript configs). */
export interface ConfigProblem {
  file: string
  line?: number
  column?: number
  /** Key path, e.g. `targetGroups.api.targets[2]`; empty for the file as a whole. */
  path: string
  message: string
}

/**
 * A problem found before positions are known: checks speak in key paths, and the loader finds the line.
 * `at: 'key'` points at the key itself (unknown keys, names) rather than at its value.
 */
export interface Finding {
  path: Path
  message: string
  at?: 'key' | 'value'
}

/** `file:line:col path: message`, leaving out whatever is unknown. */
export function formatProblem(p: ConfigProblem): string {
  let where = p.file
  if (p.line !== undefined) {
    where += `:${p.line}`
    if (p.column !== undefined) where += `:${p.column}`
  }
  return p.path === '' ? `${where}: ${p.message}` : `${where} ${p.path}: ${p.message}`
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/

/** `targetGroups.api.targets[2]`; keys that are not plain names are quoted: `targetGroups["a b"]`. */
export function formatPath(path: Path): string {
  // Only absurd nesting gets here (the schema is ~7 levels deep); keep the line readable.
  if (path.length > 24) return `${formatPath(path.slice(0, 12))}…${formatPath(path.slice(-4))}`
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** A value as a message shows it: strings quoted (and shortened), collections by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'an empty value'
  if (typeof value === 'string') return quote(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `a ${typeof value}`
}

/** JSON-quoted, cut to a readable length so a pasted blob does not flood the terminal. */
export function quote(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)
}

/** The value at `path` inside plain data, or undefined. Only own properties: `__proto__` is just a key here. */
export function valueAt(data: unknown, path: Path): unknown {
  let current = data
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined
    if (!Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string | number, unknown>)[segment]
  }
  return current
}
