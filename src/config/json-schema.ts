/**
 * The published JSON Schema for configuration files, generated from `configSchema` so it cannot drift from
 * the validator. `npm run schema` writes it to schema/fulcrum.schema.json; a test fails when that file is stale.
 */
import { z } from 'zod'
import { configSchema } from './schema.ts'

/** Placeholder identifier until the schema has a public URL; editors locate it by path, not by $id. */
export const SCHEMA_ID = 'urn:fulcrum:config-schema'

/** Where the generated file lives, relative to the repository root. */
export const SCHEMA_FILE = 'schema/fulcrum.schema.json'

export function configJsonSchema(): Record<string, unknown> {
  // io 'input': describe what people write (durations as "5s", defaults optional), not the parsed result.
  const generated = z.toJSONSchema(configSchema, { io: 'input' }) as Record<string, unknown>
  const { $schema, ...rest } = generated
  const properties = rest.properties as Record<string, unknown>
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'Fulcrum configuration',
    description: 'Configuration for the Fulcrum load balancer (fulcrum.yaml, fulcrum.json).',
    ...rest,
    properties: {
      // JSON files name their schema for editors; the loader ignores this key.
      $schema: { type: 'string', description: 'The JSON Schema this file follows, for editors.' },
      ...properties,
    },
  }
}

/** The file's exact text: two-space JSON and a final newline. */
export function renderJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`
}
