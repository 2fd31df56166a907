/**
 * The `fulcrum` command: parses the command line and hands over to one command module. Exit codes:
 * 0 success, 1 the input was wrong (bad config, cannot listen), 2 the command line was wrong.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { runStart } from './start.ts'
import { runValidate } from './validate.ts'
import { LOG_LEVELS } from '../log.ts'

const HELP = `fulcrum — a load balancer and reverse proxy

Usage:
  fulcrum start -c FILE [--log-level LEVEL]   run in the foreground (SIGHUP reloads, SIGTERM/SIGINT stop gracefully)
  fulcrum validate -c FILE                    check a configuration; exit 0 if valid, 1 with every error
  fulcrum --help | --version

Options:
  -c, --config FILE     configuration: YAML (.yaml/.yml), JSON (.json) or TypeScript (fulcrum.config.ts)
      --log-level LEVEL ${LOG_LEVELS.join(' | ')} (default info)
  -h, --help            this text
  -v, --version         the version

Docs: README.md; JSON Schema for editors: schema/fulcrum.schema.json`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function usageError(message: string): never {
  console.error(`fulcrum: ${message}\nRun "fulcrum --help" for usage.`)
  process.exit(2)
}

async function main(argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (err) {
    usageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.version === true) { console.log(`fulcrum ${version()}`); return }
  const command = positionals[0]
  if (values.help === true || command === undefined || command === 'help') { console.log(HELP); return }
  if (positionals.length > 1) usageError(`unexpected argument "${positionals[1]}"`)
  const logLevel = values['log-level'] ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  switch (command) {
    case 'start':
      if (values.config === undefined) usageError('start needs -c FILE')
      return runStart(values.config, logLevel as (typeof LOG_LEVELS)[number])
    case 'validate':
      if (values.config === undefined) usageError('validate needs -c FILE')
      return runValidate(values.config)
    default:
      usageError(`unknown command "${command}" (commands: start, validate)`)
  }
}

await main(process.argv.slice(2))
