import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Privacy code must draw randomness from crypto only (DESIGN.md section 5). This scans
// all of packages/privacy/src, not just dp/, skipping test files (which may mention it).
const root = fileURLToPath(new URL('../', import.meta.url));

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|js|mjs|cjs)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(p);
  }
  return out;
}

describe('randomness hygiene', () => {
  it('no Math.random( in packages/privacy/src outside test files', () => {
    const files = sourceFiles(root);
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.filter((f) => readFileSync(f, 'utf8').includes('Math.random('));
    expect(offenders).toEqual([]);
  });
});
