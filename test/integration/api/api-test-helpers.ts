/** Shared pieces of the Conductor API tests: a fake strategy, a gateway with the module, raw HTTP. */
import { createConductorApiModule, type ConductorApiOptions } from '../../../src/api/conductor-api-module.js';
import { fixedStrategy } from '../../../src/api/active-strategy.js';
import type { Config } from '../../../src/config/schema.js';
import type { Gateway } from '../../../src/gateway.js';
import type { ReadFreshness, ReadTarget, Strategy } from '../../../src/strategy/strategy.js';
import { startTestGateway } from '../../helpers/gateway.js';

/** A strategy whose freshness answers the test sets, recording every read target. */
export class FakeStrategy implements Strategy {
  readonly name = 'cached-poll';
  readonly targets: ReadTarget[] = [];
  answer: ReadFreshness = { failed: false };
  staleMs = Number.POSITIVE_INFINITY;
  throwOnRead: Error | undefined;

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async onPush(): Promise<void> {}

  async beforeRead(target: ReadTarget): Promise<ReadFreshness> {
    this.targets.push(target);
    if (this.throwOnRead) throw this.throwOnRead;
    return this.answer;
  }

  staleAfterMs(): number {
    return this.staleMs;
  }
}

export async function startApiGateway(
  options: { config?: Config; now?: () => number; api?: ConductorApiOptions } = {},
): Promise<{ gateway: Gateway; url: string; strategy: FakeStrategy }> {
  const strategy = new FakeStrategy();
  const started = await startTestGateway({
    modules: [(deps) => createConductorApiModule(deps, fixedStrategy(strategy), options.api)],
    ...(options.config ? { config: options.config } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { gateway: started.gateway, url: started.url, strategy };
}

export { send, type RawResponse } from '../../helpers/http.js';
