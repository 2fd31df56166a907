/**
 * An append-only line writer for access logs that never blocks or stops the data path (the role pino's
 * SonicBoom plays, with the failure behaviour a proxy needs). Lines queue in memory; a write on libuv's
 * thread pool sends them, so a slow disk or a full stdout pipe stalls that thread, not the event loop.
 *
 * - Files are opened O_APPEND (flag "a"), creating the folder if needed, and every write() call carries
 *   whole lines only: several workers appending to one file interleave lines, never parts of lines.
 *   To stdout (another process's pipe, shared with the application log) a write stays within PIPE_BUF
 *   (4096 bytes), the size the kernel writes to a pipe in one piece.
 * - A failing write (a full disk, an I/O error) drops its lines and is reported through `onError`, at most
 *   once a minute with the number of lines dropped meanwhile; proxying goes on, and writing resumes by
 *   itself when the disk has room again. A file that cannot be opened (its folder gone and not creatable,
 *   no permission) drops lines the same way and is tried again every 5 seconds.
 * - `reopen()` (SIGUSR1, after logrotate renamed the file) opens the path anew between two writes and
 *   closes the old descriptor, so new lines go to a new file at the original path.
 * - Memory is bounded: past `maxPending` bytes queued, new lines are dropped (and reported).
 */
import { close, mkdir, open, write } from 'node:fs'
import { dirname } from 'node:path'

export interface LineWriterOptions {
  /** 'stdout' or an absolute file path. */
  readonly path: string
  /** Reports a problem: what failed and how many lines were dropped since the last report. */
  readonly onError: (message: string, err: NodeJS.ErrnoException | undefined, dropped: number) => void
  /** Called when writing works again after a reported problem. */
  readonly onRecover?: (dropped: number) => void
  /** Most bytes queued before new lines are dropped. Default 16 MiB. */
  readonly maxPending?: number
  /** Clock for the rate limits (ms). */
  readonly now?: () => number
}

const PIPE_BUF = 4096
const FILE_WRITE = 256 * 1024
const REPORT_EVERY_MS = 60_000
const RETRY_OPEN_MS = 5_000

export class LineWriter {
  readonly path: string
  readonly #options: LineWriterOptions
  readonly #maxWrite: number
  readonly #maxPending: number
  readonly #now: () => number
  #fd: number
  /** The queue: lines from `#head` on, and their sizes in bytes (a head index, not shift(), so a long backlog costs no copying). */
  #lines: string[] = []
  #sizes: number[] = []
  #head = 0
  #bytes = 0
  #busy = false
  #scheduled = false
  #reopen = false
  #closing: (() => void) | undefined
  #lastOpenTry = -Infinity
  /** Lines lost since the last report, and whether a problem is still unresolved. */
  #dropped = 0
  #lastReport = -Infinity
  #failing = false

  constructor(options: LineWriterOptions) {
    this.path = options.path
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#maxPending = options.maxPending ?? 16 * 1024 * 1024
    this.#maxWrite = options.path === 'stdout' ? PIPE_BUF : FILE_WRITE
    this.#fd = options.path === 'stdout' ? 1 : -1
    // Opened now (asynchronously), as nginx opens its logs at start, so that a bad path shows at once.
    if (this.#fd === -1) {
      this.#reopen = true
      this.#pump()
    }
  }

  /** Lines waiting to be written. */
  get queued(): number {
    return this.#lines.length - this.#head
  }

  /** Nothing queued, nothing being written or opened. */
  get idle(): boolean {
    return !this.#busy && !this.#scheduled && this.queued === 0
  }

  /** Queues one line (ending in "\n"); returns at once. */
  write(line: string): void {
    if (this.#closing !== undefined) return
    if (this.#bytes >= this.#maxPending) {
      this.#drop(1, 'the access log cannot keep up: lines are being dropped', undefined)
      return
    }
    const size = Buffer.byteLength(line)
    this.#lines.push(line)
    this.#sizes.push(size)
    this.#bytes += size
    if (!this.#busy && !this.#scheduled) {
      // One write per turn of the event loop carries every line that turn produced.
      this.#scheduled = true
      setImmediate(() => { this.#scheduled = false; this.#pump() })
    }
  }

  /** Opens the path again before the next write (logrotate); stdout is never reopened. */
  reopen(): void {
    if (this.path === 'stdout' || this.#closing !== undefined) return
    this.#reopen = true
    this.#lastOpenTry = -Infinity
    if (!this.#busy) this.#pump()
  }

  /**
   * Writes what is queued, then closes the file. Resolves after `timeout` ms at the latest (a stdout
   * nobody reads must not hold up a stop); what is still queued then is lost.
   */
  close(timeout = 2_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeout)
      timer.unref()
      this.#closing = () => { clearTimeout(timer); resolve() }
      if (!this.#busy) this.#pump()
    })
  }

  #pump(): void {
    if (this.#busy) return
    if (this.#reopen && this.#now() - this.#lastOpenTry >= RETRY_OPEN_MS) return this.#open()
    if (this.queued === 0) return this.#finishClose()
    const batch = this.#take()
    if (this.#fd < 0) {
      this.#drop(batch.count, `cannot open access log ${this.path}`, undefined)
      return this.#pump()
    }
    this.#busy = true
    this.#writeAll(Buffer.from(batch.text, 'utf8'), 0, batch.count)
  }

  /** Whole lines from the queue, up to the write size (one longer line goes alone). */
  #take(): { text: string; count: number } {
    const sizes = this.#sizes
    const start = this.#head
    let end = start
    let size = 0
    while (end < sizes.length && (end === start || size + sizes[end] <= this.#maxWrite)) size += sizes[end++]
    const text = end - start === 1 ? this.#lines[start] : this.#lines.slice(start, end).join('')
    this.#head = end
    if (end === sizes.length) {
      this.#lines = []
      this.#sizes = []
      this.#head = 0
    } else if (end > 4096) {
      this.#lines = this.#lines.slice(end)
      this.#sizes = sizes.slice(end)
      this.#head = 0
    }
    this.#bytes -= size
    return { text, count: end - start }
  }

  #writeAll(buf: Buffer, offset: number, count: number): void {
    write(this.#fd, buf, offset, buf.length - offset, null, (err, written) => {
      if (err !== null) {
        if (err.code === 'EAGAIN') {
          // A non-blocking stdout pipe is full: the reader is slow. Try again shortly.
          setTimeout(() => this.#writeAll(buf, offset, count), 10)
          return
        }
        this.#busy = false
        this.#drop(count, `cannot write access log ${this.path}`, err)
        return this.#pump()
      }
      // Regular files take all of it; a short write (a signal, a nearly full disk) goes on where it stopped.
      if (offset + written < buf.length) return this.#writeAll(buf, offset + written, count)
      this.#busy = false
      if (this.#failing) {
        this.#failing = false
        this.#options.onRecover?.(this.#dropped)
        this.#dropped = 0
        this.#lastReport = -Infinity
      }
      this.#pump()
    })
  }

  #open(): void {
    this.#busy = true
    this.#lastOpenTry = this.#now()
    const path = this.path
    mkdir(dirname(path), { recursive: true }, () => {
      // mkdir's own error (EEXIST as a file, EACCES) shows again, more precisely, as open's.
      open(path, 'a', 0o644, (err, fd) => {
        this.#busy = false
        if (err !== null) {
          this.#report(`cannot open access log ${path}`, err)
        } else {
          this.#reopen = false
          const old = this.#fd
          this.#fd = fd
          if (old >= 0) close(old, () => {})
        }
        this.#pump()
      })
    })
  }

  #finishClose(): void {
    const done = this.#closing
    if (done === undefined) return
    this.#closing = () => {}
    if (this.#fd > 2) close(this.#fd, () => done())
    else done()
    this.#fd = -1
  }

  #drop(count: number, message: string, err: NodeJS.ErrnoException | undefined): void {
    this.#dropped += count
    this.#report(message, err)
  }

  #report(message: string, err: NodeJS.ErrnoException | undefined): void {
    this.#failing = true
    const now = this.#now()
    if (now - this.#lastReport < REPORT_EVERY_MS) return
    this.#lastReport = now
    this.#options.onError(message, err, this.#dropped)
  }
}
