/**
 * `gc.youngGeneration`: how large V8 lets its young generation (the semi-space) grow.
 *
 * Each young-generation collection (a scavenge) stops the process for as long as it takes
 * to copy what survives, and what survives grows with the semi-space. V8 starts it at 1 MB
 * and doubles it under a steady load up to 16 MB. At 1,000 webhook deliveries/s a 16 MB
 * semi-space gave scavenges of 5–13 ms every ~180 ms — the whole tail of a delivery's
 * latency — and a 1 MB one gave 1–2 ms pauses for about the same total GC time
 * (docs/benchmarks.md). A large one suits a replica that mostly ingests big notification
 * lists (fewer scavenges, less CPU per change), hence a setting:
 * - `small` (the default): held at V8's initial 1 MB;
 * - `v8`: V8's own sizing, up to 16 MB or `NODE_OPTIONS=--max-semi-space-size=N`.
 *
 * `--max-semi-space-size` is fixed when the process starts, so a config file cannot set it.
 * What V8 does read each time it would grow the semi-space is its growth factor (and nowhere
 * else). Loading the gateway's modules alone would grow the semi-space to 16 MB, so this
 * module, imported first by the command line, sets the factor to 1 before anything else
 * runs; once the config is read, `v8` gives V8 its factor back.
 */
import v8 from 'node:v8';
import type { Logger } from './log/logger.js';

export type YoungGeneration = 'small' | 'v8';

const MiB = 1024 * 1024;

/** The semi-space's current size in bytes (half of V8's `new_space`). */
export function semiSpaceBytes(): number {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return (space?.space_size ?? 0) / 2;
}

/** V8's own growth factor. */
const V8_GROWTH_FACTOR = 2;

// Held from the start (see above); applyYoungGeneration releases it for `v8`.
v8.setFlagsFromString('--semi-space-growth-factor=1');

/** Applies `gc.youngGeneration` to this process once its config is read. */
export function applyYoungGeneration(setting: YoungGeneration, logger?: Logger): void {
  if (setting === 'v8') {
    v8.setFlagsFromString(`--semi-space-growth-factor=${V8_GROWTH_FACTOR}`);
    return;
  }
  const semiSpaceMiB = semiSpaceBytes() / MiB;
  // Started larger (NODE_OPTIONS=--min-semi-space-size, or imported late): it stays there.
  if (semiSpaceMiB > 1) logger?.warn('gc.youngGeneration is small, but the semi-space is already larger and stays so', { semiSpaceMiB });
  else logger?.debug('young generation held small', { semiSpaceMiB });
}
