/**
 * Walks the zod schema along a key path, so messages can list the keys allowed at a place and name the
 * expected shape, without a second, hand-written copy of the configuration's structure.
 */
import { z } from 'zod'
import type { Path } from './problem.ts'

type Schema = z.ZodType

/** The schema and what it wraps: defaults, optionals, and for transforms the input side (what users write). */
export function unwrapChain(schema: Schema): Schema[] {
  const chain = [schema]
  let current = schema
  // Bounded: a schema is never wrapped this deeply, and a cycle must not hang the loader.
  for (let i = 0; i < 32; i++) {
    let inner: unknown
    if (
      current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable ||
      current instanceof z.ZodPrefault || current instanceof z.ZodReadonly || current instanceof z.ZodCatch
    ) inner = current.def.innerType
    else if (current instanceof z.ZodPipe) inner = current.def.in
    else break
    current = inner as Schema
    chain.push(current)
  }
  return chain
}

export function unwrap(schema: Schema): Schema {
  const chain = unwrapChain(schema)
  return chain[chain.length - 1]
}

/**
 * The schema for the value at `path`, or undefined when the path leaves the schema. With `data` (the
 * file's contents), a discriminated union (listeners by protocol) resolves to the option the data names.
 */
export function schemaAt(root: Schema, path: Path, data?: unknown): Schema | undefined {
  let current: Schema | undefined = root
  let node = data
  for (const segment of path) {
    if (current === undefined) return undefined
    current = step(chosenOption(current, node) ?? current, segment)
    node = isRecord(node) ? node[segment] : undefined
  }
  return current === undefined ? undefined : chosenOption(current, node) ?? current
}

function isRecord(v: unknown): v is Record<string | number, unknown> {
  return typeof v === 'object' && v !== null
}

/** For a discriminated union and a value whose discriminator one option accepts: that option. */
function chosenOption(schema: Schema, value: unknown): Schema | undefined {
  const s = unwrap(schema)
  if (!(s instanceof z.ZodDiscriminatedUnion) || !isRecord(value)) return undefined
  const key = s.def.discriminator
  return (s.options as readonly Schema[]).find((o) => discriminatorValues(o, key).includes(value[key]))
}

/** The values an option of a discriminated union takes for its discriminator key. */
function discriminatorValues(option: Schema, key: string): unknown[] {
  const o = unwrap(option)
  if (!(o instanceof z.ZodObject)) return []
  const d = unwrap(o.shape[key] as Schema)
  if (d instanceof z.ZodLiteral) return [...d.values]
  if (d instanceof z.ZodEnum) return [...d.options]
  return []
}

function step(schema: Schema, segment: string | number): Schema | undefined {
  const s = unwrap(schema)
  if (s instanceof z.ZodObject) {
    return typeof segment === 'string' && Object.hasOwn(s.shape, segment) ? (s.shape[segment] as Schema) : undefined
  }
  if (s instanceof z.ZodRecord) return s.valueType as Schema
  if (s instanceof z.ZodArray) return typeof segment === 'number' ? (s.element as Schema) : undefined
  if (s instanceof z.ZodUnion) {
    // The first option that has this key or index: a target is "host:port" or an object, never both.
    for (const option of s.options as readonly Schema[]) {
      const next = step(option, segment)
      if (next !== undefined) return next
    }
  }
  return undefined
}

/** The keys an object at `path` may have, in schema order; [] when it is not a fixed-shape object. */
export function allowedKeys(root: Schema, path: Path, data?: unknown): string[] {
  const at = schemaAt(root, path, data)
  if (at === undefined) return []
  const s = unwrap(at)
  if (s instanceof z.ZodObject) return Object.keys(s.shape)
  if (s instanceof z.ZodUnion) {
    const keys = new Set<string>()
    for (const option of s.options as readonly Schema[]) {
      const o = unwrap(option)
      if (o instanceof z.ZodObject) for (const key of Object.keys(o.shape)) keys.add(key)
    }
    return [...keys]
  }
  return []
}
