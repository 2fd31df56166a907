/**
 * `fulcrum validate -c FILE [--diff [--json]]`: every problem as FILE:LINE:COL path: message, exit 1; or one
 * "valid" line. With --diff, then what a reload with FILE would change in the running balancer (src/cli/
 * diff.ts); exit 0 whatever the changes, 1 when the file is invalid or the admin API cannot be reached.
 */
import { formatProblem, loadConfig } from '../config/load.ts'
import { adminClient, CliError, type AdminFlags } from './admin-client.ts'
import { previewReload, renderPreview } from './diff.ts'

export interface ValidateOptions extends AdminFlags {
  /** Also show what a reload would change. */
  readonly diff?: boolean
  readonly json?: boolean
}

export async function runValidate(file: string, options: ValidateOptions = {}): Promise<void> {
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
  const valid = `${file}: configuration is valid (${c.listeners.length} listener${c.listeners.length === 1 ? '' : 's'}, ${groups} target group${groups === 1 ? '' : 's'})`
  if (options.diff !== true) { console.log(valid); return }
  // The admin API is found from FILE as for the admin commands (--admin, FULCRUM_ADMIN, admin.listen, default).
  let preview
  try {
    preview = await previewReload(await adminClient({ ...options, config: file }), file, c)
  } catch (err) {
    if (!(err instanceof CliError)) throw err
    if (!options.json) console.log(valid)
    console.error(`fulcrum: cannot compare with the running balancer: ${err.message}`)
    process.exitCode = 1
    return
  }
  if (options.json) console.log(JSON.stringify({ file, valid: true, ...preview }, null, 2))
  else console.log(`${valid}\n${renderPreview(preview)}`)
}
