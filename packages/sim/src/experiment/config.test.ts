import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explicitFlagNames, flagOfKey, jsonErrorLocation, loadSimConfig, mergeConfig, parseSimConfig, SIM_CONFIG_KEYS, SimConfigError } from './config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (name: string, text: string) => {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
};

describe('simConfigFileSchema / loadSimConfig', () => {
  it('has a key for every flock sim flag plus the reserved ones', () => {
    for (const k of ['clients', 'rounds', 'partition', 'seed', 'model', 'data', 'backend', 'epochs', 'batchSize', 'lr', 'momentum', 'fraction', 'timeout', 'trainLimit', 'testLimit', 'workers', 'out'])
      expect(SIM_CONFIG_KEYS).toContain(k);
    for (const k of ['strategy', 'secagg', 'dp', 'dropout', 'straggler', 'bandwidth']) expect(SIM_CONFIG_KEYS).toContain(k);
    expect(flagOfKey('batchSize')).toBe('--batch-size');
  });

  it('loads a valid file', async () => {
    const p = await write('ok.json', JSON.stringify({ clients: 20, rounds: 5, partition: 'dirichlet:0.3', seed: 7, model: 'mlp', batchSize: 64, lr: 0.05, fraction: 0.5, dp: { mode: 'central' } }));
    await expect(loadSimConfig(p)).resolves.toEqual({ clients: 20, rounds: 5, partition: 'dirichlet:0.3', seed: 7, model: 'mlp', batchSize: 64, lr: 0.05, fraction: 0.5, dp: { mode: 'central' } });
  });

  it('names an unknown key, suggests the close one and lists the valid keys', async () => {
    const p = await write('unknown.json', '{"clients": 3, "batch_size": 16}');
    const e = await loadSimConfig(p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SimConfigError);
    const msg = (e as Error).message;
    expect(msg).toContain('unknown key "batch_size"');
    expect(msg).toContain('did you mean "batchSize"');
    expect(msg).toContain('valid keys: clients, rounds, partition');
    expect(msg).toContain(p);
  });

  it('names the key and flag of a wrong type or range', () => {
    expect(() => parseSimConfig('{"rounds": "ten"}', 'c.json')).toThrow(/"rounds" \(--rounds\): .*got the string "ten"/);
    expect(() => parseSimConfig('{"clients": 0}')).toThrow(/"clients" \(--clients\)/);
    expect(() => parseSimConfig('{"batchSize": 1.5}')).toThrow(/"batchSize" \(--batch-size\)/);
    expect(() => parseSimConfig('{"model": "resnet"}')).toThrow(/"model".*mlp/);
    expect(parseSimConfig('{"out": true, "strategy": "fedprox:mu=0.01"}')).toEqual({ out: true, strategy: 'fedprox:mu=0.01' });
    expect(() => parseSimConfig('{"out": false}')).toThrow(/"out" \(--out\)/);
    expect(() => parseSimConfig('{"partition": "dirichlet"}')).toThrow(/"partition" \(--partition\): .*needs a parameter/);
    expect(() => parseSimConfig('{"rounds": "x", "lr": -1}')).toThrow(/2 problems:[\s\S]*"rounds"[\s\S]*"lr"/);
  });

  it('takes the DP and SecAgg companion flags, so a run directory\'s config.json (delta and clip always) reloads', () => {
    const all = { dp: 'central', noiseMultiplier: 1.1, delta: 1e-5, clip: 1, adaptiveClip: 0.5, secagg: true, secaggK: 4, secaggT: 3 };
    expect(parseSimConfig(JSON.stringify(all))).toEqual(all);
    expect(parseSimConfig('{"epsilon": 2}')).toEqual({ epsilon: 2 });
    expect(() => parseSimConfig('{"delta": 1}')).toThrow(/"delta" \(--delta\)/);
    expect(() => parseSimConfig('{"secaggK": 1}')).toThrow(/"secaggK" \(--secagg-k\)/);
  });

  it('checks the straggler and bandwidth specs with their parsers', () => {
    expect(parseSimConfig('{"straggler": "lognormal:800ms,0.5,frac=0.2", "bandwidth": "up=1mbit,down=10mbit"}')).toEqual({ straggler: 'lognormal:800ms,0.5,frac=0.2', bandwidth: 'up=1mbit,down=10mbit' });
    expect(() => parseSimConfig('{"straggler": "lognormal:800"}')).toThrow(/"straggler" \(--straggler\): .*missing sigma/);
    expect(() => parseSimConfig('{"straggler": 800}')).toThrow(/"straggler" \(--straggler\)/);
    expect(() => parseSimConfig('{"bandwidth": "up=10"}')).toThrow(/"bandwidth" \(--bandwidth\): .*needs a unit/);
    expect(() => parseSimConfig('{"bandwidth": {"up": 1000000}}')).toThrow(/"bandwidth" \(--bandwidth\)/);
  });

  it('reports invalid JSON with line and column', async () => {
    const p = await write('bad.json', '{\n  "clients": 3,\n  "rounds": \n}\n');
    const e = (await loadSimConfig(p).catch((x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(SimConfigError);
    expect(e.message).toContain(`${p}:4:1: invalid JSON`);
    expect(jsonErrorLocation('{"a": 1,}')).toEqual({ offset: 8, line: 1, column: 9 });
    expect(jsonErrorLocation('{"a": [1, 2], "b": "x\\u00e9"}')).toBeUndefined();
    expect(() => parseSimConfig('[1, 2]')).toThrow(/one JSON object/);
  });

  it('reports a missing file and a directory', async () => {
    await expect(loadSimConfig(join(dir, 'nope.json'))).rejects.toThrow(/config file not found: .*nope\.json/);
    await mkdir(join(dir, 'adir'), { recursive: true });
    await expect(loadSimConfig(join(dir, 'adir'))).rejects.toThrow(/is a directory/);
    await expect(loadSimConfig('')).rejects.toThrow(TypeError);
  });
});

describe('mergeConfig', () => {
  it('typed flags beat the file, the file beats defaults', () => {
    const defaults = { clients: 10, rounds: 10, seed: 1, lr: 0.1 };
    const merged = mergeConfig({ clients: 50, rounds: 3, lr: 0.01 }, { ...defaults, rounds: 8 }, ['rounds']);
    expect(merged).toEqual({ clients: 50, rounds: 8, seed: 1, lr: 0.01 });
  });

  it('finds typed flags through commander-like sources', () => {
    const cmd = {
      options: ['clients', 'rounds', 'seed'].map((n) => ({ attributeName: () => n })),
      getOptionValueSource: (n: string) => ({ clients: 'default', rounds: 'cli', seed: 'env' })[n],
    };
    expect(explicitFlagNames(cmd)).toEqual(['rounds', 'seed']);
  });
});
