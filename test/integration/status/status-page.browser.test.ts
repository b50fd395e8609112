/**
 * The status page in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against a full gateway polling the simulator. Each test leaves a screenshot in
 * test-results/ (git-ignored).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { launchBrowser, screenshot, type TestBrowser } from '../../helpers/browser.js';
import { testConfig, TOKENS } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/redis.js';
import { api, startReceiver, verify, type Receiver } from '../../helpers/webhook-receiver.js';
import { FAST_STRATEGY_OPTIONS, simBackends } from '../../helpers/world.js';

describe('status page in Chromium', function () {
  this.timeout(90_000);
  let sim: Simulator;
  let gateway: Gateway;
  let url: string;
  let receiver: Receiver;
  let browser: TestBrowser;

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator({ clock: 'real', seed: 7, deployments: 4, instancesPerDeployment: 3, changeRate: 0.5 });
    const config = await testConfig({
      backends: simBackends(sim),
      strategy: { name: 'cached-poll', ...FAST_STRATEGY_OPTIONS },
      webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 100], jitter: 0, timeoutMs: 2_000 },
    });
    gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules({ strategies: { retryBaseDelayMs: 5, convergeCheckMs: 200 } }) });
    url = await gateway.start();
    receiver = await startReceiver();
    browser = await launchBrowser();
    await waitFor(async () => (await gateway.store.counts()).instances >= 12, { what: 'the first poll to fill the cache', timeoutMs: 20_000 });
  });

  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await receiver?.close();
    await sim?.close();
  });

  /** Opens the page, signs in through the form; returns every URL the page requested. */
  async function signIn(page: Page, token: string): Promise<string[]> {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(`${url}/`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sec-summary').waitFor();
    await page.locator('#live.on').waitFor();
    return requested;
  }

  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  it('signs in with an admin token once, shows the strategy and the counts, and keeps the token out of every URL', async () => {
    const page = await browser.newPage();
    const requested = await signIn(page, TOKENS.admin);
    expect(await text(page, '#kpi-strategy')).to.equal('cached-poll');
    expect(await text(page, '#strategy-name')).to.equal('cached-poll');
    // The page follows the cache: its instance count converges on what the store holds.
    await waitFor(async () => (await text(page, '#kpi-instances')) === String((await gateway.store.counts()).instances), {
      what: 'the instance count on the page to match the cache', timeoutMs: 15_000,
    });
    expect(Number(await text(page, '#kpi-deployments'))).to.equal((await gateway.store.counts()).deployments);
    expect(await page.locator('#sec-backends tr[data-backend="heat-1"] .badge').innerText()).to.match(/ok|degraded/);
    expect(await page.locator('#sec-replicas tbody tr').count()).to.equal(1);
    expect(await page.locator('#sec-cache svg.bars').getAttribute('aria-label')).to.match(/< 1 s \d+, < 10 s \d+/);

    expect(requested.filter((u) => u.includes(TOKENS.admin))).to.deep.equal([]);
    expect(page.url()).to.equal(`${url}/`);
    expect(await page.evaluate('[sessionStorage.length, localStorage.length]')).to.deep.equal([1, 0]);
    await screenshot(page, 'status-admin-1280x800');

    // Asked once: a reload in the same tab signs in from sessionStorage, without the form.
    await page.reload();
    await page.locator('#live.on').waitFor();
    expect(await page.locator('#sign-in').count()).to.equal(0);
    await page.close();
  });

  it('switches the strategy from the page, and the page follows a switch made elsewhere', async () => {
    const page = await browser.newPage();
    await signIn(page, TOKENS.admin);
    await page.getByLabel('Switch to').selectOption('webhook');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.locator('#notice.ok', { hasText: 'Switched to webhook.' }).waitFor();
    await waitFor(async () => (await text(page, '#strategy-name')) === 'webhook' && (await text(page, '#kpi-strategy')) === 'webhook', {
      what: 'the page to show the new strategy', timeoutMs: 15_000,
    });
    expect((await api(url, TOKENS.admin, 'GET', '/admin/strategy')).json.name).to.equal('webhook');
    expect(await page.locator('#sec-strategy code.strategy-name[data-backend="heat-1"]').innerText()).to.equal('webhook');
    await screenshot(page, 'status-strategy-switched');

    // A switch by someone else (the API) reaches the open page over the live stream.
    expect((await api(url, TOKENS.admin, 'PUT', '/admin/strategy', { name: 'cached-poll' })).status).to.equal(200);
    await waitFor(async () => (await text(page, '#strategy-name')) === 'cached-poll', { what: 'the page to follow the API switch', timeoutMs: 15_000 });
    await page.close();
  });

  it('keeps a strategy the user chose but has not submitted through a live update of its section', async () => {
    const page = await browser.newPage();
    await signIn(page, TOKENS.admin);
    await page.getByLabel('Switch to').selectOption('webhook');
    await page.locator('#dashboard-h').focus(); // focus elsewhere: updates of the section are applied at once
    // A switch made elsewhere re-renders the section with on-demand as its default choice.
    expect((await api(url, TOKENS.admin, 'PUT', '/admin/strategy', { name: 'on-demand' })).status).to.equal(200);
    await waitFor(async () => (await text(page, '#strategy-name')) === 'on-demand', { what: 'the page to follow the API switch', timeoutMs: 15_000 });
    expect(await page.getByLabel('Switch to').inputValue()).to.equal('webhook');
    expect((await api(url, TOKENS.admin, 'PUT', '/admin/strategy', { name: 'cached-poll' })).status).to.equal(200);
    await page.close();
  });

  it('shows a failing endpoint in red, then redelivers its dead letter', async () => {
    receiver.behaviour = (_r, res) => void res.writeHead(500).end('receiver broken');
    const created = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: `${receiver.url}/hook`, events: ['webhook.test'], description: 'Conductor (test)' });
    expect(created.status).to.equal(201);
    const { id, secret } = created.json as { id: string; secret: string };
    expect((await api(url, TOKENS.client, 'POST', `/v1/webhooks/${id}/test`)).status).to.equal(202);

    const page = await browser.newPage();
    await signIn(page, TOKENS.admin);
    const row = page.locator(`#sec-webhooks tr[data-webhook="${id}"]`);
    await page.locator(`#sec-webhooks tr.state-failing[data-webhook="${id}"]`).waitFor({ timeout: 20_000 });
    await page.locator('#sec-webhooks li.dead-letter').first().waitFor({ timeout: 20_000 });
    expect(await row.locator('.badge').innerText()).to.contain('failing');
    const styleOf = globalThis as unknown as { getComputedStyle(element: unknown): { backgroundColor: string } };
    const background = await row.evaluate((el) => (globalThis as unknown as typeof styleOf).getComputedStyle(el).backgroundColor);
    const [red, green] = background.match(/\d+/g)!.map(Number);
    expect(red, `the failing row is tinted red (${background})`).to.be.greaterThan(green!);
    expect(await text(page, '#kpi-webhooks-failing')).to.match(/^1/);
    await screenshot(page, 'status-webhook-failing');

    receiver.behaviour = (_r, res) => void res.writeHead(204).end();
    const before = receiver.received.length;
    // The request is held until the button has been pressed twice: a busy form sends once.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let sent = 0;
    await page.route('**/redeliver', async (route) => {
      sent += 1;
      await held;
      await route.continue();
    });
    const redeliver = page.locator('#sec-webhooks li.dead-letter').first().getByRole('button', { name: 'Redeliver' });
    await redeliver.click();
    await page.locator('#notice', { hasText: 'Working…' }).waitFor();
    expect(await redeliver.getAttribute('aria-disabled')).to.equal('true');
    await redeliver.click({ force: true }); // a real click: Playwright itself waits out aria-disabled
    release();
    await page.locator('#notice.ok', { hasText: 'Redelivery queued.' }).waitFor();
    expect(sent, 'redelivery requests').to.equal(1);
    // The outcome has the focus, so the section it left follows the next updates.
    expect(await page.evaluate<string>('document.activeElement.id')).to.equal('notice');
    await waitFor(() => receiver.received.length > before, { what: 'the redelivery to arrive', timeoutMs: 15_000 });
    const redelivered = receiver.received.at(-1)!;
    expect(verify(secret, redelivered).type).to.equal('webhook.test');
    await page.locator(`#sec-webhooks tr.state-ok[data-webhook="${id}"]`).waitFor({ timeout: 20_000 });
    expect(await row.locator('td').last().innerText()).to.equal('0');
    expect(await page.locator('#sec-webhooks li.dead-letter').count()).to.equal(0);
    await screenshot(page, 'status-webhook-redelivered');
    await page.close();
  });

  it('shows a client token everything but the controls, at phone width, in dark mode', async () => {
    const page = await browser.newPage({ width: 390, height: 844, colorScheme: 'dark' });
    await signIn(page, TOKENS.client);
    expect(await text(page, '#kpi-strategy')).to.equal('cached-poll');
    for (const id of ['sec-strategy', 'sec-backends', 'sec-cache', 'sec-feed', 'sec-webhooks', 'sec-queues', 'sec-replicas']) {
      expect(await page.locator(`#${id}`).isVisible(), id).to.equal(true);
    }
    expect(await page.locator('form[data-action]').count()).to.equal(0);
    expect(await page.getByRole('button', { name: /Switch|Redeliver|Re-enable/ }).count()).to.equal(0);
    // Nothing wider than the phone: wide tables scroll inside their own region.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(390);
    const background = await page.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor');
    expect(background, 'dark background').to.match(/rgb\((\d|1\d|2\d),/);
    await screenshot(page, 'status-client-phone-dark');
    await page.close();
  });

  it('updates live without shifting the layout', async () => {
    const page = await browser.newPage();
    await signIn(page, TOKENS.admin);
    // Layout shifts not caused by input, and the number of updates applied, counted in the page.
    await page.evaluate(`
      window.shift = 0;
      window.updates = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.shift += entry.value;
      }).observe({ type: 'layout-shift' });
      new MutationObserver(() => (window.updates += 1)).observe(document.getElementById('live'), { childList: true, characterData: true, subtree: true });
    `);
    await page.waitForFunction(() => (globalThis as unknown as { updates: number }).updates >= 4, undefined, { timeout: 20_000 });
    const shift = await page.evaluate<number>('window.shift');
    expect(shift, 'cumulative layout shift while updating').to.be.below(0.01);
    await screenshot(page, 'status-live');
    await page.close();
  });
});
