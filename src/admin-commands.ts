/**
 * Admin verbs of the CLI: thin clients of a running gateway's API (DESIGN §8).
 *   heat-gateway status
 *   heat-gateway strategy get | set <name> [--backend <id>]
 *   heat-gateway webhooks list | get <id> | deliveries <id> | dead-letters <id>
 *   heat-gateway deliveries redeliver <webhookId> <deliveryId>
 * `--url` (HGW_URL, default http://127.0.0.1:8080) and `--token` (HGW_TOKEN) say which
 * gateway and who asks. Output is the API's JSON; a problem prints its detail and exits 1.
 */
import { Argument, Command, Option } from 'commander';
import { STRATEGIES } from './strategy/registry.js';

interface Target {
  url: string;
  token?: string;
}

export class AdminRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AdminRequestError';
  }
}

/** One API call; returns the parsed JSON or throws with the problem's detail. */
export async function callGateway(target: Target, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${target.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new AdminRequestError(`cannot reach the gateway at ${target.url} (${(err as Error).message}); pass --url or set HGW_URL`, 0);
  }
  const text = await res.text();
  let doc: unknown;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = text;
  }
  if (!res.ok) {
    const problem = doc as { detail?: string; errors?: { path: string; message: string }[] } | null;
    const fields = problem?.errors?.map((e) => `\n  ${e.path}: ${e.message}`).join('') ?? '';
    const hint = res.status === 401 ? ' (pass --token or set HGW_TOKEN)' : '';
    throw new AdminRequestError(`${res.status}: ${problem?.detail ?? text}${hint}${fields}`, res.status);
  }
  return doc;
}

function targetOf(command: Command): Target {
  const opts = command.optsWithGlobals<{ url: string; token?: string }>();
  return { url: opts.url, ...(opts.token ? { token: opts.token } : {}) };
}

function action(run: (target: Target, ...args: string[]) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const positional = args.slice(0, -2).map(String);
    try {
      const out = await run(targetOf(command), ...positional);
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } catch (err) {
      process.stderr.write(`heat-gateway: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

export function registerAdminCommands(program: Command): void {
  const connection = (cmd: Command) =>
    cmd
      .addOption(new Option('--url <url>', 'the gateway').env('HGW_URL').default('http://127.0.0.1:8080'))
      .addOption(new Option('--token <token>', 'bearer token (admin for strategy and status)').env('HGW_TOKEN'));

  connection(program.command('status').description("a running gateway's status (admin)")).action(
    action((t) => callGateway(t, 'GET', '/admin/status')),
  );

  const strategy = connection(program.command('strategy').description('show or switch the strategy of every replica (admin)'));
  strategy.command('get').description('the strategy in force').action(action((t) => callGateway(t, 'GET', '/admin/strategy')));
  strategy
    .command('set')
    .addArgument(new Argument('<name>', 'the strategy').choices(STRATEGIES.map((d) => d.name)))
    .option('--backend <id>', 'switch only this backend (backends[].id); the others keep theirs')
    .description('switch every replica to another strategy (the default, or one backend\'s)')
    .addHelpText('after', `\nStrategies:\n${STRATEGIES.map((d) => `  ${d.name.padEnd(18)}${d.summary}`).join('\n')}`)
    .action((name: string, opts: { backend?: string }, command: Command) =>
      action((t) => callGateway(t, 'PUT', '/admin/strategy', { name, ...(opts.backend ? { backendId: opts.backend } : {}) }))(opts, command),
    );

  const webhooks = connection(program.command('webhooks').description('registered webhook endpoints'));
  webhooks.command('list').description('every endpoint').action(action((t) => callGateway(t, 'GET', '/v1/webhooks?limit=1000')));
  webhooks.command('get <id>').description('one endpoint').action(action((t, id) => callGateway(t, 'GET', `/v1/webhooks/${encodeURIComponent(id!)}`)));
  webhooks
    .command('deliveries <id>')
    .description("an endpoint's attempt log")
    .action(action((t, id) => callGateway(t, 'GET', `/v1/webhooks/${encodeURIComponent(id!)}/deliveries`)));
  webhooks
    .command('dead-letters <id>')
    .description("an endpoint's dead-lettered deliveries")
    .action(action((t, id) => callGateway(t, 'GET', `/v1/webhooks/${encodeURIComponent(id!)}/dead-letters`)));

  const deliveries = connection(program.command('deliveries').description('webhook deliveries'));
  deliveries
    .command('redeliver <webhookId> <deliveryId>')
    .description('send a delivery again (e.g. a dead letter)')
    .action(
      action((t, webhookId, deliveryId) =>
        callGateway(t, 'POST', `/v1/webhooks/${encodeURIComponent(webhookId!)}/deliveries/${encodeURIComponent(deliveryId!)}/redeliver`),
      ),
    );
}
