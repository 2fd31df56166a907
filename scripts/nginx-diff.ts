/**
 * `npm run nginx-diff -- [FILE.conf…] [--requests FILE.json]`: runs nginx configurations under real nginx
 * and under Fulcrum, in front of the same recording backends, sends both the same requests and prints
 * where they differ. Without a file, runs the corpus in test/nginx-corpus/. Exit 0 when every difference
 * is explained, 1 otherwise, 2 on a usage error or when nginx is not installed.
 */
import { accessSync, constants } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { readCase, readCorpus, userCase, type Case } from './nginx-diff/case.ts'
import { table, trace } from './nginx-diff/report.ts'
import { removeTempFolders, runAll } from './nginx-diff/run-case.ts'
import { NGINX, stopAll } from './nginx-diff/servers.ts'

const USAGE = `usage: npm run nginx-diff -- [FILE.conf…] [--requests REQUESTS.json] [--verbose] [--trace] [--keep] [--jobs N]

  FILE.conf            an nginx configuration; without one, every case of test/nginx-corpus/ runs
                       (a NAME.json case file works too)
  --requests FILE      the requests to send: a JSON list of { method, path, host, headers, body,
                       bodyBytes, chunked, client, port, repeat }, or a whole case (see test/nginx-corpus/);
                       default: GET / and GET of each location prefix, for each server_name
  --verbose            every difference, and the explained ones with their reasons
  --trace              each request's status and the backends it reached, on each side
  --keep               keep the temp folders (the configurations both servers ran, nginx's logs)
  --jobs N             cases run at once (default 4)

Both servers run the file with their addresses moved to this machine: upstream servers and direct
proxy_pass addresses answer from recording backends, each listen gets a free port. nginx: ${NGINX}
(set NGINX=PATH for another).`

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        requests: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        trace: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        jobs: { type: 'string', default: '4' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    console.error(`nginx-diff: ${(err as Error).message}\n\n${USAGE}`)
    process.exit(2)
  }
}

const { values, positionals } = parse()

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const jobs = Number(values.jobs)
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error(`nginx-diff: --jobs wants a whole number of at least 1, not "${values.jobs}"\n\n${USAGE}`)
  process.exit(2)
}

try {
  accessSync(NGINX, constants.X_OK)
} catch {
  console.error(`nginx-diff: nginx is not installed at ${NGINX} (apt-get install nginx-light, or set NGINX=PATH)`)
  process.exit(2)
}
let cases: Case[]
try {
  cases = positionals.length === 0
    ? readCorpus(fileURLToPath(new URL('../test/nginx-corpus/', import.meta.url)))
    : positionals.map((f) => (f.endsWith('.json') ? readCase(f) : userCase(f, values.requests)))
} catch (err) {
  console.error(`nginx-diff: ${(err as Error).message}`)
  process.exit(2)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => {
      removeTempFolders()
      process.exit(130)
    })
  })
}
const results = await runAll(cases, jobs, values.keep)
if (values.trace) console.log(`${trace(results)}\n`)
console.log(table(results, values.verbose))
process.exit(results.some((r) => r.unexplained.length > 0) ? 1 : 0)
