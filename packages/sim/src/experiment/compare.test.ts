import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRuns, differingKeys } from './compare.js';
import { parseMetricsJsonl, readRun } from './metrics.js';
import { plotRuns } from './plot.js';

let dir: string;
const fakeRun = async (name: string, config: Record<string, unknown>, accs: number[], summary?: Record<string, unknown>) => {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'config.json'), JSON.stringify(config));
  await writeFile(join(d, 'metrics.jsonl'), accs.map((a, i) => JSON.stringify({ round: i + 1, accuracy: a, loss: 2 - a * 2, participants: 10 })).join('\n') + '\n');
  if (summary) await writeFile(join(d, 'summary.json'), JSON.stringify(summary));
  return d;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-compare-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compareRuns', () => {
  it('tables two runs and writes the overlay plot', async () => {
    const a = await fakeRun('iid', { clients: 10, partition: 'iid', seed: 1 }, [0.6, 0.72, 0.78, 0.8], { status: 'finished', wallSeconds: 12.3 });
    const b = await fakeRun('dirichlet', { clients: 10, partition: 'dirichlet:0.1', seed: 1 }, [0.4, 0.61, 0.58, 0.6]);
    const res = await compareRuns([a, b], { out: join(dir, 'cmp.svg'), metric: 'accuracy' });
    expect(res.rows.map((r) => [r.name, r.rounds, r.finalAccuracy, r.bestAccuracy, r.bestRound, r.wallSeconds, r.status])).toEqual([
      ['iid', 4, 0.8, 0.8, 4, 12.3, 'finished'],
      ['dirichlet', 4, 0.6, 0.61, 2, null, 'incomplete'],
    ]);
    expect(res.rows[1]!.differs).toEqual({ partition: 'dirichlet:0.1' });
    const lines = res.table.split('\n');
    expect(lines[0]).toMatch(/^run\s+partition\s+rounds\s+final acc\s+best acc \(round\)\s+final loss\s+wall s\s+status$/);
    expect(lines[1]).toMatch(/^iid\s+iid\s+4\s+0\.8000\s+0\.8000 \(4\)\s+0\.4000\s+12\.3\s+finished$/);
    expect(lines[2]).toContain('0.6100 (2)');
    const svg = await readFile(join(dir, 'cmp.svg'), 'utf8');
    expect(svg).toContain('test accuracy');
    expect(svg).toContain('dirichlet');
    expect((await readFile(join(dir, 'cmp.png'))).subarray(1, 4).toString()).toBe('PNG');
    const loss = await plotRuns([a, b], join(dir, 'cmp-loss'), { metric: 'loss' });
    expect(await readFile(loss.svg, 'utf8')).toContain('test loss');
  });

  it('names a directory that is not a run directory', async () => {
    await mkdir(join(dir, 'empty'), { recursive: true });
    await expect(compareRuns([join(dir, 'empty')])).rejects.toThrow(/empty: not a run directory \(no metrics\.jsonl\)/);
    await expect(compareRuns([join(dir, 'missing')])).rejects.toThrow(/missing: no such directory/);
    await writeFile(join(dir, 'file.txt'), 'x');
    await expect(readRun(join(dir, 'file.txt'))).rejects.toThrow(/not a directory/);
    await expect(compareRuns([])).rejects.toThrow(TypeError);
  });

  it('reads metrics lines: null fields, torn last line, bad lines', () => {
    expect(parseMetricsJsonl('{"round":1,"accuracy":0.5}\n{"round":2,"acc')).toEqual([
      { round: 1, modelVersion: null, accuracy: 0.5, loss: null, participants: null, dropouts: null, bytesUp: null, bytesDown: null, roundSeconds: null, epsilon: null, stragglers: null, late: null, meanDelayMs: null },
    ]);
    expect(() => parseMetricsJsonl('nope\n{"round":1}\n', 'm.jsonl')).toThrow(/m\.jsonl:1: not JSON/);
    expect(() => parseMetricsJsonl('{"round":0}\n')).toThrow(/positive integer/);
    expect(differingKeys([{ a: 1, b: 2 }, { a: 1, b: 3 }, null])).toEqual(['a', 'b']);
  });
});
