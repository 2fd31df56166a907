import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { renderJsonSchema } from '../../scripts/generate-schema.ts'
import { SCHEMA_FILE, configJsonSchema } from './json-schema.ts'

const ROOT = resolve(import.meta.dirname, '../..')

test(`${SCHEMA_FILE} is what the generator writes now (run \`npm run schema\` after changing schema.ts)`, async () => {
  const committed = await readFile(resolve(ROOT, SCHEMA_FILE), 'utf8')
  assert.equal(committed, renderJsonSchema())
})

test('the quickstart configs match the JSON Schema', async () => {
  const schema = configJsonSchema()
  for (const file of ['test/fixtures/config/quickstart.yaml', 'test/fixtures/config/quickstart.json']) {
    const data: unknown = parse(await readFile(resolve(ROOT, file), 'utf8'))
    assert.deepEqual(check(schema, data), [], file)
  }
})

test('the JSON Schema rejects what the loader rejects, where its structure can tell', () => {
  const schema = configJsonSchema()
  const data = {
    workers: 'two',
    listeners: [{ name: 'web', protocol: 'http', listen: 8080, routes: [{ forwrd: 'api' }] }],
    targetGroups: { api: { algorithm: 'roundrobin', targets: ['127.0.0.1:8081', { address: 'a:1', weight: 0 }] }, 'bad name': {} },
  }
  assert.deepEqual(check(schema, data), [
    '/workers: no anyOf branch matches',
    '/listeners/0/routes/0: unknown key forwrd',
    '/targetGroups/api/algorithm: not one of the allowed values',
    '/targetGroups/api/targets/1: no anyOf branch matches',
    '/targetGroups: key "bad name" does not match ^[A-Za-z0-9_.-]+$',
  ])
})

type Json = Record<string, unknown>

/**
 * The subset of JSON Schema that z.toJSONSchema emits for this config, enough to check the published file
 * describes the same structure (a full validator is not a dependency worth adding for one test).
 */
function check(schema: Json, value: unknown, at = ''): string[] {
  const errors: string[] = []
  const branches = (schema.anyOf ?? schema.oneOf) as Json[] | undefined
  if (branches !== undefined) {
    const kind = schema.anyOf !== undefined ? 'anyOf' : 'oneOf'
    if (branches.some((branch) => check(branch, value, at).length === 0)) return []
    // A tagged union (listeners by protocol): the branch whose tag the value has explains what is wrong.
    const tagged = branches.filter((b) => tagMatches(b, value))
    return tagged.length === 1 ? check(tagged[0], value, at) : [`${at}: no ${kind} branch matches`]
  }
  if (schema.const !== undefined && value !== schema.const) return [`${at}: expected ${JSON.stringify(schema.const)}`]
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) return [`${at}: not one of the allowed values`]
  if (schema.type !== undefined && !hasType(value, schema.type as string)) return [`${at}: expected ${String(schema.type)}`]
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below minimum`)
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above maximum`)
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${at}: too short`)
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: pattern`)
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${at}: too few items`)
    if (schema.items !== undefined) value.forEach((item, i) => errors.push(...check(schema.items as Json, item, `${at}/${i}`)))
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const object = value as Json
    const properties = (schema.properties ?? {}) as Record<string, Json>
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) errors.push(`${at}: missing ${key}`)
    for (const [key, item] of Object.entries(object)) {
      const names = schema.propertyNames as Json | undefined
      if (names?.pattern !== undefined && !new RegExp(names.pattern as string).test(key)) {
        errors.push(`${at}: key ${JSON.stringify(key)} does not match ${String(names.pattern)}`)
        continue
      }
      if (properties[key] !== undefined) errors.push(...check(properties[key], item, `${at}/${key}`))
      else if (schema.additionalProperties === false) errors.push(`${at}: unknown key ${key}`)
      else if (typeof schema.additionalProperties === 'object') errors.push(...check(schema.additionalProperties as Json, item, `${at}/${key}`))
    }
  }
  return errors
}

/** Whether every const or enum property of an object branch accepts the value's (and there is one). */
function tagMatches(branch: Json, value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const tags = Object.entries((branch.properties ?? {}) as Record<string, Json>)
    .filter(([key, p]) => (p.const !== undefined || p.enum !== undefined) && key in value)
  return tags.length > 0 && tags.every(([key, p]) => check(p, (value as Json)[key]).length === 0)
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer': return Number.isInteger(value)
    case 'number': return typeof value === 'number'
    case 'array': return Array.isArray(value)
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value)
    case 'null': return value === null
    default: return typeof value === type
  }
}
