/**
 * The status page's sections as HTML, rendered from a snapshot. Each section is a
 * `<section id=…>` the live stream replaces whole when its HTML changes; controls (strategy
 * switch, redeliver, re-enable) appear only when the viewer may use them.
 */
import { barChart, rateSparkline } from './status-charts.js';
import { ago, badge, bytes, count, duration, esc, percent, rate, type Tone } from './status-format.js';
import type { BackendStatus, StatusSnapshot } from './status-schema.js';
import { webhooksSection } from './status-webhooks.js';

export type Section = { id: string; html: string };

const HEALTH_TONE: Record<BackendStatus['health'], Tone> = { ok: 'ok', degraded: 'warn', down: 'bad', unknown: 'idle' };

export interface Column {
  head: string;
  /** Right-aligned, tabular figures. */
  num?: boolean;
}

export interface Row {
  /** Extra attributes of the `<tr>` (already escaped), e.g. ` class="self"`. */
  attrs?: string;
  /** The first cell heads the row. */
  cells: string[];
}

/**
 * A data table inside a keyboard-scrollable region. On a phone the rows become stacked
 * cards (each cell labelled with its column by CSS), so explicit roles keep the table's
 * meaning for screen readers whatever the display.
 */
export function table(label: string, columns: Column[], rows: Row[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  const body = rows
    .map(
      (row) =>
        `<tr role="row"${row.attrs ?? ''}>` +
        row.cells
          .map((cell, i) => {
            const column = columns[i]!;
            const tag = i === 0 ? 'th scope="row" role="rowheader"' : `td role="cell"${column.num ? ' class="num"' : ''}`;
            return `<${tag} data-label="${esc(column.head)}">${cell}</${i === 0 ? 'th' : 'td'}>`;
          })
          .join('') +
        '</tr>',
    )
    .join('');
  return (
    `<div class="scroll" role="region" aria-label="${esc(label)}" tabindex="0"><table role="table">` +
    `<thead><tr role="row">${columns.map((c) => `<th scope="col" role="columnheader"${c.num ? ' class="num"' : ''}>${esc(c.head)}</th>`).join('')}</tr></thead>` +
    `<tbody>${body}</tbody></table></div>`
  );
}

function section(id: string, title: string, body: string, wide = false): Section {
  return { id, html: `<section id="${id}" class="card${wide ? ' wide' : ''}" aria-labelledby="${id}-h"><h2 id="${id}-h">${esc(title)}</h2>${body}</section>` };
}

function summary(s: StatusSnapshot): Section {
  const failing = s.webhooks.filter((w) => w.state === 'failing' || w.state === 'disabled').length;
  const down = s.backends.filter((b) => b.health === 'down').length;
  const tile = (label: string, value: string, id: string, tone: Tone | '' = '') =>
    `<div class="tile ${tone}"><dt>${esc(label)}</dt><dd id="${id}">${value}</dd></div>`;
  return {
    id: 'sec-summary',
    html:
      `<section id="sec-summary" class="summary wide" aria-label="Summary"><dl class="tiles">` +
      tile('Strategy', esc(s.strategy.name), 'kpi-strategy') +
      tile('Instances', count(s.cache.instances), 'kpi-instances') +
      tile('Deployments', count(s.cache.deployments), 'kpi-deployments') +
      tile('Feed events/s', rate(s.feed.ratePerSecond), 'kpi-feed-rate') +
      tile('Backends down', count(down), 'kpi-backends-down', down > 0 ? 'bad' : 'ok') +
      tile('Webhooks failing', `${count(failing)} <small>of ${count(s.webhooks.length)}</small>`, 'kpi-webhooks-failing', failing > 0 ? 'bad' : 'ok') +
      tile('Replicas alive', count(s.replicas.length), 'kpi-replicas') +
      `</dl></section>`,
  };
}

function strategy(s: StatusSnapshot, nowMs: number): Section {
  const changed = s.strategy.since
    ? `<p class="muted">Since ${ago(s.strategy.since, nowMs)}${s.strategy.by ? `, set by <b>${esc(s.strategy.by)}</b>` : ''}.</p>`
    : '';
  const rows = s.backends.map((b) => ({
    cells: [esc(b.id), esc(b.kind), `<code class="strategy-name" data-backend="${esc(b.id)}">${esc(b.strategy)}</code>`],
  }));
  let control = '';
  if (s.viewer.canControl) {
    const options = s.strategy.available.map((n) => `<option value="${esc(n)}"${n === s.strategy.name ? ' selected' : ''}>${esc(n)}</option>`).join('');
    const scope = s.strategy.perBackend
      ? `<label for="switch-scope">Backend</label><select id="switch-scope" name="backendId"><option value="">all (default)</option>${s.backends
          .map((b) => `<option value="${esc(b.id)}">${esc(b.id)}</option>`)
          .join('')}</select>`
      : '';
    control =
      `<form class="control" data-action="switch-strategy">${scope}` +
      `<label for="switch-name">Switch to</label><select id="switch-name" name="name">${options}</select>` +
      `<button type="submit">Switch</button>` +
      `${s.strategy.perBackend ? '' : '<span class="muted">applies to every backend</span>'}</form>`;
  }
  return section(
    'sec-strategy',
    'Strategy',
    `<p class="big">Default: <code id="strategy-name">${esc(s.strategy.name)}</code></p>${changed}` +
      table('Strategy per backend', [{ head: 'Backend' }, { head: 'Kind' }, { head: 'Strategy' }], rows, 'No backend is configured.') +
      control,
  );
}

function backends(s: StatusSnapshot, nowMs: number): Section {
  const rows = s.backends.map((b) => ({
    attrs: ` class="health-${b.health}" data-backend="${esc(b.id)}"`,
    cells: [
      esc(b.id),
      esc(b.kind),
      `${badge(b.health, HEALTH_TONE[b.health])}${b.reachError ? `<div class="muted small">${esc(b.reachError.slice(0, 160))}</div>` : ''}`,
      ago(b.lastSyncAt, nowMs),
      rate(b.requestRate),
      rateSparkline(b.history, `${b.id} requests per second`),
      rate(b.errorRate),
    ],
  }));
  const columns = [
    { head: 'Backend' },
    { head: 'Kind' },
    { head: 'Health' },
    { head: 'Last successful sync' },
    { head: 'Requests/s', num: true },
    { head: 'Last minute' },
    { head: 'Errors/s', num: true },
  ];
  return section('sec-backends', 'Backends', table('Backends', columns, rows, 'No backend is configured.'), true);
}

function cache(s: StatusSnapshot, nowMs: number): Section {
  const a = s.cache.ages;
  const chart = a
    ? barChart(
        [
          { label: '< 1 s', value: a.under1s, tone: 'fresh' },
          { label: '< 10 s', value: a.under10s, tone: 'recent' },
          { label: '< 1 min', value: a.under1m, tone: 'aging' },
          { label: 'older', value: a.older, tone: 'old' },
        ],
        'Instances by age of their last observation',
      )
    : '<p class="empty">Counting…</p>';
  const vanished = s.cache.vanished ? ` · ${count(s.cache.vanished)} vanished (kept as tombstones)` : '';
  return section(
    'sec-cache',
    'Cache',
    `<p class="big"><b>${count(s.cache.instances)}</b> instances · <b>${count(s.cache.deployments)}</b> deployments</p>` +
      `<h3>Age of the last observation</h3><figure class="chart">${chart}<figcaption class="muted small">Counted ${ago(s.cache.agesAt, nowMs, 'not yet')}${vanished}.</figcaption></figure>`,
  );
}

function feed(s: StatusSnapshot): Section {
  const f = s.feed;
  const fill = f.maxLength > 0 ? Math.min(1, f.length / f.maxLength) : 0;
  return section(
    'sec-feed',
    'Change feed',
    `<p class="big"><b>${rate(f.ratePerSecond)}</b> events/s · <b>${count(f.length)}</b> kept</p>` +
      `<div class="spark-row">${rateSparkline(f.history, 'Feed events per second')}<span class="muted small">${
        f.history.length < 2 ? 'collecting samples…' : `last ${f.history.length} samples`
      }</span></div>` +
      `<dl class="facts"><dt>Retention</dt><dd>${count(f.maxLength)} events or ${duration(f.maxAgeMs)} (${percent(fill)} full)</dd>` +
      `<dt>Oldest cursor</dt><dd><code>${esc(f.firstCursor ?? '—')}</code></dd><dt>Newest cursor</dt><dd><code>${esc(f.lastCursor ?? '—')}</code></dd></dl>`,
  );
}

function queues(s: StatusSnapshot): Section {
  const states = ['waiting', 'delayed', 'active', 'failed'];
  const rows = Object.entries(s.queues).map(([name, counts]) => ({ cells: [esc(name), ...states.map((st) => count(counts[st] ?? 0))] }));
  const columns = [{ head: 'Queue' }, ...states.map((st) => ({ head: st, num: true }))];
  return section('sec-queues', 'Job queues (BullMQ)', table('Job queues', columns, rows, 'No queue.'));
}

function replicas(s: StatusSnapshot, nowMs: number): Section {
  const rows = s.replicas.map((r) => ({
    attrs: r.self ? ' class="self"' : '',
    cells: [
      `<code>${esc(r.id)}</code>${r.self ? ' <span class="muted small">(this page)</span>' : ''}`,
      esc(`${r.host} · pid ${r.pid}`),
      esc(r.version),
      esc(r.strategy ?? '—'),
      ago(r.startedAt, nowMs),
      ago(r.lastBeatAt, nowMs),
      bytes(r.rssBytes),
    ],
  }));
  const columns = [
    { head: 'Replica' },
    { head: 'Host' },
    { head: 'Version' },
    { head: 'Runs' },
    { head: 'Started' },
    { head: 'Last heartbeat' },
    { head: 'Memory', num: true },
  ];
  return section('sec-replicas', 'Replicas alive', table('Replicas', columns, rows, 'No replica has reported yet.'), true);
}

/** Every section, in page order. */
export function renderSections(s: StatusSnapshot, nowMs: number): Section[] {
  return [summary(s), strategy(s, nowMs), feed(s), backends(s, nowMs), cache(s, nowMs), queues(s), webhooksSection(s, nowMs), replicas(s, nowMs)];
}
