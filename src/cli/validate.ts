/** `fulcrum validate -c FILE`: every problem as FILE:LINE:COL path: message, exit 1; or one "valid" line. */
import { formatProblem, loadConfig } from '../config/load.ts'

export async function runValidate(file: string): Promise<void> {
  const result = await loadConfig(file)
  if (!result.ok) {
    for (const p of result.problems) console.error(formatProblem(p))
    console.error(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; nothing was started`)
    process.exitCode = 1
    return
  }
  for (const w of result.warnings) console.error(`warning: ${w}`)
  const c = result.config
  const groups = Object.keys(c.targetGroups).length
  console.log(`${file}: configuration is valid (${c.listeners.length} listener${c.listeners.length === 1 ? '' : 's'}, ${groups} target group${groups === 1 ? '' : 's'})`)
}
