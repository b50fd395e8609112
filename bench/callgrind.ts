/**
 * Redis under callgrind, for counting what it executes: instructions are the same on every
 * run of the same code and inputs, whatever else the machine is doing, where its clock on
 * shared cores swings by half (docs/benchmarks.md). The server starts with instrumentation
 * off (valgrind still runs it, several times slower); `on()` and `off()` bracket what is
 * counted, and `instructions()` dumps the count so far.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';

export interface CallgrindRedis {
  server: LocalRedisServer;
  on(): void;
  off(): void;
  /** Instructions executed while on, over the whole run so far. */
  instructions(): number;
}

/** Starts a private redis-server under `valgrind --tool=callgrind`, its output files in `dir`. */
export async function startCallgrindRedis(dir: string): Promise<CallgrindRedis> {
  const server = await LocalRedisServer.start({
    command: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'callgrind.out')}`],
    startTimeoutMs: 60_000,
  });
  const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(server.pid)], { stdio: 'ignore' });
  return {
    server,
    on: () => control('-i', 'on'),
    off: () => control('-i', 'off'),
    instructions: () => {
      control('-d');
      const dumps = readdirSync(dir).filter((f) => /^callgrind\.out\.\d+$/.test(f)).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
      const text = readFileSync(join(dir, dumps.at(-1)!), 'utf8');
      // totals, not summary: with instrumentation toggled, callgrind writes a summary of 0.
      const totals = /^totals: (\d+)/m.exec(text);
      if (!totals) throw new Error(`no instruction count in ${dumps.at(-1)}`);
      return Number(totals[1]);
    },
  };
}
