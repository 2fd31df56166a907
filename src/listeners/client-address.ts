/** The client's address as logs and headers show it: IPv4 clients on a dual-stack socket without "::ffff:". */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return ''
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote
}
