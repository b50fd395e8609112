/**
 * Charts as inline SVG drawn on the server: fixed viewBoxes (so an update never moves the
 * layout), colours from the stylesheet's classes (so dark mode and the CSP need no inline
 * styles), and a text alternative on every chart.
 */
import { count, esc, rate } from './status-format.js';

/**
 * A sparkline of `values` (oldest first) with its area; `label` is read out by screen readers.
 * The vertical scale starts at 0 and ends at the largest value (or 1 when all are 0).
 */
export function sparkline(values: number[], label: string, options: { width?: number; height?: number } = {}): string {
  const width = options.width ?? 120;
  const height = options.height ?? 28;
  const max = Math.max(1e-9, ...values);
  const points = values.length > 1 ? values : [values[0] ?? 0, values[0] ?? 0];
  const step = width / (points.length - 1);
  const y = (v: number) => (height - 2 - (v / max) * (height - 4)).toFixed(1);
  const line = points.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(' ');
  const area = `0,${height} ${line} ${width},${height}`;
  return (
    `<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(label)}">` +
    `<title>${esc(label)}</title>` +
    `<polygon class="spark-area" points="${area}"/><polyline class="spark-line" points="${line}"/></svg>`
  );
}

export interface Bar {
  label: string;
  value: number;
  /** Stylesheet class giving the bar its colour. */
  tone: string;
}

/** A horizontal bar chart with the labels and values written beside the bars. */
export function barChart(bars: Bar[], title: string): string {
  const width = 360;
  const rowHeight = 26;
  const labelWidth = 64;
  const valueWidth = 70;
  const height = bars.length * rowHeight + 4;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const total = bars.reduce((sum, b) => sum + b.value, 0);
  const span = width - labelWidth - valueWidth;
  const rows = bars
    .map((bar, i) => {
      const top = i * rowHeight + 4;
      const barWidth = bar.value === 0 ? 0 : Math.max(2, (bar.value / max) * span);
      const share = total > 0 ? ` (${Math.round((bar.value / total) * 100)} %)` : '';
      return (
        `<text class="chart-label" x="0" y="${top + 14}">${esc(bar.label)}</text>` +
        `<rect class="chart-track" x="${labelWidth}" y="${top}" width="${span}" height="18" rx="3"/>` +
        `<rect class="bar ${esc(bar.tone)}" x="${labelWidth}" y="${top}" width="${barWidth.toFixed(1)}" height="18" rx="3"/>` +
        `<text class="chart-value" x="${width}" y="${top + 14}" text-anchor="end">${count(bar.value)}${share}</text>`
      );
    })
    .join('');
  const summary = `${title}: ${bars.map((b) => `${b.label} ${count(b.value)}`).join(', ')}`;
  return `<svg class="bars" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(summary)}"><title>${esc(summary)}</title>${rows}</svg>`;
}

/** A sparkline for a rate series, labelled with its newest value and its maximum. */
export function rateSparkline(values: number[], what: string): string {
  const latest = values.at(-1) ?? 0;
  const max = values.length ? Math.max(...values) : 0;
  return sparkline(values, `${what}: now ${rate(latest)}/s, peak ${rate(max)}/s over the last ${values.length} samples`);
}
