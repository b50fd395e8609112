import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('house rules', () => {
  it('no source file in src/ or strategies/ is over 350 lines (split by responsibility)', () => {
    const long = [...sourceFiles('src'), ...sourceFiles('strategies')]
      .map((file) => ({ file, lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 350);
    expect(long).to.deep.equal([]);
  });
});
