/**
 * Which strategy each backend runs: a backend's own choice (an admin's `PUT /admin/strategy
 * {name, backendId}` or `backends[].strategy`), else the default (`strategy.name`, or an
 * admin's switch of it). Computed from the config and what is recorded in the store, so every
 * replica derives the same assignment.
 */
import type { Config } from '../config/schema.js';
import type { StoredAssignments } from '../store/strategy-state-store.js';

export type AssignmentSource = 'default' | 'config' | 'admin';

export interface BackendAssignment {
  backendId: string;
  kind: string;
  strategy: string;
  /** `default`: follows the default strategy; `config`: backends[].strategy; `admin`: PUT /admin/strategy. */
  source: AssignmentSource;
  since: string | null;
  by: string | null;
}

export interface Assignment {
  defaultName: string;
  backends: BackendAssignment[];
}

/** The strategy `backends[].strategy` names for a backend ('' = none). */
export function configuredName(config: Config, backendId: string): string {
  return config.backends.find((b) => b.id === backendId)?.strategy?.name ?? '';
}

export function assignmentOf(config: Config, stored: StoredAssignments): Assignment {
  const defaultName = stored.defaults.name ?? config.strategy.name;
  return {
    defaultName,
    backends: config.backends.map((backend) => {
      const own = stored.backends.get(backend.id);
      const by = own?.by ? (JSON.parse(own.by) as string) : null;
      if (own?.name) {
        return { backendId: backend.id, kind: backend.kind, strategy: own.name, source: by === 'config' ? 'config' : 'admin', since: own.since ?? null, by };
      }
      return { backendId: backend.id, kind: backend.kind, strategy: defaultName, source: 'default', since: null, by: null };
    }),
  };
}

/** Strategy name → the backends it runs for. The default always has an entry (maybe empty). */
export function groupByStrategy(assignment: Assignment): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>([[assignment.defaultName, new Set()]]);
  for (const b of assignment.backends) {
    let set = groups.get(b.strategy);
    if (!set) groups.set(b.strategy, (set = new Set()));
    set.add(b.backendId);
  }
  return groups;
}

export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
