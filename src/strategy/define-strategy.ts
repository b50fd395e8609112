/**
 * How a strategy describes itself (unjs/unstorage's `defineDriver`, Backstage's
 * `Provider.fromConfig`): its name, its options with defaults and docs, its job payloads,
 * what it reads, its staleness bound and its conformance bounds, and a factory. Everything
 * else (config schema, CLI help, OpenAPI, the conformance suite, the benchmark, the docs
 * table) derives from the array of definitions in `strategies/index.ts`.
 */
import { z } from 'zod';
import type { BackendKind } from '../sources/instance-source.js';
import type { Strategy, StrategyContext } from './strategy.js';

/** zod schemas of a strategy's job payloads, by job name (`list`, `stack`, …). */
export type JobSchemas = Record<string, z.ZodObject>;

/** How fast a strategy promises to reflect a backend change, checked by the conformance suite. */
export type ConformanceBounds<O> =
  /** The strategy refreshes the cache before each read: the next read sees the change. */
  | { kind: 'on-read' }
  /** Bounds in ms of scheduler time (pushes, when the strategy uses them, count as instant). */
  | {
      kind: 'within';
      /** A launch or a crash is in the cache this long after it happened. */
      changeMs: (options: O) => number;
      /** A deletion (which listings may need two sightings to prove). */
      deletionMs: (options: O) => number;
      /** After a backend outage ends. */
      recoveryMs: (options: O) => number;
    };

export interface StrategyDefinition<O extends z.ZodObject = z.ZodObject, J extends JobSchemas = JobSchemas> {
  /** Lowercase, dash-separated; used in config, URLs, job names and metrics. */
  name: string;
  /** One line for CLI help and the docs table. */
  summary: string;
  /** Options under `strategy.<camelCase name>`; every field has a default and a `.describe()`. */
  options: O;
  /** Job payloads this strategy enqueues, validated when a job runs. */
  jobs: J;
  /** Backend kinds it can read. */
  reads: readonly BackendKind[];
  /** Reads of data older than this are served `stale: true`. */
  staleAfterMs: (options: z.output<O>) => number;
  conformance: ConformanceBounds<z.output<O>>;
  create: (ctx: StrategyContext<z.output<O>>) => Strategy;
}

/** Any definition (the registry holds several option types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStrategyDefinition = StrategyDefinition<any, any>;

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Declares a strategy; checks what can be checked before the gateway starts. */
export function defineStrategy<O extends z.ZodObject, J extends JobSchemas>(definition: StrategyDefinition<O, J>): StrategyDefinition<O, J> {
  if (!NAME.test(definition.name)) throw new Error(`strategy name '${definition.name}' must be lowercase words joined by '-'`);
  if (!definition.options.safeParse({}).success) {
    throw new Error(`strategy '${definition.name}': every option needs a default (parsing {} failed)`);
  }
  if (definition.reads.length === 0) throw new Error(`strategy '${definition.name}' must read at least one backend kind`);
  return Object.freeze(definition);
}

/** The config key of a strategy's options: `deltacloud-poll` → `deltacloudPoll`. */
export function optionsKey(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The options of `definition` parsed from `{}`: every default. */
export function defaultOptions<O extends z.ZodObject>(definition: StrategyDefinition<O>): z.output<O> {
  return definition.options.parse({});
}
