/**
 * Access logs, per listener (`accessLog: { format, path }`): each finished request (or, on L4 listeners, each
 * finished session) is formatted at once
 * (the record is only valid during `requestDone`) and queued on the writer for its path. Listeners that
 * name the same path share one writer. `configure` runs on start and on every reload; unchanged listeners
 * keep their writer, and a writer no listener uses any more is flushed and closed.
 */
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { isHttpListener, type ListenerConfig } from '../config/schema.ts'
import { compileFormat, type LineFormat } from './log-format.ts'
import { LineWriter } from './log-writer.ts'
import type { RequestRecord, SessionRecord } from './observer.ts'
import { compileSessionFormat } from './session-format.ts'

interface ListenerLog {
  readonly spec: string
  /** HTTP listeners format requests; L4 listeners sessions. */
  readonly format: LineFormat | undefined
  readonly sessionFormat: SessionFormat | undefined
  readonly writer: LineWriter
}

type SessionFormat = ReturnType<typeof compileSessionFormat>['format']

export class AccessLogs {
  readonly #log: Logger
  readonly #configDir: string
  #listeners = new Map<string, ListenerLog>()
  #writers = new Map<string, LineWriter>()

  /** `configDir`: the config file's folder, which relative paths start from. */
  constructor(log: Logger, configDir: string) {
    this.#log = log
    this.#configDir = configDir
  }

  get size(): number {
    return this.#listeners.size
  }

  configure(listeners: readonly ListenerConfig[]): void {
    const next = new Map<string, ListenerLog>()
    const writers = new Map<string, LineWriter>()
    for (const l of listeners) {
      if (l.accessLog === undefined) continue
      const path = l.accessLog.path === 'stdout' ? 'stdout' : resolve(this.#configDir, l.accessLog.path)
      const writer = writers.get(path) ?? this.#writers.get(path) ?? this.#writer(path)
      writers.set(path, writer)
      const spec = `${l.accessLog.format}\n${path}`
      const old = this.#listeners.get(l.name)
      if (old !== undefined && old.spec === spec) {
        next.set(l.name, { ...old, writer })
        continue
      }
      const http = isHttpListener(l)
      const compiled = http ? compileFormat(l.accessLog.format) : compileSessionFormat(l.accessLog.format)
      for (const p of compiled.problems) this.#log.error({ listener: l.name }, `listeners.${l.name}.accessLog.format: ${p}; it prints "-"`)
      next.set(l.name, http
        ? { spec, format: compiled.format as LineFormat, sessionFormat: undefined, writer }
        : { spec, format: undefined, sessionFormat: compiled.format as SessionFormat, writer })
    }
    for (const [path, w] of this.#writers) if (!writers.has(path)) void w.close()
    this.#listeners = next
    this.#writers = writers
  }

  requestDone(record: RequestRecord, endedAt: number): void {
    const l = this.#listeners.get(record.listener)
    if (l?.format !== undefined && record.logged) l.writer.write(l.format(record, endedAt, Date.now()))
  }

  sessionDone(record: SessionRecord): void {
    const l = this.#listeners.get(record.listener)
    if (l?.sessionFormat !== undefined) l.writer.write(l.sessionFormat(record, record.endedAt, Date.now()))
  }

  /** SIGUSR1: every file is opened again at its path, so logrotate can move the old one away. */
  reopen(): void {
    for (const w of this.#writers.values()) w.reopen()
  }

  async close(): Promise<void> {
    const writers = [...this.#writers.values()]
    this.#listeners = new Map()
    this.#writers = new Map()
    await Promise.all(writers.map((w) => w.close()))
  }

  #writer(path: string): LineWriter {
    return new LineWriter({
      path,
      onError: (message, err, dropped) => this.#log.error({ path, code: err?.code, error: err?.message, dropped },
        `${message}; requests are still served, their log lines are dropped (reported at most once a minute)`),
      onRecover: (dropped) => this.#log.info({ path, dropped }, 'access log is written again'),
    })
  }
}
