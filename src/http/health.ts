/** `/healthz` (the process is up) and `/readyz` (every dependency answers in time). */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiRouter } from './api-router.js';
import { sendProblem } from './problem.js';

export interface ReadinessCheck {
  name: string;
  /** Resolves when healthy; rejects (or times out) otherwise. */
  check(): Promise<unknown>;
  /** @defaultValue 1000 */
  timeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
  /** What a check reports besides ok (e.g. an AMQP consumer's queue depth). */
  detail?: Record<string, unknown>;
}

async function runCheck(c: ReadinessCheck): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      c.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${c.timeoutMs ?? 1_000} ms`)), c.timeoutMs ?? 1_000);
      }),
    ]);
    const result: CheckResult = { ok: true, latencyMs: Math.round(performance.now() - started) };
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype) {
      result.detail = value as Record<string, unknown>;
    }
    return result;
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(checks: readonly ReadinessCheck[]): Promise<Record<string, CheckResult>> {
  const results = await Promise.all(checks.map(runCheck));
  return Object.fromEntries(checks.map((c, i) => [c.name, results[i]!]));
}

export function healthRouter(checks: () => readonly ReadinessCheck[]): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await runChecks(checks());
    const failed = Object.entries(results).filter(([, r]) => !r.ok);
    if (failed.length === 0) {
      res.json({ status: 'ready', checks: results });
      return;
    }
    res.setHeader('Retry-After', '1');
    sendProblem(res, {
      status: 503,
      title: 'Not ready',
      detail: `not ready: ${failed.map(([name, r]) => `${name} (${r.error})`).join(', ')}`,
      checks: results,
    });
  });
  return router;
}

/**
 * Declares `/healthz` and `/readyz` in the OpenAPI document; they are mounted by
 * {@link healthRouter}, before and outside the ApiRouter.
 */
export function documentHealthRoutes(api: ApiRouter): void {
  const check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional(), detail: z.record(z.string(), z.unknown()).optional() });
  api
    .document({
      method: 'get', path: '/healthz', tag: 'health', auth: 'public',
      summary: 'Liveness: the process is up',
      responses: { 200: { description: 'Up', schema: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) } },
    })
    .document({
      method: 'get', path: '/readyz', tag: 'health', auth: 'public',
      summary: 'Readiness: Redis and every module check answered in time',
      responses: {
        200: { description: 'Ready', schema: z.object({ status: z.literal('ready'), checks: z.record(z.string(), check) }) },
        503: { description: 'Not ready (problem+json with `checks`; Retry-After: 1)' },
      },
    });
}
