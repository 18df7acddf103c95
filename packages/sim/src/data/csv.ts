/**
 * CSV data for `flock client --data file.csv`: one example per line,
 * `label,p0,p1,...,p783` (an optional header line is skipped). Pixel values are 0-255 or 0-1
 * (auto-detected per file unless `scale` says which). Gzip-compressed files are accepted.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { CsvFormatError, DatasetError } from './errors.js';
import { isGzip } from './idx.js';

export interface CsvLoadOptions {
  /** Pixels per row (default 784 = 28x28). */
  numFeatures?: number;
  /** When set, labels must be integers in [0, numClasses). */
  numClasses?: number;
  /** Header handling: 'auto' (default) skips a first line whose label field is not a number. */
  header?: 'auto' | boolean;
  /** Pixel scale: 'auto' (default; 0-255 if any value > 1, else 0-1), 255 or 1. */
  scale?: 'auto' | 255 | 1;
  /** Keep only the first `limit` examples. */
  limit?: number;
}

export interface CsvData {
  /** count * numFeatures values in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  numFeatures: number;
  /** The scale the values were read in. */
  scale: 255 | 1;
  hasHeader: boolean;
}

function checkOptions(o: CsvLoadOptions): Required<Omit<CsvLoadOptions, 'numClasses' | 'limit'>> & Pick<CsvLoadOptions, 'numClasses' | 'limit'> {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const numFeatures = o.numFeatures ?? 784;
  if (typeof numFeatures !== 'number') throw new TypeError(`options.numFeatures must be a number; got ${typeof numFeatures}`);
  if (!Number.isSafeInteger(numFeatures) || numFeatures < 1) throw new RangeError(`options.numFeatures must be a positive integer; got ${numFeatures}`);
  if (o.numClasses !== undefined) {
    if (typeof o.numClasses !== 'number') throw new TypeError(`options.numClasses must be a number; got ${typeof o.numClasses}`);
    if (!Number.isSafeInteger(o.numClasses) || o.numClasses < 1 || o.numClasses > 256) {
      throw new RangeError(`options.numClasses must be an integer in [1, 256]; got ${o.numClasses}`);
    }
  }
  if (o.limit !== undefined) {
    if (typeof o.limit !== 'number') throw new TypeError(`options.limit must be a number; got ${typeof o.limit}`);
    if (!Number.isSafeInteger(o.limit) || o.limit < 1) throw new RangeError(`options.limit must be a positive integer; got ${o.limit}`);
  }
  const header = o.header ?? 'auto';
  if (header !== 'auto' && typeof header !== 'boolean') throw new RangeError(`options.header must be 'auto', true or false; got ${String(header)}`);
  const scale = o.scale ?? 'auto';
  if (scale !== 'auto' && scale !== 255 && scale !== 1) throw new RangeError(`options.scale must be 'auto', 255 or 1; got ${String(scale)}`);
  return { numFeatures, header, scale, numClasses: o.numClasses, limit: o.limit };
}

/** Parses CSV text (see module doc). Errors are CsvFormatError with a 1-based `line`. */
export function parseCsvData(text: string, options: CsvLoadOptions = {}, file?: string): CsvData {
  if (typeof text !== 'string') throw new TypeError(`text must be a string; got ${typeof text}`);
  const { numFeatures, numClasses, header, scale, limit } = checkOptions(options);
  const name = file ?? 'CSV data';
  const fields = numFeatures + 1;
  const fail = (line: number, msg: string): never => {
    throw new CsvFormatError('CSV_SYNTAX', `${name}, line ${line}: ${msg}`, { ...(file === undefined ? {} : { file }), line });
  };

  const lines = text.split(/\r?\n/);
  // Find data lines (skip blanks) and decide about the header.
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  let hasHeader = false;
  if (first < lines.length) {
    const firstField = lines[first]!.split(',', 1)[0]!.trim().replace(/^"|"$/g, '');
    const looksNumeric = firstField !== '' && Number.isFinite(Number(firstField));
    hasHeader = header === 'auto' ? !looksNumeric : header;
  }
  const start = hasHeader ? first + 1 : first;
  let capacity = 0;
  for (let i = start; i < lines.length; i++) if (lines[i]!.trim() !== '') capacity++;
  if (limit !== undefined) capacity = Math.min(capacity, limit);
  if (capacity === 0) {
    throw new CsvFormatError('EMPTY', `${name} has no data rows; expected lines of the form label,p0,...,p${numFeatures - 1}`, file === undefined ? {} : { file });
  }

  const values = new Float32Array(capacity * numFeatures);
  const labels = new Uint8Array(capacity);
  let count = 0;
  let max = 0;
  for (let i = start; i < lines.length && count < capacity; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const lineNo = i + 1;
    const parts = raw.split(',');
    if (parts.length !== fields) {
      fail(lineNo, `expected ${fields} comma-separated fields (label + ${numFeatures} pixels), got ${parts.length}`);
    }
    const labelText = parts[0]!.trim();
    const label = Number(labelText);
    if (labelText === '' || !Number.isInteger(label) || label < 0 || label > 255) {
      fail(lineNo, `label must be an integer 0-255 (the class index), got '${labelText}'`);
    }
    if (numClasses !== undefined && label >= numClasses) fail(lineNo, `label ${label} is out of range: this model has ${numClasses} classes (0-${numClasses - 1})`);
    labels[count] = label;
    const base = count * numFeatures;
    for (let j = 1; j < fields; j++) {
      const t = parts[j]!;
      const v = Number(t);
      if (t.trim() === '' || !Number.isFinite(v)) fail(lineNo, `pixel p${j - 1} (field ${j + 1}) is not a number: '${t.trim()}'`);
      if (v < 0 || v > 255) fail(lineNo, `pixel p${j - 1} (field ${j + 1}) = ${v} is outside 0-255`);
      if (scale === 1 && v > 1) fail(lineNo, `pixel p${j - 1} (field ${j + 1}) = ${v} is above 1 but scale 1 (values 0-1) was requested`);
      if (v > max) max = v;
      values[base + j - 1] = v;
    }
    count++;
  }
  const used: 255 | 1 = scale === 'auto' ? (max > 1 ? 255 : 1) : scale;
  if (used === 255) {
    const inv = 1 / 255;
    for (let k = 0; k < values.length; k++) values[k] = values[k]! * inv;
  }
  return { images: values, labels, count, numFeatures, scale: used, hasHeader };
}

/** Reads a CSV data file (plain or gzip). */
export async function loadCsvData(path: string, options: CsvLoadOptions = {}): Promise<CsvData> {
  if (typeof path !== 'string') throw new TypeError(`path must be a string; got ${typeof path}`);
  checkOptions(options);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new DatasetError('NOT_FOUND', `CSV file not found: ${path}`, { file: path, cause });
    throw cause;
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (cause) {
      throw new CsvFormatError('BAD_GZIP', `${path} looks gzip-compressed but does not decompress (${(cause as Error).message})`, { file: path, cause });
    }
  }
  return parseCsvData(new TextDecoder().decode(bytes), options, path);
}
