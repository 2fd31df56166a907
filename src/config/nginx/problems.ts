/**
 * Problems found in an nginx configuration. `nginx` problems are those `nginx -t` would also reject;
 * `fulcrum` problems are valid nginx that Fulcrum cannot honour (yet). The loader reports the first kind
 * alone when there are any, as the YAML loader reports schema problems before cross-field checks: fixing
 * the file for nginx comes first, and the rest may change with it.
 */
import type { Directive } from './syntax.ts'

export interface NginxProblem {
  file: string
  /** 0 when the problem is about the file as a whole. */
  line: number
  message: string
  tier: 'nginx' | 'fulcrum'
}

/** Collects problems and warnings against the directives they are about. */
export class Report {
  readonly problems: NginxProblem[] = []
  readonly warnings: NginxProblem[] = []
  /** Parameters accepted without effect (`listen … backlog=512`), by name: added to the one warning. */
  readonly noEffect = new Map<string, Directive>()
  /** A server on two listen addresses is read twice: say each thing once. */
  readonly #seen = new Set<string>()

  /** nginx itself would refuse this. */
  nginx(d: Directive, message: string): void {
    this.#add(this.problems, { file: d.file, line: d.line, message, tier: 'nginx' })
  }

  /** Valid nginx that Fulcrum cannot honour: serving anyway would answer differently. */
  fulcrum(d: Directive, message: string): void {
    this.#add(this.problems, { file: d.file, line: d.line, message, tier: 'fulcrum' })
  }

  warn(d: Directive, message: string): void {
    this.#add(this.warnings, { file: d.file, line: d.line, message, tier: 'fulcrum' })
  }

  #add(list: NginxProblem[], problem: NginxProblem): void {
    const key = `${list === this.problems ? 'p' : 'w'}\0${problem.file}\0${problem.line}\0${problem.message}`
    if (this.#seen.has(key)) return
    this.#seen.add(key)
    list.push(problem)
  }
}
