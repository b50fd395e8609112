import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';

/**
 * In a fresh process: the semi-space's size (MiB) when src/young-generation.ts has loaded,
 * and after `gc.youngGeneration` is applied and an allocation-heavy loop has run (a share
 * of it kept alive a while, so V8 sees survivors and would grow its young generation).
 */
function semiSpaceBeforeAndAfterLoad(setting: 'small' | 'v8'): { before: number; after: number } {
  const code = `
    import { applyYoungGeneration, semiSpaceBytes } from './src/young-generation.ts';
    const before = semiSpaceBytes() / 1024 / 1024;
    applyYoungGeneration(${JSON.stringify(setting)});
    const kept = [];
    for (let i = 0; i < 3_000_000; i++) {
      const o = { id: 'x' + i, list: [i, i + 1] };
      if (i % 50 === 0) { kept.push(o); if (kept.length > 20_000) kept.shift(); }
    }
    process.stdout.write(JSON.stringify({ before, after: semiSpaceBytes() / 1024 / 1024 }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' })) as { before: number; after: number };
}

describe('gc.youngGeneration', function () {
  this.timeout(60_000);

  it('v8: V8 grows the semi-space under load (what small prevents)', () => {
    const { before, after } = semiSpaceBeforeAndAfterLoad('v8');
    expect(after).to.be.greaterThan(before);
  });

  it('small: the semi-space stays where it was when the module loaded, under the same load', () => {
    const { before, after } = semiSpaceBeforeAndAfterLoad('small');
    expect(after).to.equal(before);
  });

  it('the command line loads src/young-generation.ts before anything else (loading grows the semi-space)', () => {
    const imports = readFileSync('src/cli.ts', 'utf8')
      .split('\n')
      .filter((line) => /^\s*(import|await import)\b/.test(line));
    expect(imports[0]).to.equal("import './young-generation.js';");
    // Everything else comes through a dynamic import, after the module above has run.
    expect(imports.slice(1).every((line) => line.startsWith('await import('))).to.equal(true);
  });
});
