/**
 * `backends[].strategy`: the strategy one backend runs, overriding `strategy.name` for it.
 * Either a name, or `{name, <its options key>: {...}}` (e.g. `{name: deltacloud-poll,
 * deltacloudPoll: {intervalMs: 60000}}`); options given here replace `strategy.<key>` for
 * this backend. A strategy that cannot read the backend's kind is refused, naming both.
 */
import { z } from 'zod';
import { optionsKey } from '../strategy/define-strategy.js';
import { findStrategy, STRATEGIES, STRATEGY_NAMES } from '../strategy/registry.js';

/** A backend's strategy after parsing: its name and, when the backend gives them, its options. */
export interface BackendStrategy {
  name: string;
  /** Options for this backend only (defaults filled in); absent: `strategy.<key>` applies. */
  options?: Record<string, unknown>;
}

const unknownName = (name: string) => `'${name}' is unknown; use one of ${STRATEGY_NAMES.join(', ')}`;

export const backendStrategySchema = z
  .union([z.string(), z.object({ name: z.string() }).catchall(z.unknown())], {
    error: 'must be a strategy name, or {name, <options key>: {...}}',
  })
  .superRefine((value, ctx) => {
    const name = typeof value === 'string' ? value : value.name;
    const definition = findStrategy(name);
    if (!definition) {
      ctx.addIssue({ code: 'custom', path: typeof value === 'string' ? [] : ['name'], message: unknownName(name) });
      return;
    }
    if (typeof value === 'string') return;
    const key = optionsKey(name);
    for (const other of Object.keys(value)) {
      if (other !== 'name' && other !== key) {
        ctx.addIssue({ code: 'custom', path: [other], message: `is not an option block of ${name}; its options go under '${key}'` });
      }
    }
    if (value[key] === undefined) return;
    const parsed = definition.options.safeParse(value[key]);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: [key, ...issue.path.map(String)], message: issue.message });
    }
  })
  .transform((value): BackendStrategy => {
    if (typeof value === 'string') return { name: value };
    const definition = findStrategy(value.name)!;
    const block = value[optionsKey(value.name)];
    return block === undefined ? { name: value.name } : { name: value.name, options: definition.options.parse(block) as Record<string, unknown> };
  });

/**
 * The kind check: `backends[i].strategy` must be able to read that backend. Reported at the
 * strategy's name, with the strategies that can.
 */
export function checkBackendStrategies(
  backends: readonly { id: string; kind: string; strategy?: BackendStrategy | undefined }[],
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  backends.forEach((backend, i) => {
    const chosen = backend.strategy;
    if (!chosen) return;
    const definition = findStrategy(chosen.name);
    if (!definition || (definition.reads as readonly string[]).includes(backend.kind)) return;
    const able = STRATEGIES.filter((d) => (d.reads as readonly string[]).includes(backend.kind)).map((d) => d.name);
    addIssue(
      ['backends', i, 'strategy'],
      `strategy '${chosen.name}' cannot read a ${backend.kind} backend (it reads ${definition.reads.join(', ')}); for backend '${backend.id}' use one of ${able.join(', ')}`,
    );
  });
}
