/**
 * The seed's Express app without Express: answers every request with `Response from <port>`.
 * Usage: node examples/demo-backend.ts PORT [HOST]
 */
import { createServer } from 'node:http'

const port = Number(process.argv[2] ?? process.env.PORT)
const host = process.argv[3] ?? '127.0.0.1'
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node examples/demo-backend.ts PORT [HOST]')
  process.exit(2)
}
const body = `Response from ${port}`
const server = createServer((req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
})
server.on('error', (err) => {
  console.error(`demo backend ${port}: ${err.message}`)
  process.exit(1)
})
server.listen(port, host, () => console.log(`app is running on ${port} (pid ${process.pid})`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
process.on('SIGINT', () => server.close(() => process.exit(0)))
