/** Writes the strategy benchmark's results: JSON (with configuration and machine), Markdown, SVG charts. */
import { BENCH_MODES, DBOMATIC } from './bench-modes.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchReport, ModeResult } from './strategy-bench.js';

export function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${platform()} ${release()}`,
    node: process.version,
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const secs = (ms: number) => (Number.isFinite(ms) ? (ms < 1_000 ? `${fmt(ms)} ms` : `${fmt(ms / 1_000, 1)} s`) : '–');
const pct = (f: number) => `${fmt(f * 100, 1)} %`;
/** Rates keep two significant decimals below 1 (one Deltacloud list every 30 s is 0.03/s, not 0.0). */
const rate = (n: number) => fmt(n, Number.isFinite(n) && n > 0 && n < 1 ? 2 : 1);

export function markdownTable(results: readonly ModeResult[]): string {
  const header = [
    'mode',
    'Heat req/s',
    'Deltacloud req/s',
    'backend req/change',
    'backend KB/s',
    'work units/s',
    'detection p50 / p95 / p99 / max',
    'webhook p50 / p99',
    'missed transitions',
    'missed reboots',
    'stale reads (mean staleness)',
    'read p50 / p99',
    'gateway CPU s',
    'peak RSS MiB',
    'Redis MiB',
  ];
  const rows = results.map((r) => [
    `\`${r.mode}\``,
    rate(r.backend.heat.requestsPerSecond + r.backend.keystone.requestsPerSecond),
    rate(r.backend.deltacloud.requestsPerSecond),
    fmt(r.requestsPerChange, 2),
    fmt(r.backend.total.bytesPerSecond / 1_024, 0),
    rate(r.backend.total.workUnitsPerSecond),
    `${secs(r.detection.p50Ms)} / ${secs(r.detection.p95Ms)} / ${secs(r.detection.p99Ms)} / ${secs(r.detection.maxMs)}`,
    `${secs(r.webhook.p50Ms)} / ${secs(r.webhook.p99Ms)}`,
    `${pct(r.missed.fraction)} (${r.missed.count}/${r.detection.transitions})`,
    `${pct(r.missed.reboots.fraction)} (${r.missed.reboots.missed}/${r.missed.reboots.transitions})`,
    `${pct(r.reads.staleFraction)} (${secs(r.reads.meanStalenessMs)})`,
    `${secs(r.reads.p50Ms)} / ${secs(r.reads.p99Ms)}`,
    fmt(r.gateway.cpuSeconds, 1),
    fmt(r.gateway.peakRssMiB, 0),
    fmt(r.redis.usedMemoryMiB, 1),
  ]);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** One color per mode (in BENCH_MODES order) in every chart, so charts can be read side by side. */
const MODE_PALETTE = ['#1b6ca8', '#00a6a6', '#edae49', '#66a182', '#d1495b', '#2e8b57', '#b5651d', '#8e6c8a'];
const OTHER_COLORS = ['#d1495b', '#555555', '#c17c74', '#3d5a80'];

function colorOf(mode: string, index: number): string {
  // The baseline keeps its color however many strategies come before it.
  const position = mode === DBOMATIC ? MODE_PALETTE.length - 1 : BENCH_MODES.indexOf(mode);
  return position >= 0 && position < MODE_PALETTE.length ? MODE_PALETTE[position]! : OTHER_COLORS[index % OTHER_COLORS.length]!;
}

/** A log-log scatter: detection p99 against total backend requests/s, one labelled point per mode. */
export function latencyVsLoadSvg(results: readonly ModeResult[]): string {
  const points = results
    .map((r) => ({ label: r.mode, x: r.backend.total.requestsPerSecond, y: r.detection.p99Ms / 1_000 }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.x > 0 && p.y > 0);
  return logLogChart({
    title: 'Change detection p99 vs backend load (one point per mode)',
    xLabel: 'backend requests/s (log)',
    yLabel: 'detection p99, s (log)',
    series: points.map((p, i) => ({ name: p.label, color: colorOf(p.label, i), points: [{ x: p.x, y: p.y }] })),
  });
}

export interface SweepPoint {
  instances: number;
  mode: string;
  backendRequestsPerMinute: number;
  detectionP99Ms: number;
}

export function sweepSvgs(points: readonly SweepPoint[]): { requests: string; detection: string } {
  const modes = [...new Set(points.map((p) => p.mode))];
  const series = (value: (p: SweepPoint) => number) =>
    modes.map((mode, i) => ({
      name: mode,
      color: colorOf(mode, i),
      points: points.filter((p) => p.mode === mode).map((p) => ({ x: p.instances, y: value(p) })).filter((p) => Number.isFinite(p.y) && p.y > 0),
    }));
  return {
    requests: logLogChart({ title: 'Backend requests per minute vs instances', xLabel: 'instances (log)', yLabel: 'backend requests/min (log)', series: series((p) => p.backendRequestsPerMinute), lines: true }),
    detection: logLogChart({ title: 'Detection p99 vs instances', xLabel: 'instances (log)', yLabel: 'detection p99, s (log)', series: series((p) => p.detectionP99Ms / 1_000), lines: true }),
  };
}

interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; color: string; points: { x: number; y: number }[] }[];
  lines?: boolean;
}

function logLogChart(chart: Chart): string {
  const W = 720;
  const H = 440;
  const m = { left: 70, right: 190, top: 40, bottom: 55 };
  const all = chart.series.flatMap((s) => s.points);
  const decade = (v: number, up: boolean) => 10 ** (up ? Math.ceil(Math.log10(v)) : Math.floor(Math.log10(v)));
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const x0 = all.length ? decade(Math.min(...xs), false) : 1;
  const x1 = all.length ? Math.max(decade(Math.max(...xs), true), x0 * 10) : 10;
  const y0 = all.length ? decade(Math.min(...ys), false) : 1;
  const y1 = all.length ? Math.max(decade(Math.max(...ys), true), y0 * 10) : 10;
  const sx = (x: number) => m.left + ((Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * (H - m.top - m.bottom);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.right / 2}" y="22" text-anchor="middle" font-size="15">${esc(chart.title)}</text>`,
  ];
  for (let v = x0; v <= x1 * 1.0001; v *= 10) {
    parts.push(`<line x1="${sx(v)}" y1="${m.top}" x2="${sx(v)}" y2="${H - m.bottom}" stroke="#ddd"/>`, `<text x="${sx(v)}" y="${H - m.bottom + 16}" text-anchor="middle">${fmt(v, v < 1 ? 2 : 0)}</text>`);
  }
  for (let v = y0; v <= y1 * 1.0001; v *= 10) {
    parts.push(`<line x1="${m.left}" y1="${sy(v)}" x2="${W - m.right}" y2="${sy(v)}" stroke="#ddd"/>`, `<text x="${m.left - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v, v < 1 ? 2 : 0)}</text>`);
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`,
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 15}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    if (chart.lines && s.points.length > 1) {
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')}"/>`);
    }
    for (const p of s.points) parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="5" fill="${s.color}"/>`);
    const ly = m.top + 10 + i * 20;
    parts.push(`<circle cx="${W - m.right + 18}" cy="${ly}" r="5" fill="${s.color}"/>`, `<text x="${W - m.right + 28}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes `<name>.json`, `<name>.md` and the charts into `dir`; returns the files. */
export function writeBenchReport(dir: string, name: string, report: BenchReport, sweep?: SweepPoint[], at = new Date().toISOString()): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (file: string, text: string) => {
    writeFileSync(join(dir, file), text);
    files.push(join(dir, file));
  };
  const json = { ...report, ...(sweep ? { sweep } : {}), machine: machine(), at };
  write(`${name}.json`, `${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const c = report.config;
  const lines = [
    `# Strategy comparison (${json.at})`,
    '',
    `Machine: ${json.machine.cpus} × ${json.machine.cpuModel}, ${json.machine.memoryGiB} GiB, ${json.machine.platform}, Node ${json.machine.node}.`,
    `Scenario: seed \`${c.seed}\`, ${c.deployments} deployments × ${c.instancesPerDeployment} instances, ${c.changeRate} changes/s (reboots of ${c.rebootWindowMs / 1_000} s included), ${c.durationMs / 1_000} s measured per mode + ${c.graceMs / 1_000} s grace, Conductor reads ${c.readRate}/s.`,
    '',
    markdownTable(report.results),
    '',
  ];
  if (report.results.length > 0) {
    write(`${name}-latency-vs-load.svg`, latencyVsLoadSvg(report.results));
    lines.push(`![detection p99 vs backend load](${name}-latency-vs-load.svg)`, '');
  }
  if (sweep && sweep.length > 0) {
    const svgs = sweepSvgs(sweep);
    write(`${name}-requests.svg`, svgs.requests);
    write(`${name}-detection.svg`, svgs.detection);
    lines.push(
      '## Sweep',
      '',
      '| instances | mode | backend requests/min | detection p99 |',
      '|---|---|---|---|',
      ...sweep.map((p) => `| ${fmt(p.instances)} | \`${p.mode}\` | ${fmt(p.backendRequestsPerMinute)} | ${secs(p.detectionP99Ms)} |`),
      '',
      `![requests vs instances](${name}-requests.svg)`,
      `![detection vs instances](${name}-detection.svg)`,
      '',
    );
  }
  write(`${name}.md`, `${lines.join('\n')}\n`);
  return files;
}
