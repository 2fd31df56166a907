/**
 * Golden files, as Caddy's caddyfile_adapt tests: each test/fixtures/nginx/golden/NAME.nginxtest holds an
 * nginx configuration, a line of dashes, and what Fulcrum makes of it: the YAML `fulcrum convert` prints
 * (warnings first, as comments), or the problems `fulcrum validate` reports, as `# error:` lines.
 * UPDATE_GOLDEN=1 rewrites the expected halves from the current output (review the diff).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { formatProblem } from '../problem.ts'
import { parseNginxConfigText } from './load.ts'

const DIR = new URL('../../../test/fixtures/nginx/golden/', import.meta.url).pathname
const SEPARATOR = /^-{10,}\n/m

/** What `convert` would print, warnings and errors as comments. */
export async function render(text: string, file: string): Promise<string> {
  const result = await parseNginxConfigText(text, file)
  if (!result.ok) return result.problems.map((p) => `# error: ${formatProblem(p)}`).join('\n') + '\n'
  const warnings = result.warnings.map((w) => `# warning: ${formatProblem(w)}\n`).join('')
  return warnings + stringify(result.input, { lineWidth: 0, aliasDuplicateObjects: false })
}

for (const name of readdirSync(DIR).filter((f) => f.endsWith('.nginxtest')).sort()) {
  test(`golden: ${name}`, async () => {
    const path = join(DIR, name)
    const text = readFileSync(path, 'utf8')
    const [input, expected = ''] = text.split(SEPARATOR)
    const actual = await render(input, name.replace(/\.nginxtest$/, '.conf'))
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(path, `${input.replace(/\n*$/, '\n')}${'-'.repeat(10)}\n${actual}`)
      return
    }
    assert.equal(actual, expected)
  })
}
