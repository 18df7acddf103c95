import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsvData, parseCsvData } from './csv.js';
import { CsvFormatError } from './errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opts = { numFeatures: 4 };

function lineOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CsvFormatError);
    return (e as CsvFormatError).line;
  }
  return undefined;
}

describe('CSV data', () => {
  it('reads 0-255 values with a header and scales them to [0,1]', () => {
    const d = parseCsvData('label,p0,p1,p2,p3\r\n3,0,255,51,102\r\n\r\n1,255,0,0,0\r\n', opts);
    expect(d.hasHeader).toBe(true);
    expect(d.count).toBe(2);
    expect(d.scale).toBe(255);
    expect(Array.from(d.labels)).toEqual([3, 1]);
    expect(Array.from(d.images)).toEqual([0, 1, 0.2, 0.4, 1, 0, 0, 0].map((v) => Math.fround(v)));
  });

  it('reads 0-1 values without a header', () => {
    const d = parseCsvData('0,0,0.5,1,0.25\n9,1,1,1,1', opts);
    expect(d.hasHeader).toBe(false);
    expect(d.scale).toBe(1);
    expect(Array.from(d.images.subarray(0, 4))).toEqual([0, 0.5, 1, 0.25]);
    expect(parseCsvData('0,0,0.5,1,0.25\n9,1,1,1,1', { ...opts, limit: 1 }).count).toBe(1);
  });

  it('defaults to 784 pixels', () => {
    const row = ['5', ...Array.from({ length: 784 }, (_, i) => String(i % 256))].join(',');
    const d = parseCsvData(`${row}\n${row}\n`);
    expect(d.count).toBe(2);
    expect(d.images.length).toBe(2 * 784);
    expect(() => parseCsvData('1,2,3')).toThrow(/expected 785 comma-separated fields \(label \+ 784 pixels\), got 3/);
  });

  it('reports errors with line numbers', () => {
    expect(lineOf(() => parseCsvData('label,a,b,c,d\n1,0,0,0,0\n2,0,0,0\n', opts))).toBe(3);
    expect(lineOf(() => parseCsvData('1,0,0,0,0\n\n2,0,x,0,0\n', opts))).toBe(3);
    expect(() => parseCsvData('1,0,0,0,0\n2,0,x,0,0\n', opts)).toThrow(/line 2: pixel p1 \(field 3\) is not a number: 'x'/);
    expect(() => parseCsvData('1,0,0,0,0\n2,0,,0,0\n', opts)).toThrow(/line 2: pixel p1/);
    expect(() => parseCsvData('1.5,0,0,0,0\n', opts)).toThrow(/line 1: label must be an integer/);
    expect(() => parseCsvData('300,0,0,0,0\n', opts)).toThrow(/label must be an integer 0-255/);
    expect(() => parseCsvData('12,0,0,0,0\n', { ...opts, numClasses: 10 })).toThrow(/line 1: label 12 is out of range: this model has 10 classes/);
    expect(() => parseCsvData('1,0,0,256,0\n', opts)).toThrow(/p2 \(field 4\) = 256 is outside 0-255/);
    expect(() => parseCsvData('1,0,0,-1,0\n', opts)).toThrow(/outside 0-255/);
    expect(() => parseCsvData('1,0,0,2,0\n', { ...opts, scale: 1 })).toThrow(/above 1 but scale 1/);
    expect(() => parseCsvData('label,a,b,c,d\n\n', opts)).toThrow(/no data rows/);
    expect(() => parseCsvData('', opts)).toThrow(CsvFormatError);
  });

  it('checks its options', () => {
    expect(() => parseCsvData('1,0,0,0,0', { numFeatures: 0 })).toThrow(RangeError);
    expect(() => parseCsvData('1,0,0,0,0', { numFeatures: '4' as unknown as number })).toThrow(TypeError);
    expect(() => parseCsvData('1,0,0,0,0', { ...opts, scale: 100 as unknown as 1 })).toThrow(/options.scale/);
    expect(() => parseCsvData(42 as unknown as string)).toThrow(TypeError);
  });

  it('loads plain and gzip files with the file name in errors', async () => {
    const plain = join(dir, 'd.csv');
    await writeFile(plain, '1,0,0,0,255\n');
    expect((await loadCsvData(plain, opts)).count).toBe(1);
    const gz = join(dir, 'd.csv.gz');
    await writeFile(gz, gzipSync('1,0,0,0,255\n2,0,0,0,0\n'));
    expect((await loadCsvData(gz, opts)).count).toBe(2);
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, '1,0,0,0,255\n2,0,0\n');
    await expect(loadCsvData(bad, opts)).rejects.toThrow(`${bad}, line 2`);
    await expect(loadCsvData(join(dir, 'none.csv'), opts)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
