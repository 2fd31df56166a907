/**
 * The package entry (`import { defineConfig } from 'fulcrum'`): what a config file and an embedding program
 * need. Config files import it for types and `defineConfig`; the rest is for programs that load configs.
 */
export { defineConfig } from './config/define-config.ts'
export { formatProblem, loadConfig, parseConfigText } from './config/load.ts'
export type { ConfigProblem, LoadResult } from './config/load.ts'
export type {
  AlgorithmName,
  Config,
  ConfigInput,
  ListenerConfig,
  RetryCondition,
  RouteConfig,
  RouteMatchConfig,
  TargetConfig,
  TargetGroupConfig,
} from './config/schema.ts'
