/**
 * A webhook receiver for the benchmark: verifies every delivery with the `standardwebhooks`
 * library (the way a real receiver would) and records when each instance state arrived.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { InstanceState } from '../model/states.js';
import type { Sighting } from './truth-analysis.js';

export class BenchReceiver {
  readonly sightings: Sighting[] = [];
  deliveries = 0;
  verificationFailures = 0;
  duplicates = 0;
  private readonly seenIds = new Set<string>();
  private verifier: Webhook | undefined;
  private server: Server | undefined;

  /** The endpoint's secret, once registered. */
  setSecret(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const receivedAtMs = Date.now();
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        try {
          if (!this.verifier) throw new Error('no secret yet');
          this.verifier.verify(body, headers);
        } catch {
          this.verificationFailures++;
          res.writeHead(400).end();
          return;
        }
        this.deliveries++;
        const id = headers['webhook-id'] ?? '';
        if (this.seenIds.has(id)) this.duplicates++;
        this.seenIds.add(id);
        const payload = JSON.parse(body) as { type: string; data?: { current?: { id?: string; state?: InstanceState } } };
        const current = payload.data?.current;
        if (payload.type.startsWith('instance.') && current?.id && current.state) {
          this.sightings.push({ instanceId: current.id, state: current.state, atMs: receivedAtMs });
        }
        res.writeHead(204).end();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
