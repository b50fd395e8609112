import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { launcherNodeFlags } from '../../../src/bench/gateway-process.js';

/** What a script run by the launcher line reports: node's flags and the largest its young generation grew. */
const PROBE = `
import v8 from 'node:v8';
let keep = [], max = 0;
for (let r = 0; r < 120; r++) {
  const batch = [];
  for (let i = 0; i < 50000; i++) batch.push({ a: i, b: 'x' + i });
  keep.push(batch);
  if (keep.length > 4) keep.shift();
  max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
}
console.log(JSON.stringify({ execArgv: process.execArgv, newSpaceMiB: max / 1048576 }));
`;

describe('the heat-gateway launcher line', () => {
  const line = readFileSync('src/cli.ts', 'utf8').split('\n', 1)[0]!;

  it('gives node a 32 MB semi-space, and benchmarks read the same flags from it', () => {
    expect(line).to.equal('#!/usr/bin/env -S node --max-semi-space-size=32');
    expect(launcherNodeFlags()).to.deep.equal(['--max-semi-space-size=32']);
  });

  it('runs node with those flags on this machine, and V8 grows its young generation past its default', function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'hgw-launcher-'));
    try {
      const script = join(dir, 'probe.mjs');
      writeFileSync(script, PROBE);
      // As the kernel runs a script with a #! line: the interpreter, the rest of the line as one argument, the script.
      const [interpreter, ...rest] = line.slice(2).split(' ');
      const run = spawnSync(interpreter!, [rest.join(' '), script], { encoding: 'utf8' });
      expect(run.status, run.stderr).to.equal(0);
      const probe = JSON.parse(run.stdout) as { execArgv: string[]; newSpaceMiB: number };
      expect(probe.execArgv).to.deep.equal(['--max-semi-space-size=32']);
      // Two semi-spaces: V8's default stops at 2 × 16 MB; with the flag the space grows to 2 × 32.
      expect(probe.newSpaceMiB).to.be.greaterThan(32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
