/**
 * Reads a configuration file and returns either a frozen, validated Config or every problem found, each
 * with file, line, column and key path. Never throws for bad input: a broken file is an answer, not a crash.
 */
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { checkTls, resolveTlsPaths } from './semantic-tls.ts'
import { pathToFileURL } from 'node:url'
import { findingsFromIssues } from './issues.ts'
import { formatPath, formatProblem, valueAt } from './problem.ts'
import type { ConfigProblem, Finding, Path } from './problem.ts'
import { configSchema } from './schema.ts'
import type { Config } from './schema.ts'
import { checkConfig, checkReferencesRaw } from './semantic.ts'
import { objectSource, readYaml } from './source.ts'
import type { ConfigSource } from './source.ts'
import { loadNginxConfig } from './nginx/load.ts'

export type { ConfigProblem } from './problem.ts'
export { formatProblem } from './problem.ts'

export type LoadResult =
  /** `input`: the configuration as written (for nginx files: as translated), before defaults. */
  | { ok: true; config: Config; warnings: string[]; input?: unknown }
  | { ok: false; problems: ConfigProblem[] }

/** How a file is read: by default from its extension (`.conf` is nginx). */
export const FORMATS = ['nginx', 'yaml', 'json', 'ts'] as const
export type Format = (typeof FORMATS)[number]

const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json'])
const CODE_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs'])
const NGINX_EXTENSIONS = new Set(['.conf'])

/**
 * Formats given on the command line (`--format nginx`), by resolved file, so that a reload (which only
 * knows the file) reads it the same way.
 */
const chosenFormats = new Map<string, Format>()

/** Reads `file` as `format` from now on, also when a reload loads it without saying how. */
export function setFormat(file: string, format: Format): void {
  chosenFormats.set(resolve(file), format)
}

/** A flood of follow-on errors (say, from a binary file) helps no one; the first ones are the useful ones. */
const MAX_PROBLEMS = 50

/**
 * Loads `file` as `format`, else as its extension says: YAML/JSON text, a TypeScript/JavaScript module's
 * default export, or nginx configuration (`.conf`).
 */
export async function loadConfig(file: string, format?: Format): Promise<LoadResult> {
  const extension = extname(file).toLowerCase()
  const chosen = format ?? chosenFormats.get(resolve(file))
  if (chosen === 'nginx' || (chosen === undefined && NGINX_EXTENSIONS.has(extension))) return loadNginx(file)
  if (chosen === undefined && !YAML_EXTENSIONS.has(extension) && !CODE_EXTENSIONS.has(extension)) {
    return failure(file, `unknown file type "${extension}"; use .yaml, .yml, .json, .ts, .mts, .js or .mjs`)
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    return failure(file, `cannot read the file: ${osReason(err)}`)
  }
  if (chosen === 'yaml' || chosen === 'json' || (chosen === undefined && YAML_EXTENSIONS.has(extension))) return parseConfigText(text, file)
  return loadModule(file)
}

async function loadNginx(file: string): Promise<LoadResult> {
  const loaded = await loadNginxConfig(file)
  if (!loaded.ok) return loaded
  return { ok: true, config: deepFreeze(loaded.config), warnings: loaded.warnings.map(formatProblem), input: loaded.input }
}

/** Validates YAML or JSON text as if read from `file` (used in messages and to resolve dataDir). */
export function parseConfigText(text: string, file: string): LoadResult {
  try {
    const read = readYaml(text, file)
    if (!read.ok) return { ok: false, problems: tidy(read.problems) }
    const result = validate(read.source, read.warnings)
    return result.ok ? { ...result, input: read.source.data } : result
  } catch (err) {
    // The parser guards itself against deep nesting and alias bombs; this is the last line, not the plan.
    return failure(file, `cannot read the configuration: ${(err as Error)?.message ?? String(err)}`)
  }
}

/** Bumped on every load so `import()` fetches the file again: a reload must see the edits. */
let generation = 0

async function loadModule(file: string): Promise<LoadResult> {
  let module: Record<string, unknown>
  try {
    // Each distinct URL stays in Node's module cache; a few per reload is the price of seeing edits.
    module = await import(`${pathToFileURL(resolve(file)).href}?generation=${++generation}`)
  } catch (err) {
    return failure(file, `cannot load the module: ${(err as Error)?.message ?? String(err)}`)
  }
  if (!Object.hasOwn(module, 'default') || module.default === undefined) {
    return failure(file, 'the module has no default export; write `export default defineConfig({ ... })`')
  }
  try {
    const result = validate(objectSource(module.default, file), [])
    return result.ok ? { ...result, input: module.default } : result
  } catch (err) {
    return failure(file, `cannot validate the configuration: ${(err as Error)?.message ?? String(err)}`)
  }
}

function validate(source: ConfigSource, warnings: ConfigProblem[]): LoadResult {
  const data = withoutSchemaKey(source.data)
  const parsed = configSchema.safeParse(data)
  if (!parsed.success) {
    const findings = findingsFromIssues(parsed.error.issues, data, configSchema)
    const reported = new Set(findings.map((f) => formatPath(f.path)))
    for (const f of checkReferencesRaw(data)) if (!reported.has(formatPath(f.path))) findings.push(f)
    return { ok: false, problems: tidy(findings.map((f) => toProblem(source, f))) }
  }
  const lineOf = (path: Path) => {
    const at = source.locate(path)
    return at.path.length === path.length ? at.line : undefined
  }
  const dir = dirname(source.file)
  const withPaths = resolveTlsPaths(parsed.data, dir)
  const checked = checkConfig(withPaths, lineOf)
  checkTls(withPaths, checked.problems)
  if (checked.problems.length > 0) return { ok: false, problems: tidy(checked.problems.map((f) => toProblem(source, f))) }
  const config = { ...withPaths, dataDir: resolve(dir, parsed.data.dataDir) }
  const allWarnings = tidy([...warnings, ...checked.warnings.map((f) => toProblem(source, f))])
  return { ok: true, config: deepFreeze(config), warnings: allWarnings.map(formatProblem) }
}

function toProblem(source: ConfigSource, finding: Finding): ConfigProblem {
  const at = source.locate(finding.path, finding.at)
  // A path into a value written in short form (a target as "host:port", not { address }) is printed as far as
  // the file goes; a path to a key that is not written (a default) keeps its full name.
  const short = at.path.length < finding.path.length && !isCollection(valueAt(source.data, at.path))
  const path = formatPath(short ? at.path : finding.path)
  const problem: ConfigProblem = { file: source.file, path, message: finding.message }
  if (at.line !== undefined) {
    problem.line = at.line
    problem.column = at.column
  }
  return problem
}

/** In file order, without repeats, and capped. */
function tidy(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  const unique = problems.filter((p) => {
    const key = formatProblem(p)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  // Stable sort: problems without a position (code configs) keep the schema's order.
  unique.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0))
  if (unique.length <= MAX_PROBLEMS) return unique
  const rest = unique.length - MAX_PROBLEMS
  return [...unique.slice(0, MAX_PROBLEMS), { file: unique[0].file, path: '', message: `…and ${rest} more problems` }]
}

/** JSON files name their schema for editors (`"$schema": "./schema/fulcrum.schema.json"`); it is not configuration. */
function withoutSchemaKey(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !Object.hasOwn(data, '$schema')) return data
  const { $schema, ...rest } = data as Record<string, unknown>
  return typeof $schema === 'string' ? rest : data
}

function isCollection(value: unknown): boolean {
  return value !== null && typeof value === 'object'
}

function failure(file: string, message: string): LoadResult {
  return { ok: false, problems: [{ file, path: '', message }] }
}

/** "no such file or directory (ENOENT)" from Node's "ENOENT: no such file or directory, open '…'". */
function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  const match = /^[A-Z]+: ([^,]+)/.exec(e?.message ?? '')
  if (match !== null && e.code !== undefined) return `${match[1]} (${e.code})`
  return e?.message ?? String(err)
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
