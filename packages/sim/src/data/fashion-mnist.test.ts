import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetNotFoundError } from './errors.js';
import { FASHION_MNIST_SUBSET_DIR, loadFashionMnist, resolveFashionMnistDir } from './fashion-mnist.js';
import { writeIdxFile } from './idx.js';

let root: string;
const NOWHERE = '/nonexistent/flock-test';

/** Writes four valid IDX files with `n` examples of `size`x`size` images whose pixels all equal `fill`. */
async function fakeDataset(dir: string, options: { n?: number; size?: number; fill?: number; plain?: boolean; only?: string[] } = {}): Promise<string> {
  const { n = 4, size = 28, fill = 0, plain = false } = options;
  await mkdir(dir, { recursive: true });
  const ext = plain ? '' : '.gz';
  const files: Array<[string, { dims: number[]; data: Uint8Array }]> = [
    ['train-images-idx3-ubyte', { dims: [n, size, size], data: new Uint8Array(n * size * size).fill(fill) }],
    ['train-labels-idx1-ubyte', { dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }],
    ['t10k-images-idx3-ubyte', { dims: [n, size, size], data: new Uint8Array(n * size * size).fill(fill) }],
    ['t10k-labels-idx1-ubyte', { dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }],
  ];
  for (const [name, arr] of files) {
    if (options.only && !options.only.includes(name)) continue;
    await writeIdxFile(join(dir, name + ext), arr, { gzip: !plain });
  }
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flock-fmnist-'));
  await fakeDataset(join(root, 'explicit'), { fill: 1 });
  await fakeDataset(join(root, 'env'), { fill: 2, plain: true });
  await fakeDataset(join(root, 'envroot', 'fashion-mnist'), { fill: 3 });
  await fakeDataset(join(root, 'system'), { fill: 4 });
  await fakeDataset(join(root, 'partial'), { only: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'] });
  await mkdir(join(root, 'empty'));
  await fakeDataset(join(root, 'small'), { size: 3 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('resolveFashionMnistDir', () => {
  const system = () => join(root, 'system');

  it('prefers the explicit directory', () => {
    const r = resolveFashionMnistDir(join(root, 'explicit'), { env: { FLOCK_DATA: join(root, 'env') }, systemDir: system() });
    expect(r).toMatchObject({ dir: join(root, 'explicit'), source: 'explicit', isSubset: false });
    expect(r.files.train.images).toBe(join(root, 'explicit', 'train-images-idx3-ubyte.gz'));
  });

  it('errors when the explicit directory is missing or incomplete (no fallback)', () => {
    expect(() => resolveFashionMnistDir(join(root, 'nope'), { systemDir: system() })).toThrow(DatasetNotFoundError);
    expect(() => resolveFashionMnistDir(join(root, 'nope'), { systemDir: system() })).toThrow(/directory does not exist/);
    expect(() => resolveFashionMnistDir(join(root, 'partial'), { systemDir: system() })).toThrow(/missing t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz/);
    expect(() => resolveFashionMnistDir(42 as unknown as string)).toThrow(TypeError);
  });

  it('then FLOCK_DATA (the directory itself or its fashion-mnist subdirectory)', () => {
    const r = resolveFashionMnistDir(undefined, { env: { FLOCK_DATA: join(root, 'env') }, systemDir: system() });
    expect(r).toMatchObject({ dir: join(root, 'env'), source: 'env', isSubset: false });
    expect(r.files.test.labels).toBe(join(root, 'env', 't10k-labels-idx1-ubyte')); // plain files accepted
    expect(r.description).toContain('FLOCK_DATA');
    const sub = resolveFashionMnistDir(undefined, { env: { FLOCK_DATA: join(root, 'envroot') }, systemDir: system() });
    expect(sub.dir).toBe(join(root, 'envroot', 'fashion-mnist'));
  });

  it('reads process.env by default', () => {
    const before = process.env.FLOCK_DATA;
    process.env.FLOCK_DATA = join(root, 'env');
    try {
      expect(resolveFashionMnistDir(undefined, { systemDir: system() }).source).toBe('env');
    } finally {
      if (before === undefined) delete process.env.FLOCK_DATA;
      else process.env.FLOCK_DATA = before;
    }
  });

  it('falls through a FLOCK_DATA without the files to the system directory, and says why', () => {
    const r = resolveFashionMnistDir(undefined, { env: { FLOCK_DATA: join(root, 'empty') }, systemDir: system() });
    expect(r).toMatchObject({ dir: system(), source: 'system', isSubset: false });
    expect(r.skipped.map((s) => s.dir)).toEqual([join(root, 'empty', 'fashion-mnist'), join(root, 'empty')]);
    expect(r.skipped[1]!.reason).toMatch(/FLOCK_DATA=.*missing train-images-idx3-ubyte\.gz/);
  });

  it('then the shipped subset, and errors only when nothing is found', () => {
    const r = resolveFashionMnistDir(undefined, { env: {}, systemDir: NOWHERE });
    expect(r).toMatchObject({ dir: FASHION_MNIST_SUBSET_DIR, source: 'subset', isSubset: true });
    expect(r.skipped).toEqual([{ dir: NOWHERE, reason: 'directory does not exist' }]);
    expect(r.description).toMatch(/subset/);
    const other = resolveFashionMnistDir(undefined, { env: { FLOCK_DATA: '' }, systemDir: NOWHERE, subsetDir: join(root, 'system') });
    expect(other.source).toBe('subset');
    expect(() => resolveFashionMnistDir(undefined, { env: {}, systemDir: NOWHERE, subsetDir: join(root, 'empty') })).toThrow(/Fashion-MNIST not found\. Looked in/);
  });
});

describe('loadFashionMnist', () => {
  it('loads the shipped subset: 8,000 train and 2,000 test, class-balanced, pixels in [0,1]', async () => {
    const where = { env: {}, systemDir: NOWHERE };
    for (const [split, total, perClass] of [['train', 8000, 800], ['test', 2000, 200]] as const) {
      const d = await loadFashionMnist({ split, resolve: where });
      expect(d).toMatchObject({ count: total, source: 'subset', isSubset: true });
      expect(d.images.length).toBe(total * 784);
      expect(d.labels.length).toBe(total);
      const counts = new Array(10).fill(0);
      for (const y of d.labels) counts[y]++;
      expect(counts).toEqual(new Array(10).fill(perClass));
      let min = Infinity;
      let max = -Infinity;
      for (const v of d.images) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBe(0);
      expect(max).toBe(1);
    }
    const few = await loadFashionMnist({ split: 'test', limit: 5, resolve: where });
    expect(few.count).toBe(5);
    expect(few.images.length).toBe(5 * 784);
  });

  it('loads from an explicit directory and scales pixels', async () => {
    const d = await loadFashionMnist({ split: 'train', dir: join(root, 'explicit') });
    expect(d).toMatchObject({ count: 4, source: 'explicit', isSubset: false, dir: join(root, 'explicit') });
    expect(d.images[0]).toBeCloseTo(1 / 255, 7);
    expect(Array.from(d.labels)).toEqual([0, 1, 2, 3]);
  });

  it('checks its inputs and the image size', async () => {
    await expect(loadFashionMnist({ split: 'val' as 'train' })).rejects.toThrow(RangeError);
    await expect(loadFashionMnist({ split: 'train', limit: 0 })).rejects.toThrow(/limit/);
    await expect(loadFashionMnist({ split: 'train', dir: 3 as unknown as string })).rejects.toThrow(TypeError);
    await expect(loadFashionMnist({ split: 'train', dir: join(root, 'small') })).rejects.toThrow(/3x3 images/);
    await expect(loadFashionMnist({ split: 'train', dir: join(root, 'nope') })).rejects.toBeInstanceOf(DatasetNotFoundError);
  });
});
