/** Writes schema/fulcrum.schema.json from the zod schema (`npm run schema`). Commit the result. */
import { writeFile, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SCHEMA_FILE, renderJsonSchema } from '../src/config/json-schema.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const target = resolve(root, SCHEMA_FILE)
await mkdir(dirname(target), { recursive: true })
await writeFile(target, renderJsonSchema())
console.log(`wrote ${SCHEMA_FILE}`)
