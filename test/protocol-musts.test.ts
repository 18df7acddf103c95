/**
 * Keeps protocol/v1.md 15.3 honest: every MUST / MUST NOT of protocol/v1.md and
 * protocol/secagg.md has a row in its section, every row names a test that exists in the
 * default suite (or says why it is untested), and the summary counts are right. Also: the
 * error codes a v1 coordinator may send are exactly those errors.md documents (v1.md 13).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@flock/protocol';

const root = new URL('../', import.meta.url);
const read = (p: string): string => readFileSync(new URL(p, root), 'utf8');

/** MUST / MUST NOT occurrences per section ("2.1", "secagg 2.1"), outside v1.md 15 and the RFC 2119 key-words line. */
function mustsBySection(file: string, prefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  let section = '0';
  for (const line of read(file).split('\n')) {
    const h = /^#{2,4} (\d+(?:\.\d+)*[a-z]?)\.? /.exec(line);
    if (h) section = h[1]!;
    if (/key words/i.test(line) || (prefix === '' && section.split('.')[0] === '15')) continue;
    const n = line.match(/\bMUST\b/g)?.length ?? 0;
    if (n > 0) counts.set(prefix + section, (counts.get(prefix + section) ?? 0) + n);
  }
  return counts;
}

interface Row {
  id: string;
  section: string;
  requirement: string;
  checkedBy: string;
}

function table(): Row[] {
  const v1 = read('protocol/v1.md');
  const at = v1.indexOf('### 15.3');
  expect(at).toBeGreaterThan(0);
  return v1
    .slice(at)
    .split('\n')
    .filter((l) => /^\| (v1|sa)-\d+ \|/.test(l))
    .map((l) => {
      const [id, section, requirement, checkedBy] = l.slice(2, -2).split(' | ');
      return { id: id!, section: section!, requirement: requirement!, checkedBy: checkedBy! };
    });
}

describe('the MUST table of protocol/v1.md 15.3', () => {
  it('every MUST of protocol/v1.md and protocol/secagg.md has a row in the table of 15.3, section by section', () => {
    const expected = new Map([...mustsBySection('protocol/v1.md', ''), ...mustsBySection('protocol/secagg.md', 'secagg ')]);
    const rows = table();
    const listed = new Map<string, number>();
    for (const r of rows) listed.set(r.section, (listed.get(r.section) ?? 0) + 1);
    expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(expected));
    // Row ids are sequential per document.
    expect(rows.filter((r) => r.id.startsWith('v1-')).map((r) => r.id)).toEqual(rows.filter((r) => r.id.startsWith('v1-')).map((_, i) => `v1-${i + 1}`));
    expect(rows.filter((r) => r.id.startsWith('sa-')).map((r) => r.id)).toEqual(rows.filter((r) => r.id.startsWith('sa-')).map((_, i) => `sa-${i + 1}`));
  });

  it('every test a row names exists in the default suite; untested rows give a reason; the summary counts are right', () => {
    const rows = table();
    let untested = 0;
    for (const r of rows) {
      const refs = [...r.checkedBy.matchAll(/`([^`]+\.test\.ts)` › `([^`]+)`/g)];
      if (r.checkedBy.startsWith('untested: ')) {
        untested++;
        expect(r.checkedBy.length, r.id).toBeGreaterThan(20);
      } else {
        expect(refs.length, `${r.id} names no test`).toBeGreaterThan(0);
      }
      for (const [, file, name] of refs) {
        expect(existsSync(new URL(file!, root)), `${r.id}: ${file}`).toBe(true);
        expect(file, `${r.id}: slow tests are not in the default suite`).not.toMatch(/\.slow\.test\.ts$/);
        const source = read(file!).replace(/\\'/g, "'");
        expect(source.includes(name!), `${r.id}: no test named "${name}" in ${file}`).toBe(true);
      }
    }
    const v1 = rows.filter((r) => r.id.startsWith('v1-')).length;
    const summary = `${rows.length} requirements (${v1} in this document, ${rows.length - v1} in secagg.md): ${rows.length - untested} checked by a test, ${untested} untested (the reason is given).`;
    expect(read('protocol/v1.md')).toContain(summary);
  });
});

describe('error codes (protocol/v1.md 13)', () => {
  it('errors.md lists exactly the v1 error codes', () => {
    const doc = read('docs/reference/errors.md');
    const section = doc.slice(doc.indexOf('## Codes'), doc.indexOf('## Not error codes'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
