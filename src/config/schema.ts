/**
 * One zod schema for every section of DESIGN §7. Types are inferred from it; every default
 * lives here (and is documented in config/default.yaml), so a config file only states what
 * differs. Messages name the key and the fix.
 */
import { z } from 'zod';
import { optionsKey } from '../strategy/define-strategy.js';
import { STRATEGIES, STRATEGY_NAMES } from '../strategy/registry.js';
import { backendStrategySchema, checkBackendStrategies } from './backend-strategy.js';
import { pushSchema } from './push-schema.js';
import { DAY, durationMs, fraction, HOUR, httpUrl, MINUTE, SECOND } from './zod-helpers.js';
import { redisSchema } from './redis-schema.js';

export { redisSchema };

export { STRATEGY_NAMES };
/** A strategy name from strategies/index.ts (checked when the config is parsed). */
export type StrategyName = string;

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
  /** This backend's strategy, overriding `strategy.name` for it (see backend-strategy.ts). */
  strategy: backendStrategySchema.optional(),
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

export const heatBackendSchema = z
  .object({
    ...backendCommon,
    kind: z.literal('heat'),
    /** Keystone v3 password credentials; the orchestration endpoint comes from the catalog. */
    keystone: z
      .object({
        url: httpUrl('keystone.url'),
        /** The user by name (with userDomain)… */
        username: z.string().min(1).optional(),
        /** …or by id, as Keystone v3 allows (then userDomain is not used). */
        userId: z.string().min(1).optional(),
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
      .refine((k) => (k.username === undefined) !== (k.userId === undefined), {
        message: 'name the user by username (with userDomain) or by userId, exactly one of them',
        path: ['username'],
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

/**
 * `strategy`: the name of the strategy in force and one options block per strategy, named
 * after it (`cached-poll` → `cachedPoll`). Both derive from the definitions in
 * strategies/index.ts, so a new strategy needs no edit here.
 */
export const strategySchema = z
  .object({
    name: z.string().superRefine((name, ctx) => {
      if (!STRATEGY_NAMES.includes(name)) {
        ctx.addIssue({ code: 'custom', message: `'${name}' is unknown; use one of ${STRATEGY_NAMES.join(', ')}` });
      }
    }),
    ...Object.fromEntries(STRATEGIES.map((d) => [optionsKey(d.name), d.options.default(d.options.parse({}))])),
  })
  .strict() as unknown as z.ZodType<StrategyConfig, { name: string } & Record<string, unknown>>;

/** The `strategy` section: `name`, and each strategy's options under its key. */
export type StrategyConfig = { name: StrategyName } & Record<string, unknown>;


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
    /**
     * How long a deleted deployment or vanished instance stays readable (listed only on
     * request: ?state=vanished, ?status=DELETE_COMPLETE, ?include=deleted). @defaultValue 86400000 (24 h)
     */
    tombstoneTtlMs: durationMs(SECOND, 365 * DAY).default(DAY),
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
    checkBackendStrategies(cfg.backends, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    const tokens = new Set<string>();
    cfg.auth.tokens.forEach((t, i) => {
      if (tokens.has(t.token)) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'tokens', i, 'token'], message: 'is used twice; each token must be unique' });
      }
      tokens.add(t.token);
    });
  });

export type Config = z.infer<typeof configSchema>;
