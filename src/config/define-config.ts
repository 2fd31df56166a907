/**
 * Typed identity for `fulcrum.config.ts`: `export default defineConfig({ ... })` gives editors completion and
 * type errors from the same schema that validates YAML. The loader still validates the result at runtime.
 */
import type { ConfigInput } from './schema.ts'

export function defineConfig(config: ConfigInput): ConfigInput {
  return config
}
