/**
 * `npm start`: the four demo backends on 127.0.0.1:8081-8084 and the balancer on :8080 with
 * examples/quickstart.yaml, all in the foreground. Ctrl-C stops everything. Each backend is its own
 * process (its pid is printed), so you can kill one and watch the balancer carry on.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const node = process.execPath
const children: ChildProcess[] = []
let stopping = false

function run(args: string[], name: string): ChildProcess {
  // Own process group: Ctrl-C reaches only this script, which stops each child once, in order.
  const child = spawn(node, args, { cwd: root, stdio: 'inherit', detached: true })
  children.push(child)
  child.on('exit', (code, signal) => {
    if (stopping) return
    console.log(`[quickstart] ${name} exited (${signal ?? code})`)
    if (name === 'balancer') stopAll(code ?? 1)
  })
  return child
}

function stopAll(code: number): void {
  if (stopping) return
  stopping = true
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  const waitAll = children.map((c) => c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))
  void Promise.all(waitAll).then(() => process.exit(code))
}

for (const port of [8081, 8082, 8083, 8084]) run(['examples/demo-backend.ts', String(port)], `backend ${port}`)
run(['src/cli/main.ts', 'start', '-c', 'examples/quickstart.yaml'], 'balancer')
console.log('[quickstart] try: curl localhost:8080   (Ctrl-C stops everything)')
process.on('SIGINT', () => stopAll(0))
process.on('SIGTERM', () => stopAll(0))
