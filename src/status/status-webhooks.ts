/**
 * The webhook section: one row per endpoint (state, success rate, p99, backlog, dead
 * letters) and, under it, its newest dead letters with a redeliver button for admins.
 */
import { ago, badge, count, duration, esc, percent, type Tone } from './status-format.js';
import type { StatusSnapshot, WebhookStatus } from './status-schema.js';
import { table, type Section } from './status-sections.js';

const STATE_TONE: Record<WebhookStatus['state'], Tone> = { ok: 'ok', idle: 'idle', failing: 'bad', disabled: 'bad' };

function stateCell(w: WebhookStatus, nowMs: number): string {
  if (w.state === 'disabled') {
    return `${badge('disabled', 'bad')}<div class="muted small">${esc((w.disabledReason ?? '').slice(0, 160))}</div>`;
  }
  if (w.state === 'failing') return `${badge('failing', 'bad')}<div class="muted small">since ${ago(w.failingSince, nowMs)}</div>`;
  return `${badge(w.state, STATE_TONE[w.state])}<div class="muted small">last success ${ago(w.lastSuccessAt, nowMs)}</div>`;
}

function deadLetters(w: WebhookStatus, canControl: boolean, nowMs: number): string {
  if (w.dead.length === 0) return '';
  const items = w.dead
    .map((d) => {
      const why = d.lastStatus !== null ? `HTTP ${d.lastStatus}` : (d.lastError ?? 'no answer');
      const button = canControl
        ? `<form class="inline" data-action="redeliver" data-webhook="${esc(w.id)}" data-delivery="${esc(d.id)}"><button type="submit">Redeliver</button></form>`
        : '';
      return (
        `<li class="dead-letter" data-delivery="${esc(d.id)}"><code>${esc(d.eventType)}</code> ${d.subject ? `<code>${esc(d.subject)}</code>` : ''}` +
        ` <span class="muted small">${esc(why.slice(0, 120))} · ${count(d.totalAttempts)} attempts · ${ago(d.updatedAt, nowMs)}</span> ${button}</li>`
      );
    })
    .join('');
  const more = w.deadLetters > w.dead.length ? `<p class="muted small">${count(w.deadLetters - w.dead.length)} more: GET /v1/webhooks/${esc(w.id)}/dead-letters</p>` : '';
  return `<details class="dead" data-key="dead-${esc(w.id)}" open><summary>Dead letters of ${esc(shortUrl(w.url))}</summary><ul>${items}</ul>${more}</details>`;
}

function shortUrl(url: string): string {
  return url.length > 60 ? `${url.slice(0, 57)}…` : url;
}

export function webhooksSection(s: StatusSnapshot, nowMs: number): Section {
  const canControl = s.viewer.canControl;
  const rows = s.webhooks.map((w) => {
    const enable =
      canControl && w.state === 'disabled'
        ? `<form class="inline" data-action="enable-webhook" data-webhook="${esc(w.id)}"><button type="submit">Re-enable</button></form>`
        : '';
    return {
      attrs: ` class="webhook state-${w.state}" data-webhook="${esc(w.id)}"`,
      cells: [
        `<span class="url" title="${esc(w.url)}">${esc(shortUrl(w.url))}</span>` +
          `${w.description ? `<div class="muted small">${esc(w.description.slice(0, 80))}</div>` : ''}` +
          `<div class="muted small"><code>${esc(w.id)}</code>${w.ordered ? ' · ordered' : ''}</div>`,
        `${stateCell(w, nowMs)}${enable}`,
        `${percent(w.successRate)}<div class="muted small">${count(w.attempts)} attempts</div>`,
        w.p99LatencyMs === null ? '—' : duration(w.p99LatencyMs),
        `${count(w.backlog)}${w.backlogCapped ? '+' : ''}`,
        `<span class="dead-count${w.deadLetters > 0 ? ' warn-text' : ''}">${count(w.deadLetters)}</span>`,
      ],
    };
  });
  const columns = [
    { head: 'Endpoint' },
    { head: 'State' },
    { head: 'Success (1 h)', num: true },
    { head: 'p99 latency', num: true },
    { head: 'Backlog', num: true },
    { head: 'Dead letters', num: true },
  ];
  const list = table('Webhook endpoints', columns, rows, 'No webhook endpoint is registered (POST /v1/webhooks).');
  const dead = s.webhooks.map((w) => deadLetters(w, canControl, nowMs)).join('');
  return {
    id: 'sec-webhooks',
    html: `<section id="sec-webhooks" class="card wide" aria-labelledby="sec-webhooks-h"><h2 id="sec-webhooks-h">Webhook endpoints</h2>${list}${dead}</section>`,
  };
}
