import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, IdxFormatError } from './errors.js';
import { encodeIdx, isGzip, pairImagesAndLabels, parseIdx, readIdxFile, readIdxImageSet, writeIdxFile } from './idx.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-idx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IdxFormatError);
    expect(e).toBeInstanceOf(DatasetError);
    return (e as IdxFormatError).code;
  }
  return undefined;
}

describe('IDX', () => {
  const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  const images = { dims: [3, 2, 2], data: pixels };
  const labels = { dims: [3], data: Uint8Array.from([7, 0, 9]) };

  it('parses a hand-made file byte for byte', () => {
    const bytes = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]);
    expect(parseIdx(bytes)).toEqual({ dims: [3], data: Uint8Array.from([7, 0, 9]) });
    expect(encodeIdx(labels)).toEqual(bytes);
  });

  it('round-trips plain and gzip', () => {
    for (const gzip of [false, true]) {
      const bytes = encodeIdx(images, { gzip });
      expect(isGzip(bytes)).toBe(gzip);
      const back = parseIdx(bytes);
      expect(back.dims).toEqual([3, 2, 2]);
      expect(Array.from(back.data)).toEqual(Array.from(pixels));
    }
    // gzip output is deterministic
    expect(encodeIdx(images, { gzip: true })).toEqual(encodeIdx(images, { gzip: true }));
  });

  it('reads files and pairs images with labels', async () => {
    await writeIdxFile(join(dir, 'img.gz'), images, { gzip: true });
    await writeIdxFile(join(dir, 'lab'), labels);
    expect((await readIdxFile(join(dir, 'lab'))).dims).toEqual([3]);
    const set = await readIdxImageSet(join(dir, 'img.gz'), join(dir, 'lab'));
    expect(set).toMatchObject({ count: 3, rows: 2, cols: 2 });
    expect(Array.from(set.labels)).toEqual([7, 0, 9]);
    const limited = await readIdxImageSet(join(dir, 'img.gz'), join(dir, 'lab'), { limit: 2 });
    expect(limited.count).toBe(2);
    expect(limited.pixels.length).toBe(8);
    expect(Array.from(limited.labels)).toEqual([7, 0]);
  });

  it('rejects bad files with typed errors that say what to do', () => {
    const good = encodeIdx(images);
    expect(codeOf(() => parseIdx(new TextEncoder().encode('<html>404 Not Found</html>')))).toBe('BAD_MAGIC');
    expect(() => parseIdx(new TextEncoder().encode('<html>'), { file: 'x.gz' })).toThrow(/x\.gz is not an IDX file.*download the file again/);
    expect(codeOf(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])))).toBe('UNSUPPORTED_TYPE');
    expect(codeOf(() => parseIdx(Uint8Array.from([0, 0, 8])))).toBe('TRUNCATED');
    expect(codeOf(() => parseIdx(good.subarray(0, 10)))).toBe('TRUNCATED'); // inside header
    expect(codeOf(() => parseIdx(good.subarray(0, good.length - 1)))).toBe('TRUNCATED');
    expect(() => parseIdx(good.subarray(0, good.length - 1))).toThrow(/truncated.*12 bytes of data but only 11/);
    const longer = new Uint8Array(good.length + 5);
    longer.set(good);
    expect(codeOf(() => parseIdx(longer))).toBe('TRAILING_DATA');
    const gz = gzipSync(good);
    expect(codeOf(() => parseIdx(gz.subarray(0, gz.length - 10)))).toBe('BAD_GZIP');
    expect(codeOf(() => parseIdx(gzipSync(good.subarray(0, 15))))).toBe('TRUNCATED'); // valid gzip of a truncated file
    expect(() => parseIdx('abc' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('rejects mismatched or swapped image/label files', async () => {
    const twoLabels = { dims: [2], data: Uint8Array.from([1, 2]) };
    expect(() => pairImagesAndLabels(images, twoLabels, { imagesFile: 'i', labelsFile: 'l' })).toThrow(/i has 3 images but l has 2 labels/);
    try {
      pairImagesAndLabels(images, twoLabels);
    } catch (e) {
      expect((e as IdxFormatError).code).toBe('COUNT_MISMATCH');
    }
    expect(() => pairImagesAndLabels(labels, images)).toThrow(/swap/);
    await writeFile(join(dir, 'lab2'), encodeIdx(twoLabels));
    await expect(readIdxImageSet(join(dir, 'img.gz'), join(dir, 'lab2'))).rejects.toMatchObject({ code: 'COUNT_MISMATCH' });
    await expect(readIdxFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => pairImagesAndLabels(images, labels, { limit: -1 })).toThrow(RangeError);
  });

  it('encodeIdx checks its input', () => {
    expect(() => encodeIdx({ dims: [2, 2], data: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => encodeIdx({ dims: [1.5], data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => encodeIdx({ dims: [1], data: [1] as unknown as Uint8Array })).toThrow(TypeError);
  });
});
