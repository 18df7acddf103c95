import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionSummary } from '../partition/index.js';
import { parseSimConfig } from './config.js';
import { readRun, RunDirError } from './metrics.js';
import { RunRecorder } from './run-dir.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-rundir-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 10);
const parts = [Uint32Array.from({ length: 20 }, (_, i) => i), Uint32Array.from({ length: 20 }, (_, i) => 20 + i)];

describe('RunRecorder', () => {
  it('writes config, partition, metrics, summary and plots', async () => {
    const rec = await RunRecorder.create(join(dir, 'run1'));
    rec.writeConfig({ clients: 2, rounds: 3, partition: 'iid', seed: 1, model: 'mlp', lr: 0.1, data: undefined, json: true, quiet: false, out: 'x' });
    rec.onProgress({ type: 'setup', backend: 'cpu', dataSource: 'test', trainExamples: 40, testExamples: 10, partition: partitionSummary(labels, parts, 10), url: 'http://127.0.0.1:1' });
    for (let r = 1; r <= 3; r++) rec.onProgress({ type: 'round', round: r, rounds: 3, modelVersion: r, accuracy: 0.5 + r / 10, loss: 1.5 - r / 5, participants: 2, dropouts: 0, bytesUp: 100, bytesDown: 200, seconds: 0.25, status: 'committed' });
    rec.recordRound({ round: 3, accuracy: 0 }); // duplicate: ignored
    const res = await rec.finish({ rounds: 3, accuracy: 0.8, loss: 0.9, wallSeconds: 1.5, backend: 'cpu', modelHash: 'abc' });
    expect(res.warnings).toEqual([]);
    expect((await readdir(rec.dir)).sort()).toEqual(
      ['accuracy.png', 'accuracy.svg', 'config.json', 'loss.png', 'loss.svg', 'metrics.jsonl', 'partition.json', 'partition.txt', 'summary.json'].sort(),
    );
    // config.json is itself a valid --config file
    const config = parseSimConfig(await readFile(join(rec.dir, 'config.json'), 'utf8'));
    expect(config).toEqual({ clients: 2, rounds: 3, partition: 'iid', seed: 1, model: 'mlp', lr: 0.1 });
    const lines = (await readFile(join(rec.dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(Object.keys(lines[0])).toEqual(['round', 'modelVersion', 'accuracy', 'loss', 'participants', 'dropouts', 'bytesUp', 'bytesDown', 'roundSeconds', 'epsilon', 'stragglers', 'late', 'meanDelayMs']);
    expect(lines[1]).toMatchObject({ round: 2, modelVersion: 2, accuracy: 0.7, participants: 2, roundSeconds: 0.25, dropouts: 0, bytesUp: 100, bytesDown: 200, epsilon: null, stragglers: null, late: null, meanDelayMs: null });
    expect(await readFile(join(rec.dir, 'partition.txt'), 'utf8')).toMatch(/T-shirt/);
    const summary = JSON.parse(await readFile(join(rec.dir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'finished', rounds: 3, accuracy: 0.8, bestAccuracy: 0.8, bestRound: 3, backend: 'cpu', wallSeconds: 1.5 });
    const run = await readRun(rec.dir);
    expect(run.metrics).toHaveLength(3);
    expect(run.name).toBe('run1');
    await expect(rec.finish()).rejects.toThrow(/already finished/);
  });

  it('refuses a non-empty directory and a file, accepts an empty one', async () => {
    await mkdir(join(dir, 'full'), { recursive: true });
    await writeFile(join(dir, 'full', 'x'), 'x');
    const e = await RunRecorder.create(join(dir, 'full')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunDirError);
    expect((e as RunDirError).code).toBe('RUN_DIR_EXISTS');
    expect((e as Error).message).toMatch(/already exists and is not empty/);
    await expect(RunRecorder.create(join(dir, 'full', 'x'))).rejects.toThrow(/not a directory/);
    await mkdir(join(dir, 'empty'));
    await expect(RunRecorder.create(join(dir, 'empty'))).resolves.toBeInstanceOf(RunRecorder);
  });

  it('makes a new timestamped directory under runs/ by default, never reusing one', async () => {
    const now = new Date('2026-11-25T15:20:03.456Z');
    const a = await RunRecorder.create(undefined, { cwd: dir, now, label: 'sim-s1' });
    const b = await RunRecorder.create(true, { cwd: dir, now, label: 'sim-s1' });
    expect(a.dir).toBe(join(dir, 'runs', '2026-11-25T15-20-03-sim-s1'));
    expect(b.dir).toBe(join(dir, 'runs', '2026-11-25T15-20-03-sim-s1-2'));
  });

  it('records a failed run', async () => {
    const rec = await RunRecorder.create(join(dir, 'failed'));
    rec.recordRound({ round: 1, accuracy: 0.3, loss: 2 });
    await rec.fail(new Error('coordinator died'));
    const run = await readRun(rec.dir);
    expect(run.summary).toMatchObject({ status: 'failed', error: 'coordinator died', rounds: 1 });
  });
});
