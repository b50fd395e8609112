/**
 * The simulator's control API (`/control/...`): ground truth, the world, request stats,
 * faults, time and changes, for tests and benchmarks driving a simulator over HTTP.
 */
import { z } from 'zod';
import type { FaultInjector } from './fault-injector.js';
import { faultsSchema } from './fault-injector.js';
import type { RequestStats } from './request-stats.js';
import { CHANGE_KINDS, type ScenarioWorld } from './scenario-world.js';
import { PATHS } from './sim-context.js';
import type { Reply, SimRequest } from './sim-http.js';
import type { SimulatorControl, WorldSnapshot } from './simulator.js';

const advanceSchema = z.object({ ms: z.number().int().min(0).max(86_400_000) }).strict();
const changeSchema = z
  .object({
    kind: z.enum(CHANGE_KINDS),
    target: z.string().min(1).optional(),
    crashTo: z.enum(['ERROR', 'SHUTOFF']).optional(),
  })
  .strict();

export function problem(status: number, title: string, detail: string, errors?: { path: string; message: string }[]): Reply {
  return {
    status,
    template: '*',
    headers: { 'Content-Type': 'application/problem+json' },
    body: JSON.stringify({ type: 'about:blank', title, status, detail, ...(errors ? { errors } : {}) }),
  };
}

export interface SimControlDeps {
  handle: SimulatorControl;
  world: ScenarioWorld;
  stats: RequestStats;
  faults: FaultInjector;
  worldSnapshot: () => WorldSnapshot;
}

export function simControl({ handle, world, stats, faults, worldSnapshot }: SimControlDeps): (req: SimRequest) => Promise<Reply> {
  return async (req: SimRequest): Promise<Reply> => {
    const ok = (value: unknown): Reply => ({
      status: 200,
      template: '*',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(value),
    });
    const readJson = async (): Promise<unknown> => {
      const text = await req.body();
      return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
    };
    const invalid = (error: z.ZodError): Reply =>
      problem(
        400,
        'Invalid request',
        'The body does not match the expected shape; see errors.',
        error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
      );
    try {
      switch (`${req.method} ${req.path}`) {
        case 'GET /truth': {
          const since = req.query.get('since');
          if (since === null || since === '') return ok({ truth: handle.truth() });
          if (/^\d+$/.test(since)) return ok({ truth: handle.truth(Number(since)) });
          if (Number.isNaN(Date.parse(since))) {
            return problem(400, 'Invalid request', 'since must be a sequence number or an ISO-8601 time', [
              { path: 'since', message: 'not a number or a date' },
            ]);
          }
          return ok({ truth: handle.truth(since) });
        }
        case 'GET /world':
          return ok(worldSnapshot());
        case 'GET /stats':
          return ok(stats.snapshot());
        case 'POST /stats/reset':
          stats.reset();
          return { status: 204, template: '*' };
        case 'GET /faults':
          return ok(faults.current());
        case 'POST /faults': {
          const parsed = faultsSchema.safeParse(await readJson());
          if (!parsed.success) return invalid(parsed.error);
          faults.set(parsed.data);
          return ok(faults.current());
        }
        case 'DELETE /faults':
          faults.clear();
          return { status: 204, template: '*' };
        case 'POST /advance': {
          const parsed = advanceSchema.safeParse(await readJson());
          if (!parsed.success) return invalid(parsed.error);
          return ok({ now: new Date(world.now() + parsed.data.ms).toISOString(), truth: handle.advance(parsed.data.ms) });
        }
        case 'POST /changes': {
          const parsed = changeSchema.safeParse(await readJson());
          if (!parsed.success) return invalid(parsed.error);
          const opts = parsed.data.crashTo ? { crashTo: parsed.data.crashTo } : {};
          return ok({ truth: world.applyChange(parsed.data.kind, parsed.data.target, opts) });
        }
        default:
          return problem(404, 'Not found', `No control endpoint ${req.method} ${PATHS.control}${req.path}`);
      }
    } catch (err) {
      if (err instanceof SyntaxError) return problem(400, 'Invalid request', 'The body is not valid JSON.');
      throw err;
    }
  };
}
