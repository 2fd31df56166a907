/**
 * `allow: [CIDR…]` / `deny: [CIDR…]` lists, as the ordered rules AccessList already checks: every deny
 * first, then every allow, then, when there is an allow list, deny the rest. A level has either `access`
 * (ordered nginx rules) or the lists; validation refuses both on one level.
 */
import type { AccessRuleConfig } from '../config/schema.ts'

export interface AccessLevel {
  readonly access?: readonly AccessRuleConfig[] | undefined
  readonly allow?: readonly string[] | undefined
  readonly deny?: readonly string[] | undefined
}

/** The level's rules, or undefined when it sets none (then the outer level's apply). */
export function accessRulesOf(level: AccessLevel): readonly AccessRuleConfig[] | undefined {
  if (level.access !== undefined) return level.access
  if (level.allow === undefined && level.deny === undefined) return undefined
  const rules: AccessRuleConfig[] = (level.deny ?? []).map((d) => ({ deny: d }))
  for (const a of level.allow ?? []) rules.push({ allow: a })
  if (level.allow !== undefined) rules.push({ deny: 'all' })
  return rules
}
