/**
 * nginx configuration syntax: text -> a tree of directives, each with its file, line and column. Follows
 * nginx's own tokenizer (`ngx_conf_read_token`): words end at whitespace, `;` or `{`; quotes and `#` count
 * only at the start of a word; `\"`, `\'`, `\\`, `\t`, `\r`, `\n` are unescaped and any other backslash is
 * kept; `${name}` does not open a block. One pass over the text, no recursion: a file of any size or
 * nesting costs time linear in its length and never overflows the stack.
 */

/** One directive: `name args…;` or `name args… { block }`. */
export interface Directive {
  name: string
  args: string[]
  file: string
  /** 1-based, of the directive's first character. */
  line: number
  column: number
  /** Present for block directives (`http { … }`), empty for `{}`. */
  block?: Directive[]
}

/** A syntax error, at the place nginx would report it. */
export interface SyntaxProblem {
  file: string
  line: number
  message: string
}

export interface ParseResult {
  directives: Directive[]
  problems: SyntaxProblem[]
}

/** Deeper than this is not a configuration anyone wrote; walking it later could exhaust the stack. */
export const MAX_DEPTH = 100

const SPACE = new Set([' ', '\t', '\r', '\n'])

/** Parses one file's text. Never throws; what cannot be read is reported and skipped. */
export function parseNginx(text: string, file: string): ParseResult {
  const problems: SyntaxProblem[] = []
  const root: Directive[] = []
  /** Open blocks, innermost last. */
  const open: Directive[] = []
  let current = root

  let line = 1
  let column = 0
  let words: string[] = []
  let startLine = 1
  let startColumn = 1
  /** Where the current word starts (after an opening quote), or -1 between words. */
  let wordStart = -1
  let quote = '' // '"' or "'" while inside quotes
  let quoteLine = 0
  let escaped = false
  let comment = false
  let needSpace = false
  let variable = false
  let skippedDeep = 0 // blocks opened beyond MAX_DEPTH, read but not kept

  const fail = (message: string, at = line) => problems.push({ file, line: at, message })

  const endWord = (end: number) => {
    words.push(unescape(text.slice(wordStart, end)))
    wordStart = -1
  }

  const finish = (kind: ';' | '{') => {
    if (words.length === 0) {
      fail(`unexpected "${kind}"${kind === ';' ? '; remove it' : ': a block needs a directive name before "{"'}`)
      if (kind === '{') openBlock({ name: '', args: [], file, line: startLine, column: startColumn, block: [] })
      return
    }
    const [name, ...args] = words
    const directive: Directive = { name, args, file, line: startLine, column: startColumn }
    words = []
    if (kind === ';') {
      if (skippedDeep === 0) current.push(directive)
      return
    }
    directive.block = []
    openBlock(directive)
  }

  const openBlock = (directive: Directive) => {
    if (skippedDeep > 0 || open.length >= MAX_DEPTH) {
      if (skippedDeep === 0) fail(`blocks are nested more than ${MAX_DEPTH} deep; the inner ones are ignored`, directive.line)
      skippedDeep++
      return
    }
    current.push(directive)
    open.push(directive)
    current = directive.block as Directive[]
  }

  const closeBlock = () => {
    if (words.length > 0) {
      fail(`unexpected "}": "${words[0]}" on line ${startLine} is not finished; end it with ";"`)
      words = []
    }
    if (skippedDeep > 0) {
      skippedDeep--
      return
    }
    if (open.length === 0) {
      fail('unexpected "}": no block is open here; remove it')
      return
    }
    open.pop()
    current = open.length === 0 ? root : (open[open.length - 1].block as Directive[])
  }

  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\n') {
      line++
      column = 0
      comment = false
    } else column++
    if (comment) continue
    if (escaped) {
      escaped = false
      continue
    }
    if (needSpace) {
      if (SPACE.has(ch)) {
        needSpace = false
        continue
      }
      if (ch === ';' || ch === '{') {
        needSpace = false
        finish(ch)
        continue
      }
      // nginx lets `)` follow a quoted word (the end of an `if` condition).
      if (ch === ')') {
        needSpace = false
        continue
      }
      fail(`unexpected "${ch}" after a quoted word; put a space or ";" after the closing quote`)
      needSpace = false
    }
    if (wordStart < 0) {
      if (SPACE.has(ch)) continue
      if (words.length === 0) {
        startLine = line
        startColumn = column
      }
      if (ch === ';' || ch === '{') {
        finish(ch)
        continue
      }
      if (ch === '}') {
        closeBlock()
        continue
      }
      if (ch === '#') {
        comment = true
        continue
      }
      variable = false
      if (ch === '"' || ch === "'") {
        quote = ch
        quoteLine = line
        wordStart = i + 1
        continue
      }
      wordStart = i
      if (ch === '\\') escaped = true
      else if (ch === '$') variable = true
      continue
    }
    // Inside a word.
    if (ch === '{' && variable) continue
    variable = false
    if (ch === '\\') {
      escaped = true
      continue
    }
    if (ch === '$') {
      variable = true
      continue
    }
    if (quote !== '') {
      if (ch === quote) {
        endWord(i)
        quote = ''
        needSpace = true
      }
      continue
    }
    if (SPACE.has(ch) || ch === ';' || ch === '{') {
      endWord(i)
      if (ch === ';' || ch === '{') finish(ch)
    }
  }

  if (quote !== '') {
    fail(`unterminated ${quote === '"' ? 'double' : 'single'} quote: the quoted text opened on line ${quoteLine} never ends; add the closing ${quote}`, quoteLine)
  } else if (wordStart >= 0 || words.length > 0) {
    if (wordStart >= 0) endWord(text.length)
    fail(`unexpected end of file: "${words[0]}" on line ${startLine} is not finished; end it with ";"`, startLine)
  }
  // Report the innermost unclosed block first: it is the one most likely missing its "}".
  for (let i = open.length - 1; i >= 0; i--) {
    const block = open[i]
    fail(`unexpected end of file: the "${block.name}" block opened on line ${block.line} is never closed; add "}"`, block.line)
  }
  return { directives: root, problems }
}

/** nginx's unescaping of a word: \" \' \\ \t \r \n; any other backslash stays as written. */
function unescape(raw: string): string {
  if (!raw.includes('\\')) return raw
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]
    if (ch !== '\\' || i === raw.length - 1) {
      out += ch
      continue
    }
    const next = raw[i + 1]
    if (next === '"' || next === "'" || next === '\\') {
      out += next
      i++
    } else if (next === 't') {
      out += '\t'
      i++
    } else if (next === 'r') {
      out += '\r'
      i++
    } else if (next === 'n') {
      out += '\n'
      i++
    } else out += ch
  }
  return out
}

/** Every directive of a tree in file order, without recursion. */
export function* walk(directives: readonly Directive[]): Generator<{ directive: Directive; parents: readonly Directive[] }> {
  const stack: { list: readonly Directive[]; index: number; parents: readonly Directive[] }[] = [{ list: directives, index: 0, parents: [] }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (top.index >= top.list.length) {
      stack.pop()
      continue
    }
    const directive = top.list[top.index++]
    yield { directive, parents: top.parents }
    if (directive.block !== undefined && directive.block.length > 0) {
      stack.push({ list: directive.block, index: 0, parents: [...top.parents, directive] })
    }
  }
}
