/** Shared pieces of the Conductor API tests: a fake strategy, a gateway with the module, raw HTTP. */
import { request } from 'node:http';
import { createConductorApiModule, type ConductorApiOptions } from '../../../src/api/conductor-api-module.js';
import { fixedStrategy } from '../../../src/api/active-strategy.js';
import type { Config } from '../../../src/config/schema.js';
import type { StrategyName } from '../../../src/config/schema.js';
import type { Gateway } from '../../../src/gateway.js';
import { BaseStrategy, type ReadFreshness, type ReadTarget, type StrategyContext } from '../../../src/strategy/strategy.js';
import { startTestGateway } from '../../helpers/gateway.js';

/** A strategy whose freshness answers the test sets, recording every read target. */
export class FakeStrategy extends BaseStrategy {
  readonly name: StrategyName = 'cached-poll';
  readonly targets: ReadTarget[] = [];
  answer: ReadFreshness = { failed: false };
  staleMs = Number.POSITIVE_INFINITY;
  throwOnRead: Error | undefined;

  constructor() {
    super({} as StrategyContext);
  }

  override async beforeRead(target: ReadTarget): Promise<ReadFreshness> {
    this.targets.push(target);
    if (this.throwOnRead) throw this.throwOnRead;
    return this.answer;
  }

  override staleAfterMs(): number {
    return this.staleMs;
  }
}

export async function startApiGateway(
  options: { config?: Config; now?: () => number; api?: ConductorApiOptions } = {},
): Promise<{ gateway: Gateway; url: string; strategy: FakeStrategy }> {
  const strategy = new FakeStrategy();
  const started = await startTestGateway({
    modules: [(gateway) => createConductorApiModule(gateway, fixedStrategy(strategy), options.api)],
    ...(options.config ? { config: options.config } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { gateway: started.gateway, url: started.url, strategy };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** Raw HTTP, so tests control bytes and headers exactly. Event streams are cut after the headers. */
export function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: a server that refuses a body may close the socket.
    // Node sends a GET body without framing unless told its length.
    const framing = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = request(`${url}${path}`, { method, headers: { ...framing, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '', json: undefined });
        req.destroy();
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
