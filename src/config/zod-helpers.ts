/**
 * Small zod building blocks shared by the config schema and the strategies' option schemas
 * (kept apart from schema.ts, which imports the strategies).
 */
import { z } from 'zod';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const httpUrl = (what: string) =>
  z
    .string({ error: `must be a URL string (${what})` })
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v), {
      message: `must be an absolute http:// or https:// URL (${what}), e.g. http://127.0.0.1:8004`,
    });

export const durationMs = (min: number, max: number) =>
  z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(min, `must be at least ${min} ms`)
    .max(max, `must be at most ${max} ms`);

export const fraction = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
