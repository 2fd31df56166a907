/**
 * The embedded state store: one JSON file under dataDir, replaced atomically (write a temporary file,
 * fsync it, rename it over the old one, fsync the folder), so a crash at any moment leaves the old or the
 * new state, never a torn one. Saves are serialised: the last one wins, none interleave.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { EMPTY_STATE, type DurableState, type StateStore } from './state-store.ts'

export const STATE_FILE = 'registrations.json'

export class FileStateStore implements StateStore {
  readonly dir: string
  readonly file: string
  #queue: Promise<void> = Promise.resolve()

  constructor(dataDir: string) {
    this.dir = dataDir
    this.file = join(dataDir, STATE_FILE)
  }

  async load(): Promise<DurableState> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE
      throw new Error(`cannot read ${this.file}: ${(err as Error).message}`, { cause: err })
    }
    try {
      const state = JSON.parse(text) as DurableState
      if (state.version !== 1 || typeof state.groups !== 'object' || state.groups === null) throw new Error('unknown format')
      return state
    } catch (err) {
      throw new Error(`${this.file} is not a Fulcrum state file (${(err as Error).message}); move it away to start afresh`, { cause: err })
    }
  }

  save(state: DurableState): Promise<void> {
    const next = this.#queue.then(() => this.#write(state))
    this.#queue = next.catch(() => {})
    return next
  }

  async #write(state: DurableState): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const tmp = `${this.file}.${process.pid}.tmp`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await rename(tmp, this.file)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
    // The rename itself must reach the disk too.
    const dir = await open(this.dir, 'r')
    try { await dir.sync() } finally { await dir.close() }
  }
}
