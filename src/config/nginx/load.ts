/**
 * Loads an nginx configuration as Fulcrum configuration: read (with includes) -> structural checks ->
 * translation -> host name lookups -> the same schema and cross-field checks as YAML. Problems come back
 * as `FILE:LINE: message`; those `nginx -t` would also report come first and alone (see problems.ts).
 * Never throws.
 */
import { lookup } from 'node:dns/promises'
import { dirname, resolve } from 'node:path'
import { checkTls as checkConfigTls, resolveTlsPaths } from '../semantic-tls.ts'
import { findingsFromIssues } from '../issues.ts'
import { formatPath } from '../problem.ts'
import type { ConfigProblem, Finding, Path } from '../problem.ts'
import { configSchema } from '../schema.ts'
import type { Config } from '../schema.ts'
import { checkConfig } from '../semantic.ts'
import { closest } from '../suggest.ts'
import { checkStructure } from './check.ts'
import { readNginxTree, readText } from './include.ts'
import type { NginxProblem } from './problems.ts'
import type { Directive, SyntaxProblem } from './syntax.ts'
import { translate } from './translate.ts'

export interface NginxOptions {
  /** Look host names up as nginx does at start ("host not found in upstream"). Default true. */
  resolveHosts?: boolean
}

/** The translation alone: Fulcrum's configuration input, before defaults and cross-field checks. */
export type NginxInput =
  | { ok: true; input: Record<string, unknown>; warnings: ConfigProblem[]; origins: Map<string, Directive>; files: string[] }
  | { ok: false; problems: ConfigProblem[] }

export type NginxLoad =
  | { ok: true; config: Config; input: Record<string, unknown>; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[] }

/** Reads and translates `file`. */
export async function readNginxInput(file: string, options: NginxOptions = {}): Promise<NginxInput> {
  try {
    const tree = readNginxTree(file)
    return await finishInput(file, tree.directives, tree.problems, tree.files, options)
  } catch (err) {
    return crashed(file, err)
  }
}

/** Translates nginx text as if read from `file` (includes are read from disk relative to it). */
export async function readNginxInputText(text: string, file: string, options: NginxOptions = {}): Promise<NginxInput> {
  try {
    const problems: SyntaxProblem[] = []
    const files: string[] = []
    const directives = readText(text, file, [resolve(file)], problems, files)
    return await finishInput(file, directives, problems, files, options)
  } catch (err) {
    return crashed(file, err)
  }
}

/** Reads, translates and validates `file` into a Config. */
export async function loadNginxConfig(file: string, options: NginxOptions = {}): Promise<NginxLoad> {
  return validateInput(file, await readNginxInput(file, options))
}

/** As loadNginxConfig, from text. */
export async function parseNginxConfigText(text: string, file: string, options: NginxOptions = {}): Promise<NginxLoad> {
  return validateInput(file, await readNginxInputText(text, file, options))
}

async function finishInput(file: string, tree: Directive[], syntax: SyntaxProblem[], files: string[], options: NginxOptions): Promise<NginxInput> {
  const checked = checkStructure(tree)
  const translation = translate(tree, checked, file)
  const problems: NginxProblem[] = [...syntax.map((p) => ({ ...p, tier: 'nginx' as const })), ...checked.problems, ...translation.report.problems]
  if (options.resolveHosts !== false) problems.push(...(await resolveHosts(translation.hostnames, translation.upstreamNames)))
  const nginx = problems.filter((p) => p.tier === 'nginx')
  const reported = nginx.length > 0 ? nginx : problems
  if (reported.length > 0) return { ok: false, problems: tidy(reported.map(toProblem)) }
  const warnings = translation.report.warnings.map(toProblem)
  const noEffect = [...checked.noEffect, ...translation.report.noEffect].sort(([, a], [, b]) => order(a, b))
  if (noEffect.length > 0) {
    const list = noEffect.map(([name, d]) => `${name} (${d.file === file ? `line ${d.line}` : `${d.file}:${d.line}`})`).join(', ')
    warnings.unshift({ file, path: '', message: `accepted, but change nothing in Fulcrum: ${list}` })
  }
  const admin = adminFromEnvironment()
  if (admin !== undefined) translation.input.admin = admin
  return { ok: true, input: translation.input, warnings: tidy(warnings), origins: translation.origins, files }
}

/**
 * An nginx file has no place for Fulcrum's admin API, which listens on 127.0.0.1:9090 by default;
 * FULCRUM_ADMIN_LISTEN=ADDRESS moves it and FULCRUM_ADMIN_LISTEN=off turns it off.
 */
function adminFromEnvironment(): Record<string, unknown> | undefined {
  const value = process.env.FULCRUM_ADMIN_LISTEN?.trim()
  if (value === undefined || value === '') return undefined
  if (value === 'off') return { enabled: false }
  return { listen: /^\d+$/.test(value) ? Number(value) : value }
}

/** The generated input through the same schema and checks as a YAML file; findings point at the directive. */
function validateInput(file: string, read: NginxInput): NginxLoad {
  if (!read.ok) return read
  try {
    const at = (path: Path): Directive | undefined => {
      for (let n = path.length; n > 0; n--) {
        const found = read.origins.get(formatPath(path.slice(0, n)))
        if (found !== undefined) return found
      }
      return undefined
    }
    const problem = (f: Finding): ConfigProblem => {
      const d = at(f.path)
      if (d === undefined) return { file, path: formatPath(f.path), message: f.message }
      return { file: d.file, line: d.line, path: '', message: `${d.name}: ${f.message}` }
    }
    const parsed = configSchema.safeParse(read.input)
    if (!parsed.success) {
      const findings = findingsFromIssues(parsed.error.issues, read.input, configSchema)
      return { ok: false, problems: tidy(findings.map(problem)) }
    }
    // Certificate paths are relative to the main file's folder, as in a YAML file.
    const withPaths = resolveTlsPaths(parsed.data, dirname(file))
    const checked = checkConfig(withPaths, (path) => at(path)?.line)
    checkConfigTls(withPaths, checked.problems)
    if (checked.problems.length > 0) return { ok: false, problems: tidy(checked.problems.map(problem)) }
    const config = { ...withPaths, dataDir: resolve(dirname(file), parsed.data.dataDir) }
    const warnings = tidy([...read.warnings, ...checked.warnings.map(problem)])
    return { ok: true, config, input: read.input, warnings }
  } catch (err) {
    return crashed(file, err)
  }
}

/** A lookup that does not answer in this time is reported as not found, so a validation never hangs. */
const LOOKUP_TIMEOUT_MS = 3_000

async function resolveHosts(hostnames: Map<string, Directive[]>, upstreams: string[]): Promise<NginxProblem[]> {
  const results = await Promise.all([...hostnames].map(async ([host, directives]) => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((done) => { timer = setTimeout(() => done(false), LOOKUP_TIMEOUT_MS) })
    const found = await Promise.race([lookup(host).then(() => true, () => false), timeout])
    clearTimeout(timer)
    const guess = closest(host, upstreams)
    const hint = guess !== undefined ? `did you mean upstream "${guess}"?` : directives[0].name === 'proxy_pass'
      ? `define upstream ${host} { server ADDRESS; } in http, or fix the name` : 'fix the name or write an IP address'
    return found ? [] : directives.map((d): NginxProblem => ({
      file: d.file, line: d.line, tier: 'nginx', message: `host not found in upstream "${host}" (${d.name}); ${hint}`,
    }))
  }))
  return results.flat()
}

function toProblem(p: NginxProblem): ConfigProblem {
  const problem: ConfigProblem = { file: p.file, path: '', message: p.message }
  if (p.line > 0) problem.line = p.line
  return problem
}

/** File order: the main file's directives by line, then included files' in the order they were read. */
function order(a: Directive, b: Directive): number {
  return a.file === b.file ? a.line - b.line || a.column - b.column : 0
}

/** A flood of follow-on errors helps no one; the first ones are the useful ones. */
const MAX_PROBLEMS = 50

/** Without repeats, by file (in the order first met) and line, capped. */
function tidy(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  const fileOrder = new Map<string, number>()
  const unique = problems.filter((p) => {
    if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size)
    const key = `${p.file}\0${p.line}\0${p.path}\0${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  unique.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || (a.line ?? 0) - (b.line ?? 0))
  if (unique.length <= MAX_PROBLEMS) return unique
  return [...unique.slice(0, MAX_PROBLEMS), { file: unique[0].file, path: '', message: `…and ${unique.length - MAX_PROBLEMS} more problems` }]
}

function crashed(file: string, err: unknown): { ok: false; problems: ConfigProblem[] } {
  return { ok: false, problems: [{ file, path: '', message: `cannot read the nginx configuration: ${(err as Error)?.message ?? String(err)}` }] }
}
