/**
 * One zod schema for every section of DESIGN §7. Types are inferred from it; every default
 * lives here (and is documented in config/default.yaml), so a config file only states what
 * differs. Messages name the key and the fix.
 */
import { z } from 'zod';
import { redisSchema } from './redis-schema.js';

export { redisSchema };

/** The strategy names the registry in strategies/index.ts implements. */
export const STRATEGY_NAMES = ['on-demand', 'cached-poll', 'webhook', 'deltacloud-poll'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const httpUrl = (what: string) =>
  z
    .string({ error: `must be a URL string (${what})` })
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v), {
      message: `must be an absolute http:// or https:// URL (${what}), e.g. http://127.0.0.1:8004`,
    });

const durationMs = (min: number, max: number) =>
  z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(min, `must be at least ${min} ms`)
    .max(max, `must be at most ${max} ms`);

const fraction = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

export const serverSchema = z
  .object({
    /** @defaultValue 127.0.0.1 */
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. @defaultValue 8080 */
    port: z.number().int().min(0).max(65_535, 'must be a TCP port 0-65535').default(8080),
    /** URL at which backends reach this gateway (push ingest); derived from host:port when unset. */
    publicUrl: httpUrl('server.publicUrl').optional(),
    /** @defaultValue 1 MiB */
    bodyLimitBytes: z.number().int().min(1_024).max(64 * 1_048_576).default(1_048_576),
    /** @defaultValue 5000 */
    shutdownGraceMs: durationMs(0, 5 * MINUTE).default(5 * SECOND),
  })
  .strict();

export const ROLES = ['client', 'admin', 'backend'] as const;
export type Role = (typeof ROLES)[number];

export const authSchema = z
  .object({
    tokens: z
      .array(
        z
          .object({
            /** A label for logs and metrics; never the token itself. */
            name: z.string().min(1).max(64),
            token: z.string().min(16, 'must be at least 16 characters; generate one with `openssl rand -hex 24`'),
            role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
          })
          .strict(),
      )
      .default([]),
    /** Optional per-token request rate limit; off when absent. */
    rateLimit: z
      .object({ perSecond: z.number().positive(), burst: z.number().int().positive() })
      .strict()
      .optional(),
  })
  .strict();

const backendCommon = {
  /** Used in URLs (`/v1/notifications/:backendId`), logs and metrics. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "-" or "_" (e.g. heat-east)'),
  /** @defaultValue 10000 */
  timeoutMs: durationMs(100, 5 * MINUTE).default(10 * SECOND),
  /** Retries of idempotent GETs (jittered exponential backoff). @defaultValue 2 */
  retries: z.number().int().min(0).max(10).default(2),
  /** Requests in flight to this backend at once. @defaultValue 8 */
  concurrency: z.number().int().min(1).max(1_000).default(8),
  /** Largest response body; a larger answer fails (reason too_large) naming this key. @defaultValue 32 MiB */
  maxResponseBytes: z.number().int().min(65_536, 'must be at least 65536 bytes').max(4 * 1_073_741_824, 'must be at most 4 GiB').default(32 * 1_048_576),
};

const pushSchema = z
  .object({
    /** Bearer token the backend presents at the ingest endpoint (role `backend` also works). */
    token: z.string().min(16).optional(),
    /** Shared secret for an HMAC-SHA256 signature header on pushes. */
    signingSecret: z.string().min(16).optional(),
    /** @defaultValue X-Signature */
    signatureHeader: z.string().min(1).default('X-Signature'),
    /** Zaqar-style subscription API of the backend; the webhook strategy subscribes there. */
    subscriptionUrl: httpUrl('push.subscriptionUrl').optional(),
    /** @defaultValue 3600000 (1 h) */
    subscriptionTtlMs: durationMs(10 * SECOND, 30 * DAY).default(HOUR),
  })
  .strict();

export const heatBackendSchema = z
  .object({
    ...backendCommon,
    kind: z.literal('heat'),
    /** Keystone v3 password credentials; the orchestration endpoint comes from the catalog. */
    keystone: z
      .object({
        url: httpUrl('keystone.url'),
        username: z.string().min(1),
        password: z.string().min(1),
        userDomain: z.string().min(1).default('Default'),
        projectId: z.string().min(1).optional(),
        projectName: z.string().min(1).optional(),
        projectDomain: z.string().min(1).default('Default'),
        /** @defaultValue public */
        interface: z.enum(['public', 'internal', 'admin']).default('public'),
        region: z.string().min(1).optional(),
      })
      .strict()
      .refine((k) => k.projectId !== undefined || k.projectName !== undefined, {
        message: 'set projectId, or projectName (with projectDomain)',
        path: ['projectId'],
      })
      .optional(),
    /** Fixed orchestration endpoint (…/v1/<tenant_id>) plus token, instead of Keystone. */
    endpoint: httpUrl('endpoint').optional(),
    token: z.string().min(1).optional(),
    /** Heat resource types that are server instances. */
    serverResourceTypes: z.array(z.string().min(1)).min(1).default(['OS::Nova::Server', 'AWS::EC2::Instance']),
    /** nested_depth for resource listings. @defaultValue 2 */
    nestedDepth: z.number().int().min(0).max(10).default(2),
    push: pushSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const fixed = b.endpoint !== undefined || b.token !== undefined;
    if (b.keystone && fixed) {
      ctx.addIssue({ code: 'custom', path: ['keystone'], message: 'set either keystone or endpoint+token, not both' });
    } else if (!b.keystone && !(b.endpoint && b.token)) {
      ctx.addIssue({
        code: 'custom',
        path: b.endpoint ? ['token'] : ['keystone'],
        message: 'a heat backend needs keystone credentials, or both endpoint and token',
      });
    }
  });

export const deltacloudBackendSchema = z
  .object({
    ...backendCommon,
    kind: z.literal('deltacloud'),
    /** Deltacloud API root, e.g. http://dc.example.com:3001/api */
    url: httpUrl('url'),
    username: z.string().min(1),
    password: z.string().min(1),
    /** X-Deltacloud-Driver, e.g. ec2, openstack, mock. */
    driver: z.string().min(1).optional(),
    /** X-Deltacloud-Provider, e.g. a region. */
    provider: z.string().min(1).optional(),
    /** @defaultValue xml (Deltacloud's default representation) */
    format: z.enum(['xml', 'json']).default('xml'),
    /**
     * The instance list is stream-parsed, so this bounds transfer, not memory: ~1.3 KB of XML
     * per instance, so 256 MiB is ~200,000 instances. @defaultValue 256 MiB
     */
    maxResponseBytes: backendCommon.maxResponseBytes.unwrap().default(256 * 1_048_576),
    push: pushSchema.optional(),
  })
  .strict();

export const backendSchema = z.discriminatedUnion('kind', [heatBackendSchema, deltacloudBackendSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' ? 'kind must be "heat" or "deltacloud"' : undefined,
});
export type BackendConfig = z.infer<typeof backendSchema>;
export type HeatBackendConfig = z.infer<typeof heatBackendSchema>;
export type DeltacloudBackendConfig = z.infer<typeof deltacloudBackendSchema>;

export const strategySchema = z
  .object({
    name: z.string().superRefine((name, ctx) => {
      if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `'${name}' is unknown; use one of ${STRATEGY_NAMES.join(', ')}`,
        });
      }
    }) as unknown as z.ZodType<StrategyName>,
    onDemand: z
      .object({
        /** Longest a read waits for the backend before serving the cache. @defaultValue 5000 */
        readDeadlineMs: durationMs(50, MINUTE).default(5 * SECOND),
      })
      .strict()
      .default({ readDeadlineMs: 5 * SECOND }),
    cachedPoll: z
      .object({
        /** Poll interval of steady deployments. @defaultValue 30000 */
        intervalMs: durationMs(100, DAY).default(30 * SECOND),
        /** Poll interval while anything is *_IN_PROGRESS / pending / shutting_down. @defaultValue 2000 */
        fastIntervalMs: durationMs(100, HOUR).default(2 * SECOND),
        /** ± fraction of each interval. @defaultValue 0.1 */
        jitter: fraction.default(0.1),
      })
      .strict()
      .default({ intervalMs: 30 * SECOND, fastIntervalMs: 2 * SECOND, jitter: 0.1 }),
    webhook: z
      .object({
        /** Safety-net full resync. @defaultValue 600000 (10 min) */
        resyncIntervalMs: durationMs(SECOND, DAY).default(10 * MINUTE),
        /** ± fraction of the resync interval. @defaultValue 0.1 */
        jitter: fraction.default(0.1),
      })
      .strict()
      .default({ resyncIntervalMs: 10 * MINUTE, jitter: 0.1 }),
    deltacloudPoll: z
      .object({
        /** @defaultValue 30000 */
        intervalMs: durationMs(100, DAY).default(30 * SECOND),
        /** @defaultValue 0.1 */
        jitter: fraction.default(0.1),
        /** Regex with a named group `deployment` that names the stack from an instance name. */
        namePattern: z
          .string()
          .refine(
            (p) => {
              try {
                return new RegExp(p).source.includes('?<deployment>');
              } catch {
                return false;
              }
            },
            { message: 'must be a valid regular expression with a named group (?<deployment>…)' },
          )
          .optional(),
      })
      .strict()
      .default({ intervalMs: 30 * SECOND, jitter: 0.1 }),
  })
  .strict();
export type StrategyConfig = z.infer<typeof strategySchema>;

export const webhooksSchema = z
  .object({
    /** Per-attempt timeout. @defaultValue 10000 */
    timeoutMs: durationMs(100, 5 * MINUTE).default(10 * SECOND),
    /** Delay before each attempt; the first is normally 0. */
    retryScheduleMs: z
      .array(durationMs(0, 7 * DAY))
      .min(1, 'needs at least one attempt')
      .max(50)
      .default([0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]),
    /** ± fraction applied to each retry delay. @defaultValue 0.2 */
    jitter: fraction.default(0.2),
    /** Upper bound on a Retry-After we honour. @defaultValue 3600000 */
    maxRetryAfterMs: durationMs(0, DAY).default(HOUR),
    /** Disable an endpoint after failing this long without one success. @defaultValue 5 days */
    disableAfterMs: durationMs(MINUTE, 90 * DAY).default(5 * DAY),
    /** CIDRs exempt from the SSRF guard (e.g. 127.0.0.0/8 for tests and demos). */
    allowNetworks: z
      .array(
        z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'must be a CIDR such as 10.1.0.0/16 or ::1/128'),
      )
      .default([]),
    /** Attempt-log entries kept per endpoint. @defaultValue 1000 */
    attemptLogLimit: z.number().int().min(10).max(1_000_000).default(1_000),
    /** Concurrent deliveries per gateway process. @defaultValue 50 */
    concurrency: z.number().int().min(1).max(10_000).default(50),
    /** How long the old secret keeps signing after a rotation. @defaultValue 86400000 */
    rotationOverlapMs: durationMs(0, 30 * DAY).default(DAY),
  })
  .strict();

export const feedSchema = z
  .object({
    /** Events kept at most (approximate trimming). @defaultValue 1000000 */
    maxLength: z.number().int().min(100).max(1_000_000_000).default(1_000_000),
    /** Events older than this are trimmed. @defaultValue 7 days */
    maxAgeMs: durationMs(MINUTE, 365 * DAY).default(7 * DAY),
  })
  .strict();

export const logSchema = z
  .object({
    level: z
      .enum(['error', 'warn', 'info', 'debug'], { error: 'must be one of error, warn, info, debug' })
      .default('info'),
    /** `auto`: readable on a TTY, JSON lines otherwise. */
    format: z.enum(['auto', 'json', 'pretty'], { error: 'must be one of auto, json, pretty' }).default('auto'),
  })
  .strict();

export const configSchema = z
  .object({
    server: serverSchema.default(serverSchema.parse({})),
    redis: redisSchema.default(redisSchema.parse({})),
    auth: authSchema.default({ tokens: [] }),
    backends: z.array(backendSchema).default([]),
    strategy: strategySchema.default(strategySchema.parse({ name: 'cached-poll' })),
    webhooks: webhooksSchema.default(webhooksSchema.parse({})),
    feed: feedSchema.default(feedSchema.parse({})),
    log: logSchema.default(logSchema.parse({})),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.backends.forEach((b, i) => {
      const first = seen.get(b.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['backends', i, 'id'],
          message: `'${b.id}' is already used by backends.${first}; backend ids must be unique`,
        });
      }
      seen.set(b.id, i);
    });
    const tokens = new Set<string>();
    cfg.auth.tokens.forEach((t, i) => {
      if (tokens.has(t.token)) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'tokens', i, 'token'], message: 'is used twice; each token must be unique' });
      }
      tokens.add(t.token);
    });
    if (cfg.strategy.cachedPoll.fastIntervalMs > cfg.strategy.cachedPoll.intervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['strategy', 'cachedPoll', 'fastIntervalMs'],
        message: `must not exceed strategy.cachedPoll.intervalMs (${cfg.strategy.cachedPoll.intervalMs})`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
