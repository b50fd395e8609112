/** The status page's pure parts: quantiles, formatting, escaping, charts and role-aware sections. */
import { expect } from 'chai';
import { barChart, sparkline } from '../../src/status/status-charts.js';
import { ago, duration, esc, rate } from '../../src/status/status-format.js';
import type { StatusSnapshot } from '../../src/status/status-schema.js';
import { renderSections } from '../../src/status/status-sections.js';
import { quantile } from '../../src/store/webhook-stats.js';

function snapshot(canControl: boolean, url = 'https://conductor.example/hooks?x=<script>'): StatusSnapshot {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    generatedAt: at,
    version: '1.2.3',
    viewer: { name: 'ops', role: canControl ? 'admin' : 'client', canControl },
    strategy: { name: 'cached-poll', since: at, by: 'config', available: ['on-demand', 'cached-poll'], perBackend: false },
    backends: [
      { id: 'heat-1', kind: 'heat', strategy: 'cached-poll', health: 'down', reachable: false, reachError: 'ECONNREFUSED', lastSyncAt: null, lastFailedSyncAt: at, requestRate: 2.5, errorRate: 2.5, history: [1, 2, 3] },
    ],
    cache: { instances: 1_234, deployments: 56, vanished: 0, ages: { under1s: 1, under10s: 2, under1m: 3, older: 4 }, agesAt: at },
    feed: { length: 10, ratePerSecond: 0.5, history: [0, 1], firstCursor: '1-0', lastCursor: '2-0', maxLength: 1_000, maxAgeMs: 60_000 },
    queues: { strategy: { waiting: 1, delayed: 2, active: 0, failed: 0 } },
    webhooks: [
      {
        id: 'wh_1', url, description: null, ordered: false, enabled: true, disabledAt: null, disabledReason: null, failingSince: at, lastSuccessAt: null,
        state: 'failing', attempts: 3, successRate: 0, p99LatencyMs: 42, backlog: 1, backlogCapped: false, deadLetters: 1,
        dead: [{ id: 'evt_1', eventId: 'evt_1', eventType: 'instance.created', subject: 'srv-1', status: 'dead', attempts: 2, totalAttempts: 2, run: 0, createdAt: at, updatedAt: at, nextAttemptAt: null, lastStatus: 500, lastError: null }],
      },
    ],
    replicas: [],
  };
}

describe('status page rendering', () => {
  it('quantile is the nearest-rank value', () => {
    expect(quantile([], 0.99)).to.equal(null);
    expect(quantile([5], 0.99)).to.equal(5);
    expect(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99)).to.equal(99);
    expect(quantile([3, 1, 2], 0.5)).to.equal(2);
  });

  it('formats rates, durations and times', () => {
    expect([rate(null), rate(0), rate(0.012), rate(3.21), rate(1_234.5)]).to.deep.equal(['—', '0', '0.01', '3.2', '1,235']);
    expect([duration(850), duration(4_200), duration(90_000), duration(7_500_000), duration(3 * 86_400_000)]).to.deep.equal(['850 ms', '4.2 s', '1 min', '2 h 5 min', '3 d']);
    expect(ago(null, 0)).to.contain('never');
    expect(ago('2026-01-01T00:00:00.000Z', Date.parse('2026-01-01T00:00:12.000Z'))).to.contain('12 s ago');
    expect(esc(`<a href="x">'&`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });

  it('draws charts with fixed view boxes and a text alternative', () => {
    const spark = sparkline([0, 5, 10], 'feed <rate>');
    expect(spark).to.contain('viewBox="0 0 120 28"').and.contain('aria-label="feed &lt;rate&gt;"');
    expect(sparkline([], 'empty')).to.contain('<polyline');
    const bars = barChart([{ label: '< 1 s', value: 3, tone: 'fresh' }, { label: 'older', value: 1, tone: 'old' }], 'Ages');
    expect(bars).to.contain('Ages: &lt; 1 s 3, older 1').and.contain('3 (75 %)');
  });

  it('escapes what it shows and gives controls to admins only', () => {
    const admin = renderSections(snapshot(true), Date.parse('2026-01-01T00:00:10.000Z')).map((s) => s.html).join('');
    const client = renderSections(snapshot(false), Date.parse('2026-01-01T00:00:10.000Z')).map((s) => s.html).join('');
    for (const html of [admin, client]) {
      expect(html).not.to.contain('<script>');
      expect(html).to.contain('x=&lt;script&gt;');
      expect(html).to.contain('id="kpi-instances">1,234<');
      expect(html).to.contain('class="webhook state-failing"');
      expect(html).to.contain('health-down');
    }
    expect(admin).to.contain('data-action="switch-strategy"').and.contain('data-action="redeliver"');
    expect(client).not.to.contain('data-action').and.not.contain('<button');
  });
});
