/**
 * Reads an nginx configuration with its `include`s spliced in where they stand, as nginx does. A relative
 * pattern is resolved as nginx resolves it, against the main file's folder (Debian's sites-enabled/default
 * writes `include snippets/fastcgi-php.conf;`); a file name (no glob) that is not there is also looked for
 * beside the including file, where a reader would expect it. With glob characters (`*`, `?`, `[`) a pattern
 * may match nothing; without them the file must exist (nginx fails on a missing file too). A file that
 * includes itself, directly or through others, is reported with the chain instead of being read forever.
 */
import { globSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { parseNginx } from './syntax.ts'
import type { Directive, SyntaxProblem } from './syntax.ts'

export interface ReadTree {
  directives: Directive[]
  problems: SyntaxProblem[]
  /** Every file read, the main one first (for reload watchers and messages). */
  files: string[]
}

/** Chains of includes this long are loops in all but name; nginx has no limit, the stack does. */
const MAX_INCLUDE_DEPTH = 32
/** Bounds the work one configuration can cause (a glob in a loop-free fan-out). */
const MAX_FILES = 2_000

const GLOB = /[*?[]/

/** Reads `file` and everything it includes. Never throws: unreadable files are problems. */
export function readNginxTree(file: string): ReadTree {
  const problems: SyntaxProblem[] = []
  const files: string[] = []
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { directives: [], problems: [{ file, line: 0, message: `cannot read the file: ${osReason(err)}` }], files }
  }
  const directives = readText(text, file, [realOrSame(file)], problems, files)
  return { directives, problems, files }
}

/** Parses text read from `file`, then splices in its includes (each parsed with `chain` extended). */
export function readText(text: string, file: string, chain: string[], problems: SyntaxProblem[], files: string[]): Directive[] {
  files.push(file)
  const parsed = parseNginx(text, file)
  problems.push(...parsed.problems)
  return expandIncludes(parsed.directives, file, chain, problems, files)
}

/** Replaces each `include` in the tree (at any depth) by the directives of the files it names. */
function expandIncludes(list: Directive[], file: string, chain: string[], problems: SyntaxProblem[], files: string[]): Directive[] {
  const out: Directive[] = []
  const stack: { source: Directive[]; target: Directive[]; index: number }[] = [{ source: list, target: out, index: 0 }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (top.index >= top.source.length) {
      stack.pop()
      continue
    }
    const directive = top.source[top.index++]
    if (directive.name === 'include' && directive.block === undefined) {
      top.target.push(...include(directive, file, chain, problems, files))
      continue
    }
    if (directive.block === undefined) {
      top.target.push(directive)
      continue
    }
    const copy: Directive = { ...directive, block: [] }
    top.target.push(copy)
    stack.push({ source: directive.block, target: copy.block as Directive[], index: 0 })
  }
  return out
}

function include(directive: Directive, file: string, chain: string[], problems: SyntaxProblem[], files: string[]): Directive[] {
  const fail = (message: string): Directive[] => {
    problems.push({ file: directive.file, line: directive.line, message })
    return []
  }
  if (directive.args.length !== 1) {
    return fail(`"include" takes 1 argument (a file or a glob such as conf.d/*.conf), found ${directive.args.length}`)
  }
  const pattern = directive.args[0]
  // nginx's conf prefix is the main file's folder; `files` starts with the main file.
  const path = isAbsolute(pattern) ? pattern : join(dirname(files[0] ?? file), pattern)
  let matches: string[]
  if (GLOB.test(pattern)) {
    try {
      // glob(3) as nginx calls it: sorted, files only, and no "**" (a plain "*" there: no walk of a whole tree).
      matches = globSync(path.replace(/\*{2,}/g, '*')).filter(isFile).sort()
    } catch (err) {
      return fail(`include "${pattern}": cannot expand the pattern: ${osReason(err)}`)
    }
  } else {
    const beside = isAbsolute(pattern) ? path : join(dirname(file), pattern)
    if (!isFile(path) && !isFile(beside)) {
      const why = exists(path) ? 'is not a file' : 'does not exist'
      return fail(`include "${pattern}": ${path} ${why}; nginx fails here too (a pattern with * may match nothing)`)
    }
    matches = [isFile(path) ? path : beside]
  }
  const out: Directive[] = []
  for (const match of matches) {
    const real = realOrSame(match)
    const loop = chain.indexOf(real)
    if (loop >= 0) {
      const cycle = [...chain.slice(loop), real].join(' -> ')
      fail(`include "${pattern}" makes a loop (${cycle}); a file cannot include itself`)
      continue
    }
    if (chain.length >= MAX_INCLUDE_DEPTH) {
      fail(`include "${pattern}": includes are nested more than ${MAX_INCLUDE_DEPTH} deep`)
      continue
    }
    if (files.length >= MAX_FILES) {
      fail(`include "${pattern}": more than ${MAX_FILES} files are included; the rest are not read`)
      break
    }
    let text: string
    try {
      text = readFileSync(match, 'utf8')
    } catch (err) {
      fail(`include "${pattern}": cannot read ${match}: ${osReason(err)}`)
      continue
    }
    out.push(...readText(text, match, [...chain, real], problems, files))
  }
  return out
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function exists(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

/** "no such file or directory (ENOENT)" from Node's "ENOENT: no such file or directory, open '…'". */
export function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  const match = /^[A-Z]+: ([^,]+)/.exec(e?.message ?? '')
  if (match !== null && e.code !== undefined) return `${match[1]} (${e.code})`
  return e?.message ?? String(err)
}
