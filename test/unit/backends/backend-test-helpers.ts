/** Shared test plumbing for the backend client tests: fixtures, configs, observers, logs. */
import { expect } from 'chai';
import { UpstreamError } from '../../../src/errors.js';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import nock from 'nock';
import { deltacloudBackendSchema, heatBackendSchema } from '../../../src/config/schema.js';
import type { BackendRequestEvent, BackendObserver } from '../../../src/backends/backend-http.js';
import { createLogger, type Logger } from '../../../src/log/logger.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

export function fixtureText(path: string): string {
  return readFileSync(`${FIXTURES}${path}`, 'utf8');
}

export function fixtureJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

export const KEYSTONE_URL = 'http://keystone.example.com:5000';
export const HEAT_URL = 'http://heat.example.com:8004';
export const TENANT = 'a6944d763bf64ee6a275f1263fae0352';
export const HEAT_BASE = `/v1/${TENANT}`;
export const DC_URL = 'http://dc.example.com:3001';

export const SECRET_PASSWORD = 'correct-horse-battery-staple';
export const SUBJECT_TOKEN = 'gAAAAABtokenONE';

export function heatConfig(overrides: Record<string, unknown> = {}) {
  return heatBackendSchema.parse({
    id: 'heat-east',
    kind: 'heat',
    timeoutMs: 2_000,
    retries: 0,
    keystone: {
      url: KEYSTONE_URL,
      username: 'conductor',
      password: SECRET_PASSWORD,
      projectId: TENANT,
    },
    ...overrides,
  });
}

export function deltacloudConfig(overrides: Record<string, unknown> = {}) {
  return deltacloudBackendSchema.parse({
    id: 'dc-ec2',
    kind: 'deltacloud',
    url: `${DC_URL}/api`,
    username: 'AKIAEXAMPLE',
    password: SECRET_PASSWORD,
    driver: 'ec2',
    provider: 'us-east-1',
    timeoutMs: 2_000,
    retries: 0,
    ...overrides,
  });
}

/** A Keystone token answer expiring at `expiresAt`. */
export function tokenBody(expiresAt = '2030-01-01T12:00:00.000000Z'): Record<string, unknown> {
  const body = fixtureJson<{ token: Record<string, unknown> }>('keystone/token-project-scoped.json');
  body.token.expires_at = expiresAt;
  return body;
}

/** Records every observer event. */
export class RecordingObserver implements BackendObserver {
  readonly events: BackendRequestEvent[] = [];
  onRequest(event: BackendRequestEvent): void {
    this.events.push(event);
  }
}

/** A debug-level JSON logger whose lines are kept in memory. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', stream }), lines };
}

/**
 * nock hygiene for every backend test file. nock intercepts node:http from the moment it is
 * imported, whether or not a scope is set (it even inflates gzip request bodies on the way
 * out); so each file activates it for itself and restores node:http after, and a test of a
 * real server that runs later in the same process (a glob of unit and integration tests)
 * meets the real client.
 */
export function useNock(): void {
  before(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
  });
  afterEach(() => nock.cleanAll());
  after(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}

/** The UpstreamError `p` rejects with; fails the test when it resolves or throws anything else. */
export async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(UpstreamError);
    return err as UpstreamError;
  }
  throw new Error('expected the request to fail');
}
