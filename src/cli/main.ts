/**
 * The `fulcrum` command: parses the command line and hands over to one command module. Exit codes:
 * 0 success, 1 the input was wrong (bad config, cannot listen, an admin call failed, `status` found a
 * group without a healthy target), 2 the command line was wrong.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { adminClient, CliError } from './admin-client.ts'
import { runReload } from './reload.ts'
import { runRollout } from './rollout.ts'
import { runStatus } from './status.ts'
import { addTarget, listTargets, removeTarget } from './targets.ts'
import { DURATION_HINT, parseDuration } from '../config/duration.ts'
import { LOG_LEVELS } from '../log.ts'

const HELP = `fulcrum — a load balancer and reverse proxy

Usage:
  fulcrum start -c FILE [--log-level LEVEL]   run in the foreground (SIGHUP reloads, SIGTERM/SIGINT stop gracefully)
  fulcrum validate -c FILE [--diff]           check a configuration; exit 0 if valid, 1 with every error;
                                              --diff: also what a reload would change in the running balancer
  fulcrum explain -c FILE "METHOD URL" [--header K:V]... [--client IP] [--json]
                                              which listener, route, target group and target take a request, and
                                              why every other route and target was passed over
  fulcrum convert -c FILE                     print the configuration as YAML (an nginx.conf translated)
  fulcrum --help | --version

Admin commands (they call the admin API of a running \`fulcrum start\`):
  fulcrum targets add GROUP ADDRESS [--weight N]   register a target (it starts initial, then follows health checks)
  fulcrum targets remove GROUP ADDRESS [--wait]    deregister: draining at once; --wait returns once it has left
  fulcrum targets list [GROUP] [--json]            targets with state, weight, requests in flight, last check
  fulcrum reload                                   re-read the configuration file (as SIGHUP); exit 1 with its problems
  fulcrum status [--json]                          listeners and targets; exit 0 if every used group has a healthy target
  fulcrum rollout --group GROUP --exec "CMD" [--timeout 60s] [--wait-drain]
                        rolling deploy, one target at a time: drain, run CMD ({address} replaced), register
                        again, wait healthy; on failure stop and put the target back; exit 1

Options:
  -c, --config FILE     configuration: YAML (.yaml/.yml), JSON (.json), TypeScript (fulcrum.config.ts) or nginx (.conf)
      --format FORMAT   start, validate, explain, convert: read FILE as nginx | yaml | json | ts, whatever its name
      --log-level LEVEL ${LOG_LEVELS.join(' | ')} (default info)
                        logs are readable lines on a terminal, JSON lines otherwise
      --json            status, targets list, explain, validate --diff: JSON for scripts
      --header K:V      explain: a request header (repeat for more); Host comes from the URL unless given
      --client IP       explain: the client address (for ip-hash and hash on client-ip; default 127.0.0.1)
      --admin URL       admin API (default: $FULCRUM_ADMIN, else admin.listen of -c FILE, else http://127.0.0.1:9090)
      --token TOKEN     admin token (default: $FULCRUM_ADMIN_TOKEN, else admin.token of -c FILE)
      --timeout TIME    rollout: how long a restarted target may take to turn healthy (default 60s)
      --wait-drain      rollout: abort if the deregistration delay passes with requests still in flight
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

const ADMIN = ['config', 'admin', 'token']
/** The options each command takes; any other is a usage error. */
const COMMAND_OPTIONS: Record<string, string[]> = {
  start: ['config', 'log-level', 'format'],
  validate: ['config', 'diff', 'json', 'admin', 'token', 'format'],
  explain: [...ADMIN, 'header', 'client', 'json', 'format'],
  convert: ['config', 'format'],
  'targets add': [...ADMIN, 'weight'],
  'targets remove': [...ADMIN, 'wait'],
  'targets list': [...ADMIN, 'json'],
  reload: ADMIN,
  status: [...ADMIN, 'json'],
  rollout: [...ADMIN, 'group', 'exec', 'timeout', 'wait-drain'],
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
        admin: { type: 'string' },
        token: { type: 'string' },
        weight: { type: 'string' },
        wait: { type: 'boolean' },
        json: { type: 'boolean' },
        group: { type: 'string' },
        exec: { type: 'string' },
        timeout: { type: 'string' },
        'wait-drain': { type: 'boolean' },
        diff: { type: 'boolean' },
        header: { type: 'string', multiple: true },
        client: { type: 'string' },
        format: { type: 'string' },
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
  const name = command === 'targets' ? `targets ${positionals[1] ?? ''}` : command
  const allowed = COMMAND_OPTIONS[name]
  if (allowed === undefined) {
    if (command === 'targets') usageError(positionals[1] === undefined ? 'targets needs add, remove or list' : `unknown targets command "${positionals[1]}" (add, remove, list)`)
    usageError(`unknown command "${command}" (commands: start, validate, explain, convert, targets, reload, status, rollout)`)
  }
  for (const [option, value] of Object.entries(values)) {
    if (value !== undefined && option !== 'help' && option !== 'version' && !allowed.includes(option)) usageError(`--${option} is not an option of "fulcrum ${name}"`)
  }
  if (values.format !== undefined) {
    const { FORMATS, setFormat } = await import('../config/load.ts')
    if (!(FORMATS as readonly string[]).includes(values.format)) usageError(`--format must be one of ${FORMATS.join(', ')}`)
    // Remembered by file, so that reloads (SIGHUP, the admin API) read it the same way.
    if (values.config !== undefined) setFormat(values.config, values.format as (typeof FORMATS)[number])
  }
  const args = positionals.slice(command === 'targets' ? 2 : 1)
  const expect = (min: number, max: number, usage: string): void => {
    if (args.length < min) usageError(`${name} needs ${usage}`)
    if (args.length > max) usageError(`unexpected argument "${args[max]}"`)
  }
  switch (name) {
    case 'start': {
      expect(0, 0, '')
      const logLevel = values['log-level'] ?? 'info'
      if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
      if (values.config === undefined) usageError('start needs -c FILE')
      // Imported on use: the balancer's modules take a while to load, and the admin commands need none of them.
      const { runStart } = await import('./start.ts')
      return runStart(values.config, logLevel as (typeof LOG_LEVELS)[number])
    }
    case 'validate': {
      expect(0, 0, '')
      if (values.config === undefined) usageError('validate needs -c FILE')
      if (values.json === true && values.diff !== true) usageError('--json goes with --diff: validate prints one line or the problems')
      const { runValidate } = await import('./validate.ts')
      return runValidate(values.config, { diff: values.diff === true, json: values.json === true, admin: values.admin, token: values.token })
    }
    case 'convert': {
      expect(0, 0, '')
      if (values.config === undefined) usageError('convert needs -c FILE, e.g. fulcrum convert -c /etc/nginx/nginx.conf > fulcrum.yaml')
      const { runConvert } = await import('./convert.ts')
      return runConvert(values.config)
    }
    case 'explain': {
      expect(1, 1, 'a request, e.g. fulcrum explain -c fulcrum.yaml "GET https://api.example.com/v1/users"')
      if (values.config === undefined) usageError('explain needs -c FILE')
      const { runExplain } = await import('./explain.ts')
      process.exitCode = await runExplain({
        config: values.config, request: args[0], headers: values.header ?? [], client: values.client,
        json: values.json === true, admin: values.admin, token: values.token,
      })
      return
    }
  }
  // The admin commands: each returns its exit code; a failed call throws CliError.
  try {
    process.exitCode = await runAdmin(name, args, values, expect)
  } catch (err) {
    if (!(err instanceof CliError)) throw err
    console.error(`fulcrum: ${err.message}`)
    process.exitCode = 1
  }
}

type Values = Record<string, string | boolean | string[] | undefined>

async function runAdmin(name: string, args: string[], values: Values, expect: (min: number, max: number, usage: string) => void): Promise<number> {
  const flags = { admin: values.admin as string | undefined, token: values.token as string | undefined, config: values.config as string | undefined }
  switch (name) {
    case 'targets add': {
      expect(2, 2, 'GROUP ADDRESS, e.g. fulcrum targets add web 127.0.0.1:8085')
      const weight = values.weight === undefined ? 1 : Number(values.weight)
      if (!Number.isInteger(weight) || weight < 1) usageError(`--weight must be a whole number from 1, found "${values.weight as string}"`)
      return addTarget(await adminClient(flags), args[0], args[1], weight)
    }
    case 'targets remove':
      expect(2, 2, 'GROUP ADDRESS, e.g. fulcrum targets remove web 127.0.0.1:8085')
      return removeTarget(await adminClient(flags), args[0], args[1], values.wait === true)
    case 'targets list':
      expect(0, 1, '')
      return listTargets(await adminClient(flags), args[0], values.json === true)
    case 'reload':
      expect(0, 0, '')
      return runReload(await adminClient(flags))
    case 'status':
      expect(0, 0, '')
      return runStatus(await adminClient(flags), values.json === true)
    default: {
      expect(0, 0, '')
      const group = values.group as string | undefined
      const exec = values.exec as string | undefined
      if (group === undefined || exec === undefined) usageError('rollout needs --group GROUP and --exec "CMD", e.g. --exec "systemctl restart app@{address}"')
      const timeoutMs = parseDuration((values.timeout as string | undefined) ?? '60s')
      if (timeoutMs === undefined || timeoutMs === 0) usageError(`--timeout needs ${DURATION_HINT}`)
      return runRollout(await adminClient(flags), { group, exec, timeoutMs, waitDrain: values['wait-drain'] === true })
    }
  }
}

await main(process.argv.slice(2))
