/**
 * `fulcrum convert -c FILE`: the configuration as YAML on stdout, e.g. an nginx.conf translated into the
 * equivalent fulcrum.yaml (durations as "10s"). The file is validated first: problems as for `validate`,
 * exit 1 and nothing printed on stdout. Warnings go to stderr.
 */
import { stringify } from 'yaml'
import { formatProblem, loadConfig } from '../config/load.ts'

export async function runConvert(file: string): Promise<void> {
  const result = await loadConfig(file)
  if (!result.ok) {
    for (const p of result.problems) console.error(formatProblem(p))
    console.error(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; nothing was converted`)
    process.exitCode = 1
    return
  }
  for (const w of result.warnings) console.error(`warning: ${w}`)
  // lineWidth 0: templates and log formats stay on one line, as they were written; no YAML aliases (&a1).
  process.stdout.write(`# Converted from ${file} by fulcrum convert\n${stringify(result.input, { lineWidth: 0, aliasDuplicateObjects: false })}`)
}
