/**
 * Reads the YAML config file, applies environment overrides and validates the result with
 * the one schema. Errors are a ConfigError listing every problem as `key: message`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** A config that did not validate; `problems` name the key and the fix. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: { key: string; message: string }[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p.key}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Dotted key of a zod issue path, e.g. `backends.0.keystone.url`. */
export function keyOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

type EnvOverride = { path: string[]; value: unknown; name: string; raw: string };

/** The override that set `path` (or a key above it), if the value came from the environment. */
function overrideOf(path: readonly PropertyKey[], overrides: readonly EnvOverride[]): EnvOverride | undefined {
  const keys = path.map(String);
  return overrides.find((override) => override.path.length <= keys.length && override.path.every((k, i) => k === keys[i]));
}

/**
 * Problems with values that came from an environment variable name the variable (that is
 * what the operator must fix), say what it holds, and which key it sets.
 */
function envProblem(issue: z.core.$ZodIssue, overrides: readonly EnvOverride[]): { key: string; message: string } | undefined {
  if (issue.code === 'unrecognized_keys') {
    const unknown = [...issue.path, issue.keys[0] ?? ''].map(String);
    const override = overrides.find((candidate) => unknown.every((k, i) => candidate.path[i] === k));
    if (!override) return undefined;
    const where = issue.path.length === 0 ? 'section' : 'key';
    const known = issue.path.length === 0 ? `; known sections: ${Object.keys(configSchema.shape).join(', ')}` : '';
    return {
      key: override.name,
      message: `names an unknown ${where} '${issue.keys[0]}'${issue.path.length === 0 ? '' : ` under ${keyOf(issue.path)}`} (this comes from the environment, not the config file)${known}; fix or unset the variable`,
    };
  }
  const override = overrideOf(issue.path, overrides);
  if (!override) return undefined;
  const sets = keyOf(issue.path);
  if (issue.code === 'invalid_type') {
    return { key: override.name, message: `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}, got ${JSON.stringify(override.raw)} (sets ${sets})` };
  }
  return { key: override.name, message: `${issue.message} (the variable sets ${sets} and holds ${JSON.stringify(override.raw)})` };
}

function problemsOf(error: z.ZodError, overrides: readonly EnvOverride[] = []): { key: string; message: string }[] {
  return error.issues.map((issue) => {
    const fromEnv = envProblem(issue, overrides);
    if (fromEnv) return fromEnv;
    if (issue.code === 'unrecognized_keys') {
      return {
        key: keyOf([...issue.path, issue.keys[0] ?? '']),
        message: `is not a known key (${issue.keys.join(', ')}); check the spelling against config/default.yaml`,
      };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return { key: keyOf(issue.path), message: `is required (${issue.message})` };
    }
    return { key: keyOf(issue.path), message: issue.message };
  });
}

const ENV_PREFIX = 'HGW_';
/** Variables that steer the process rather than override a key. */
const ENV_RESERVED = new Set(['HGW_CONFIG']);

/** `BODY_LIMIT_BYTES` → `bodyLimitBytes`. */
function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Environment overrides: `REDIS_URL` sets redis.url; `HGW_SECTION__KEY=value` sets
 * section.key (double underscore nests, single underscores become camelCase). Values are read
 * as YAML scalars or flow collections, so `HGW_SERVER__PORT=9000` is a number and
 * `HGW_WEBHOOKS__ALLOW_NETWORKS=[127.0.0.0/8]` a list.
 */
export function envOverrides(env: NodeJS.ProcessEnv): EnvOverride[] {
  const out: EnvOverride[] = [];
  if (env.REDIS_URL) out.push({ path: ['redis', 'url'], value: env.REDIS_URL, name: 'REDIS_URL', raw: env.REDIS_URL });
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || raw === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').filter(Boolean).map(camel);
    if (path.length === 0) continue;
    let value: unknown = raw;
    try {
      value = parseYaml(raw);
    } catch {
      // Not YAML: keep the raw string and let the schema judge it.
    }
    out.push({ path, value, name, raw });
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  for (const [i, key] of path.entries()) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return;
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
}

/** Validates an already-parsed document (after env overrides). */
export function parseConfig(doc: unknown, source = 'config', env: NodeJS.ProcessEnv = {}): Config {
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new ConfigError(source, [{ key: '(top level)', message: 'must be a YAML mapping of sections (server, redis, …)' }]);
  }
  const merged = structuredClone((doc ?? {}) as Record<string, unknown>);
  const overrides = envOverrides(env);
  for (const override of overrides) setPath(merged, override.path, override.value);
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(source, problemsOf(result.error, overrides));
  return result.data;
}

/** Parses YAML text into a validated config. */
export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = {}): Config {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(source, [
      { key: '(file)', message: `is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}` },
    ]);
  }
  return parseConfig(doc, source, env);
}

/** Loads `file` (or nothing: defaults) and applies `env`. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (!file) return parseConfig({}, 'defaults', env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ key: '(file)', message: `cannot be read: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, file, env);
}
