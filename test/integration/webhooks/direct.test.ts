/**
 * The fan-out's direct attempts (no BullMQ job on the happy path) against the jobs that can
 * name the same delivery while such an attempt is in flight. Before direct attempts held a
 * lease, each of these sent the delivery a second time alongside the first.
 */
import { expect } from 'chai';
import { waitFor } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import { DeliveryQueue, type DeliveryJobSpec } from '../../../src/webhooks/delivery-queue.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook direct delivery', function () {
  this.timeout(60_000);
  let h: Harness;
  afterEach(() => h?.stop());

  /**
   * Holds the first request until `release()`; answers every later one at once. Waits until
   * the job `jobId` either sent (a second request) or stood back (delayed until the direct
   * attempt's lease lapses), then releases and lets everything settle.
   */
  async function raceAgainstDirect(ordered: boolean, job: (spec: DeliveryJobSpec) => DeliveryJobSpec) {
    h = await startHarness();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const receiver = await h.receiver(async (_r, res) => {
      if (receiver.received.length === 1) await held;
      res.writeHead(204).end();
    });
    const hook = await h.register({ url: receiver.url, ordered });
    const [event] = await h.append(1, 'srv-9');
    await waitFor(() => receiver.received.length === 1, { what: 'the direct attempt in flight' });
    // An unordered delivery was sent before it was recorded: recorded (and claimed) once its
    // answer is slower than `recordWithAnswerMs` (100 ms). A job can only name it after that.
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'pending', {
      what: 'the delivery recorded while its request is held',
    });
    const spec: DeliveryJobSpec = { endpointId: hook.id, eventId: event!, run: 0, subject: ordered ? 'srv-9' : '' };
    // Nothing went through the queue: the fan-out sent it itself.
    expect(await h.module.queue.outstanding()).to.equal(0);
    const racing = job(spec);
    await h.module.queue.add([racing]);
    const id = DeliveryQueue.jobId(racing);
    await waitFor(async () => receiver.received.length > 1 || (await h.module.queue.queue.getJobState(id)) === 'delayed', {
      what: 'the racing job to send or stand back',
    });
    release();
    await waitFor(() => h.module.idle(), { timeoutMs: 15_000, what: 'queue idle after the lease' });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.deep.equal([event]);
    verify(hook.secret, receiver.received[0]!);
    const view = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`);
    expect(view.status).to.equal(200);
    expect(view.json.status).to.equal('delivered');
  }

  it('a job of the same delivery (the entry fanned out again by another leader) waits for the direct attempt', async () => {
    await raceAgainstDirect(false, (spec) => spec);
  });

  it('an ordered head woken by its predecessor while the fan-out already sends it is not sent twice', async () => {
    await raceAgainstDirect(true, (spec) => ({ ...spec, head: true }));
  });
});
