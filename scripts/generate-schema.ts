/** Writes schema/fulcrum.schema.json from the zod schema (`npm run schema`). Commit the result. */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SCHEMA_FILE, renderJsonSchema } from '../src/config/json-schema.ts'

export { renderJsonSchema }

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Writes the file and returns its path. */
export async function writeJsonSchema(file = resolve(ROOT, SCHEMA_FILE)): Promise<string> {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, renderJsonSchema())
  return file
}

// Importing this module (as the test does) must not write anything.
if (import.meta.main) console.log(`wrote ${await writeJsonSchema()}`)
