/**
 * Stand-in backends when nginx is not installed: node:http servers in this one process, one per port
 * given on the command line, each answering "ok\n". `GET /__bench_status` answers in nginx stub_status
 * format, so the harness counts each backend's requests the same way for both kinds.
 *   node bench/node-backends.ts 8081 8082
 */
import { createServer } from 'node:http'

const servers = process.argv.slice(2).map((port) => {
  let requests = 0
  const server = createServer((req, res) => {
    requests++
    if (req.url === '/__bench_status') {
      res.end(`Active connections: 0\nserver accepts handled requests\n 0 0 ${requests}\n`)
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' })
    res.end('ok\n')
  })
  // nginx's keepalive_requests 1000000 equivalent: never close a client's connection for being reused.
  server.maxRequestsPerSocket = 0
  server.keepAliveTimeout = 60_000
  return server.listen(Number(port), '127.0.0.1')
})

process.once('SIGTERM', () => {
  for (const s of servers) s.closeAllConnections(), s.close()
  process.exit(0)
})
