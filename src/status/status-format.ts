/** Escaping and number/time formatting for the server-rendered status page. */

/** Escapes text for HTML element content and double-quoted attributes. */
export const esc = (text: string | number): string =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12,345 */
export const count = (n: number): string => integer.format(n);

/** A rate per second with sensible precision: 0, 0.05, 3.2, 1,250. */
export function rate(n: number | null): string {
  if (n === null) return '—';
  if (n === 0) return '0';
  if (n < 0.1) return n.toFixed(2);
  if (n < 10) return n.toFixed(1);
  return integer.format(n);
}

/** A duration in ms as a short human string: 850 ms, 4.2 s, 3 min, 2 h 5 min, 3 d. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 10_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  if (ms < 86_400_000) {
    const minutes = Math.floor((ms % 3_600_000) / 60_000);
    return `${Math.floor(ms / 3_600_000)} h${minutes ? ` ${minutes} min` : ''}`;
  }
  return `${Math.floor(ms / 86_400_000)} d`;
}

/** `<time>` with the ISO value and "12 s ago" (relative to `nowMs`), or a dash. */
export function ago(isoTime: string | null, nowMs: number, never = 'never'): string {
  if (!isoTime) return `<span class="muted">${esc(never)}</span>`;
  const ms = Math.max(0, nowMs - Date.parse(isoTime));
  return `<time datetime="${esc(isoTime)}" title="${esc(isoTime)}">${ms < 1_000 ? 'just now' : `${duration(ms)} ago`}</time>`;
}

/** 0.973 → 97.3 % */
export const percent = (fraction: number | null): string => (fraction === null ? '—' : `${(fraction * 100).toFixed(fraction === 1 ? 0 : 1)} %`);

/** 12.5 MiB */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (value >= 1_024 && unit < units.length - 1) {
    value /= 1_024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

/** A status word with a colour and a shape, so colour is never the only signal. */
export function badge(label: string, tone: Tone): string {
  const mark = { ok: '●', warn: '▲', bad: '■', idle: '○' }[tone];
  return `<span class="badge ${tone}"><span aria-hidden="true">${mark}</span> ${esc(label)}</span>`;
}
