/**
 * A parsed configuration file: its plain data, and a way back from a key path to a line and column.
 * YAML and JSON share one parser (JSON is YAML), so both get positions; a TypeScript config only has key paths.
 */
import { isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml'
import type { Document, Node, YAMLError } from 'yaml'
import { formatPath } from './problem.ts'
import type { ConfigProblem, Path } from './problem.ts'

export interface Located {
  /** The part of the asked path that exists in the file: a missing key points at its parent. */
  path: Path
  line?: number
  column?: number
}

export interface ConfigSource {
  readonly file: string
  readonly data: unknown
  locate(path: Path, at?: 'key' | 'value'): Located
}

export type ReadResult =
  | { ok: true; source: ConfigSource; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[] }

/** Parses YAML or JSON text. Syntax errors, duplicate keys and unresolved aliases come back as problems. */
export function readYaml(text: string, file: string): ReadResult {
  // Lines are counted from the text itself: yaml's LineCounter misses line starts inside tokens that run
  // over a newline while it recovers from an error (an unclosed quote), which shifts every later position.
  const lines = new TextLines(text)
  // logLevel 'error': yaml would otherwise print warnings to the process; we report them ourselves.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, logLevel: 'error' })
  const at = (offset: number, message: string): ConfigProblem => {
    // The parser may point one past the end of the text (or of its line) for "unexpected end": keep the
    // position inside the line, so an editor can jump to it.
    const { line, col } = lines.linePos(offset)
    return { file, line, column: col, path: formatPath(pathAtOffset(doc, offset)), message }
  }
  // Past the parser's depth limit every further error is an echo of the first: report that one alone.
  const exhausted = doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION')
  const errors = exhausted === undefined ? doc.errors : [exhausted]
  const problems = errors.map((e) => at(e.pos[0], yamlMessage(e, doc, lines)))
  if (exhausted !== undefined) return { ok: false, problems }
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return
      problems.push(at(alias.range?.[0] ?? 0, `unknown alias *${alias.source}; define &${alias.source} before using it`))
    },
    Pair(_, pair) {
      if (isCollection(pair.key)) problems.push(at(pair.key.range?.[0] ?? 0, 'a key must be a plain name, not a list or mapping'))
    },
  })
  if (problems.length > 0) return { ok: false, problems }
  if (doc.contents === null) {
    return { ok: false, problems: [{ file, path: '', message: 'the file is empty; expected a mapping with at least "listeners"' }] }
  }
  const warnings = doc.warnings.map((w) => at(w.pos[0], w.message))
  let data: unknown
  try {
    // maxAliasCount keeps a "billion laughs" file from expanding without bound.
    data = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    const message = /alias/i.test(String(err))
      ? 'the file expands aliases (*name) too many times to read safely; write the values out instead'
      : `cannot read the YAML: ${(err as Error)?.message ?? String(err)}`
    return { ok: false, problems: [{ file, path: '', message }] }
  }
  const source: ConfigSource = {
    file,
    data,
    locate(path, where = 'value') {
      const found = nodeAt(doc, path, where)
      if (found.node?.range == null) return { path: found.path }
      const { line, col } = lines.linePos(found.node.range[0])
      return { path: found.path, line, column: col }
    },
  }
  return { ok: true, source, warnings }
}

/** A source without positions, for configs that are code: `locate` only trims the path to what exists. */
export function objectSource(data: unknown, file: string): ConfigSource {
  return {
    file,
    data,
    locate(path) {
      const found: (string | number)[] = []
      let current = data
      for (const segment of path) {
        if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) break
        current = (current as Record<string | number, unknown>)[segment]
        found.push(segment)
      }
      return { path: found }
    },
  }
}

/**
 * Line and column (1-based) of an offset, from the text's own line breaks. An offset past the end of its
 * line (the parser may point one past the end for "unexpected end") stays on the line, one past its last
 * character, so an editor can jump to it.
 */
export class TextLines {
  readonly #text: string
  /** Offsets at which each line starts. */
  readonly #starts: number[] = [0]

  constructor(text: string) {
    this.#text = text
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.#starts.push(i + 1)
  }

  linePos(offset: number): { line: number; col: number } {
    const at = Math.max(0, Math.min(offset, this.#text.length))
    let lo = 0
    let hi = this.#starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.#starts[mid] <= at) lo = mid
      else hi = mid - 1
    }
    const start = this.#starts[lo]
    const next = lo + 1 < this.#starts.length ? this.#starts[lo + 1] - 1 : this.#text.length
    const end = next > start && this.#text[next - 1] === '\r' ? next - 1 : next
    return { line: lo + 1, col: Math.min(at, end) - start + 1 }
  }
}

function yamlMessage(error: YAMLError, doc: Document, lines: TextLines): string {
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const path = pathAtOffset(doc, error.pos[0])
      const key = path[path.length - 1]
      if (key === undefined) return 'duplicate key; each key may appear once in a mapping'
      const first = nodeAt(doc, path, 'key').node?.range?.[0]
      const where = first === undefined || first === error.pos[0] ? '' : ` (first set on line ${lines.linePos(first).line})`
      return `duplicate key ${JSON.stringify(key)}${where}; each key may appear once in a mapping`
    }
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document (a second "---"); write one configuration per file'
    case 'RESOURCE_EXHAUSTION':
      return 'the file is nested too deeply to read'
    default:
      return `YAML syntax: ${error.message}`
  }
}

type Found = { path: (string | number)[]; node: Node | undefined }

/** The node at `path` (the key node with `at: 'key'`), or the deepest node that exists along it. */
function nodeAt(doc: Document, path: Path, at: 'key' | 'value'): Found {
  let node = resolve(doc, doc.contents)
  const found: (string | number)[] = []
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      if (pair === undefined) break
      found.push(segment)
      const key = pair.key as Node
      // An empty value (`name:`) has no useful position of its own: point at its key.
      const value = resolve(doc, pair.value)
      if ((i === path.length - 1 && at === 'key') || value == null || isEmptyScalar(value)) return { path: found, node: key }
      node = value
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] != null) {
      found.push(segment)
      node = resolve(doc, node.items[segment])
    } else break
  }
  return { path: found, node: node ?? undefined }
}

function resolve(doc: Document, node: unknown): Node | undefined {
  if (isAlias(node)) return node.resolve(doc) ?? node
  return (node ?? undefined) as Node | undefined
}

function isEmptyScalar(node: Node): boolean {
  return isScalar(node) && node.value === null && (node.source === '' || node.source === undefined)
}

/** The key path of the innermost map entry or list item whose text contains `offset`. */
function pathAtOffset(doc: Document, offset: number): (string | number)[] {
  const path: (string | number)[] = []
  let node = resolve(doc, doc.contents)
  // Bounded by the file's nesting, which the parser already capped; the guard is for aliases looping back.
  for (let depth = 0; depth < 1000 && node !== undefined; depth++) {
    const contains = (n: unknown) => {
      const range = (n as Node | null)?.range
      return range != null && range[0] <= offset && offset < Math.max(range[2], range[0] + 1)
    }
    let next: Node | undefined
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue
        if (contains(pair.key)) return [...path, String(pair.key.value)]
        if (contains(pair.value)) {
          path.push(String(pair.key.value))
          next = pair.value as Node
          break
        }
      }
    } else if (isSeq(node)) {
      const index = node.items.findIndex(contains)
      if (index >= 0) {
        path.push(index)
        next = node.items[index] as Node
      }
    }
    if (next === undefined || isAlias(next)) break
    node = next
  }
  return path
}
