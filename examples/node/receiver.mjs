#!/usr/bin/env node
/**
 * A heat-gateway webhook receiver in Node.js: node:http plus the `standardwebhooks` library
 * (npm install standardwebhooks). The same behaviour as examples/ruby/receiver.rb:
 *
 *  - verifies every delivery with `standardwebhooks` (signature and the 5 minute timestamp
 *    window), trying each secret during a rotation;
 *  - de-duplicates by `webhook-id` (the feed event id: delivery is at least once);
 *  - orders by the instance/deployment `version` (deliveries may arrive out of order);
 *  - catches up from GET /v1/events after downtime, from a cursor persisted on disk, and
 *    reloads from GET /v1/instances when the feed answers `gap: true`.
 *
 * Environment: PORT, HGW_URL, HGW_TOKEN (client), HGW_WEBHOOK_SECRETS (comma-separated
 * whsec_ secrets), STATE_DIR (default ./receiver-state), HGW_START_CURSOR (default 0),
 * CATCHUP_INTERVAL_S (default 30).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const MAX_BODY_BYTES = 1_048_576;
const SEEN_KEPT = 100_000;

const env = process.env;
const gateway = new URL(env.HGW_URL ?? 'http://127.0.0.1:8080');
const token = env.HGW_TOKEN ?? '';
const stateDir = env.STATE_DIR ?? './receiver-state';
const verifiers = (env.HGW_WEBHOOK_SECRETS ?? '').split(',').filter(Boolean).map((secret) => new Webhook(secret.trim()));
if (verifiers.length === 0) throw new Error('set HGW_WEBHOOK_SECRETS to the endpoint secret (whsec_...)');

/** The receiver's memory: feed cursor, last applied version per item, ids already processed. */
class State {
  constructor(dir, startCursor) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'state.json');
    this.processedLog = join(dir, 'processed.jsonl');
    const saved = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
    this.cursor = saved.cursor ?? startCursor;
    this.versions = saved.versions ?? {};
    this.seen = saved.seen ?? [];
    this.seenSet = new Set(this.seen);
  }

  /** Records one event exactly once: 'applied', or 'superseded' when a newer version was applied. */
  record(event, via) {
    let outcome = 'applied';
    if (event.key && event.version !== null) {
      if (event.version <= (this.versions[event.key] ?? 0)) outcome = 'superseded';
      else this.versions[event.key] = event.version; // here Conductor would update its row from event.data
    }
    this.seen.push(event.id);
    this.seenSet.add(event.id);
    while (this.seen.length > SEEN_KEPT) this.seenSet.delete(this.seen.shift());
    appendFileSync(this.processedLog, `${JSON.stringify({ event: event.id, type: event.type, via, outcome, key: event.key, version: event.version })}\n`);
    this.save();
    return outcome;
  }

  setCursor(cursor) {
    this.cursor = cursor;
    this.save();
  }

  save() {
    writeFileSync(`${this.file}.tmp`, JSON.stringify({ cursor: this.cursor, versions: this.versions, seen: this.seen }));
    renameSync(`${this.file}.tmp`, this.file);
  }
}

/** A webhook body's or a feed event's essentials. */
function normalize(id, type, data = {}) {
  const current = data.current && typeof data.current === 'object' ? data.current : null;
  const previous = data.previous && typeof data.previous === 'object' ? data.previous : null;
  const subject = data.id ?? current?.id ?? previous?.id ?? null;
  const kind = type.split('.')[0];
  const version = current?.version ?? previous?.version ?? null;
  return { id, type, key: subject && (kind === 'instance' || kind === 'deployment') ? `${kind}:${subject}` : null, version: Number.isInteger(version) ? version : null, data };
}

const state = new State(stateDir, env.HGW_START_CURSOR ?? '0');
const requestsLog = join(stateDir, 'requests.jsonl');
// Node runs one callback at a time and every step below is synchronous, so no lock is needed.
const processEvent = (event, via) => (state.seenSet.has(event.id) ? 'duplicate' : state.record(event, via));

function verify(body, headers) {
  let lastError;
  for (const verifier of verifiers) {
    try {
      return verifier.verify(body, headers);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function getJson(path) {
  const res = await fetch(new URL(path, gateway), { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${new URL(path, gateway).pathname} answered ${res.status}`);
  return res.json();
}

/** Retention removed events we never saw: take the current versions from the reads. */
async function resync() {
  console.error('receiver: events were removed before we read them; reloading instances');
  let cursor = null;
  do {
    const page = await getJson(`/v1/instances?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const i of page.items) state.versions[`instance:${i.id}`] = Math.max(state.versions[`instance:${i.id}`] ?? 0, i.version);
    cursor = page.next;
  } while (cursor);
}

/** Reads the feed from the persisted cursor to its end. */
async function catchUp() {
  for (;;) {
    const page = await getJson(`/v1/events?after=${encodeURIComponent(state.cursor)}&limit=500`);
    if (page.gap) await resync();
    for (const e of page.events) processEvent(normalize(e.id, e.type, e.data), 'feed');
    state.setCursor(page.next);
    if (page.events.length === 0) return;
  }
}

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    const id = req.headers['webhook-id'];
    let status = 204;
    let detail;
    if (req.method !== 'POST') status = 405;
    else if (size > MAX_BODY_BYTES) status = 413;
    else {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const payload = verify(body, req.headers);
        detail = processEvent(normalize(id, payload.type, payload.data), 'webhook');
      } catch (err) {
        status = err instanceof WebhookVerificationError ? 401 : 400;
        detail = err.message;
      }
    }
    if (status !== 405) appendFileSync(requestsLog, `${JSON.stringify({ webhookId: id ?? null, verified: status === 204, detail: String(detail) })}\n`);
    res.writeHead(status, { connection: 'close' }).end();
  });
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
  // Catch up at once (deliveries missed while we were down), then now and then.
  const interval = Number(env.CATCHUP_INTERVAL_S ?? 30) * 1_000;
  const loop = () =>
    catchUp()
      .catch((err) => console.error(`receiver: catch-up failed, retrying: ${err.message}`))
      .finally(() => setTimeout(loop, interval).unref());
  loop();
});

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(0));
