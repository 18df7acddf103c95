/**
 * Fashion-MNIST (Zalando Research, MIT licence): 28x28 grayscale images, 10 classes.
 *
 * Where the files come from, first match wins:
 *   1. an explicit directory (`--data DIR`, `loadFashionMnist({ dir })`) - an error if it lacks the files;
 *   2. the FLOCK_DATA environment variable (the directory itself or FLOCK_DATA/fashion-mnist);
 *   3. /usr/share/datasets/fashion-mnist (Debian/Ubuntu: `apt install dataset-fashion-mnist`);
 *   4. the class-balanced subset shipped in this package (8,000 train / 2,000 test), so a
 *      fresh clone runs offline.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetNotFoundError, IdxFormatError } from './errors.js';
import { readIdxImageSet } from './idx.js';

export type FashionMnistSplit = 'train' | 'test';

/** Where a Fashion-MNIST directory was found. */
export type FashionMnistSource = 'explicit' | 'env' | 'system' | 'subset';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const FASHION_MNIST_NUM_CLASSES = 10;
export const FASHION_MNIST_IMAGE_SIZE = 28;
/** Pixels per image (28 * 28). */
export const FASHION_MNIST_FEATURES = 784;

/** Debian's dataset-fashion-mnist install location. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/** The subset shipped with @flock/sim (packages/sim/data/fashion-mnist-subset). */
export const FASHION_MNIST_SUBSET_DIR = resolve(fileURLToPath(new URL('../../data/fashion-mnist-subset/', import.meta.url)));

/** The environment variable naming a data directory. */
export const FLOCK_DATA_ENV = 'FLOCK_DATA';

const FILE_STEMS = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

/** Accepted spellings of one file: `.gz` or plain, `-idx3-ubyte` or `.idx3-ubyte`. */
function candidatesFor(stem: string): string[] {
  const dotted = stem.replace(/-(idx\d-ubyte)$/, '.$1');
  return [`${stem}.gz`, stem, `${dotted}.gz`, dotted];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The paths of the four files in `dir`, or the list of missing ones. */
export function findFashionMnistFiles(
  dir: string,
): { ok: true; files: Record<FashionMnistSplit, { images: string; labels: string }> } | { ok: false; missing: string[] } {
  const missing: string[] = [];
  const files = { train: { images: '', labels: '' }, test: { images: '', labels: '' } };
  for (const split of ['train', 'test'] as const) {
    for (const kind of ['images', 'labels'] as const) {
      const stem = FILE_STEMS[split][kind];
      const found = candidatesFor(stem).map((name) => join(dir, name)).find(isFile);
      if (found === undefined) missing.push(`${stem}.gz`);
      else files[split][kind] = found;
    }
  }
  return missing.length === 0 ? { ok: true, files } : { ok: false, missing };
}

export interface ResolvedFashionMnist {
  /** Absolute directory holding the four IDX files. */
  dir: string;
  source: FashionMnistSource;
  /** True for the small subset shipped with Flock (8,000 train / 2,000 test). */
  isSubset: boolean;
  /** One line for humans, e.g. "Fashion-MNIST from FLOCK_DATA (/data/fashion-mnist)". */
  description: string;
  files: Record<FashionMnistSplit, { images: string; labels: string }>;
  /** Places looked at before this one and why they were passed over. */
  skipped: Array<{ dir: string; reason: string }>;
}

export interface ResolveFashionMnistOptions {
  /** Environment to read FLOCK_DATA from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Override the system location (default /usr/share/datasets/fashion-mnist). */
  systemDir?: string;
  /** Override the shipped subset location. */
  subsetDir?: string;
}

/**
 * Finds a Fashion-MNIST directory: `explicit` (error if it lacks the files), then
 * $FLOCK_DATA (or $FLOCK_DATA/fashion-mnist), then /usr/share/datasets/fashion-mnist, then the
 * subset shipped with @flock/sim. Throws DatasetNotFoundError only if nothing is found.
 */
export function resolveFashionMnistDir(explicit?: string, options: ResolveFashionMnistOptions = {}): ResolvedFashionMnist {
  if (explicit !== undefined && typeof explicit !== 'string') throw new TypeError(`explicit must be a string path; got ${typeof explicit}`);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const env = options.env ?? process.env;
  const skipped: Array<{ dir: string; reason: string }> = [];
  const probe = (dir: string): ReturnType<typeof findFashionMnistFiles> | { ok: false; reason: string } =>
    isDir(dir) ? findFashionMnistFiles(dir) : { ok: false, reason: 'directory does not exist' };
  const reasonOf = (r: { ok: false; missing: string[] } | { ok: false; reason: string }): string =>
    'missing' in r ? `missing ${r.missing.join(', ')}` : r.reason;

  if (explicit !== undefined && explicit !== '') {
    const dir = resolve(explicit);
    const r = probe(dir);
    if (r.ok) return { dir, source: 'explicit', isSubset: false, description: `Fashion-MNIST from ${dir}`, files: r.files, skipped };
    throw new DatasetNotFoundError(
      `No Fashion-MNIST files in ${dir} (${reasonOf(r)}). Put the four IDX files there (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ` +
        `t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist), ` +
        `or leave the directory out to use ${FLOCK_DATA_ENV}, ${FASHION_MNIST_SYSTEM_DIR} or the built-in subset`,
      [{ dir, reason: reasonOf(r) }],
      { file: dir },
    );
  }

  const envValue = env[FLOCK_DATA_ENV];
  if (envValue !== undefined && envValue !== '') {
    const base = resolve(envValue);
    for (const dir of [join(base, 'fashion-mnist'), base]) {
      const r = probe(dir);
      if (r.ok) {
        return { dir, source: 'env', isSubset: false, description: `Fashion-MNIST from ${FLOCK_DATA_ENV} (${dir})`, files: r.files, skipped };
      }
      skipped.push({ dir, reason: `${FLOCK_DATA_ENV}=${envValue}: ${reasonOf(r)}` });
    }
  }

  const systemDir = resolve(options.systemDir ?? FASHION_MNIST_SYSTEM_DIR);
  {
    const r = probe(systemDir);
    if (r.ok) return { dir: systemDir, source: 'system', isSubset: false, description: `Fashion-MNIST from ${systemDir}`, files: r.files, skipped };
    skipped.push({ dir: systemDir, reason: reasonOf(r) });
  }

  const subsetDir = resolve(options.subsetDir ?? FASHION_MNIST_SUBSET_DIR);
  {
    const r = probe(subsetDir);
    if (r.ok) {
      return {
        dir: subsetDir,
        source: 'subset',
        isSubset: true,
        description: `Fashion-MNIST subset shipped with Flock (8,000 train / 2,000 test, class-balanced) at ${subsetDir}; for the full 60,000/10,000 set pass a directory, set ${FLOCK_DATA_ENV} or install dataset-fashion-mnist`,
        files: r.files,
        skipped,
      };
    }
    skipped.push({ dir: subsetDir, reason: reasonOf(r) });
  }
  throw new DatasetNotFoundError(
    `Fashion-MNIST not found. Looked in: ${skipped.map((s) => `${s.dir} (${s.reason})`).join('; ')}. ` +
      `Set ${FLOCK_DATA_ENV} to a directory with the four IDX files, pass one explicitly, or install Debian's dataset-fashion-mnist`,
    skipped,
  );
}

export interface LoadFashionMnistOptions {
  /** Directory with the IDX files; when omitted see resolveFashionMnistDir. */
  dir?: string;
  split: FashionMnistSplit;
  /** Keep only the first `limit` examples (file order). */
  limit?: number;
  /** Passed to resolveFashionMnistDir (tests). */
  resolve?: ResolveFashionMnistOptions;
}

export interface FashionMnistData {
  /** count * 784 pixels scaled to [0, 1], row-major 28x28 per image. */
  images: Float32Array;
  /** count labels, 0-9 (see FASHION_MNIST_CLASSES). */
  labels: Uint8Array;
  count: number;
  source: FashionMnistSource;
  isSubset: boolean;
  dir: string;
  /** Human-readable origin, for logs. */
  description: string;
}

/** Loads one split of Fashion-MNIST as float pixels in [0, 1] and uint8 labels. */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<FashionMnistData> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object { split, dir?, limit? }');
  const { split, dir, limit } = options;
  if (split !== 'train' && split !== 'test') throw new RangeError(`options.split must be 'train' or 'test'; got ${String(split)}`);
  if (dir !== undefined && typeof dir !== 'string') throw new TypeError(`options.dir must be a string; got ${typeof dir}`);
  if (limit !== undefined) {
    if (typeof limit !== 'number') throw new TypeError(`options.limit must be a number; got ${typeof limit}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`options.limit must be a positive integer; got ${limit}`);
  }
  const resolved = resolveFashionMnistDir(dir, options.resolve);
  const files = resolved.files[split];
  const set = await readIdxImageSet(files.images, files.labels, limit === undefined ? {} : { limit });
  if (set.rows !== FASHION_MNIST_IMAGE_SIZE || set.cols !== FASHION_MNIST_IMAGE_SIZE) {
    throw new IdxFormatError('SHAPE', `${files.images} holds ${set.rows}x${set.cols} images; Fashion-MNIST images are 28x28. Is this the right directory?`, {
      file: files.images,
    });
  }
  const images = new Float32Array(set.pixels.length);
  const inv = 1 / 255;
  for (let i = 0; i < images.length; i++) images[i] = set.pixels[i]! * inv;
  const labels = new Uint8Array(set.labels); // own copy, not a view of the file buffer
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= FASHION_MNIST_NUM_CLASSES) {
      throw new IdxFormatError('SHAPE', `${files.labels} has label ${labels[i]} at index ${i}; Fashion-MNIST labels are 0-9. Is this the right file?`, { file: files.labels });
    }
  }
  return { images, labels, count: set.count, source: resolved.source, isSubset: resolved.isSubset, dir: resolved.dir, description: resolved.description };
}
