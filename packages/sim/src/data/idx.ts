/**
 * IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Layout: two zero bytes, one element-type byte (0x08 = uint8), one byte with the number of
 * dimensions d, then d big-endian uint32 sizes, then the payload in row-major order.
 * Only uint8 payloads are supported (that is what image and label files use).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DatasetError, IdxFormatError } from './errors.js';

/** A decoded IDX array. */
export interface IdxArray {
  /** Sizes of each dimension, outermost first, e.g. [60000, 28, 28]. */
  dims: number[];
  /** uint8 payload, row-major; length = product of dims. */
  data: Uint8Array;
}

const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const REDOWNLOAD = 'download the file again (or point --data / FLOCK_DATA at a good copy)';

function where(file: string | undefined): string {
  return file === undefined ? 'IDX data' : file;
}

/** True if `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function gunzipChecked(bytes: Uint8Array, file: string | undefined): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (cause) {
    throw new IdxFormatError(
      'BAD_GZIP',
      `${where(file)} looks gzip-compressed but does not decompress (${(cause as Error).message}); it is probably truncated or corrupt: ${REDOWNLOAD}`,
      { file, cause },
    );
  }
}

/**
 * Decodes an IDX file's bytes (gzip is detected and inflated). Throws IdxFormatError with
 * code BAD_MAGIC, UNSUPPORTED_TYPE, TRUNCATED, TRAILING_DATA or BAD_GZIP.
 */
export function parseIdx(bytes: Uint8Array, options: { file?: string } = {}): IdxArray {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array (or a Buffer)');
  const file = options.file;
  const raw = isGzip(bytes) ? gunzipChecked(bytes, file) : bytes;
  if (raw.length < 4) {
    throw new IdxFormatError('TRUNCATED', `${where(file)} is too short to be an IDX file (${raw.length} bytes; the header alone is at least 8): ${REDOWNLOAD}`, { file });
  }
  const [b0, b1, type, ndims] = [raw[0]!, raw[1]!, raw[2]!, raw[3]!];
  const magicHex = `0x${[b0, b1, type, ndims].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (b0 !== 0 || b1 !== 0 || IDX_TYPE_NAMES[type] === undefined || ndims === 0) {
    throw new IdxFormatError(
      'BAD_MAGIC',
      `${where(file)} is not an IDX file: magic number ${magicHex} (expected 0x00000801 for labels or 0x00000803 for images). ` +
        `Check that it is the right file (e.g. train-images-idx3-ubyte.gz, not an HTML error page) or ${REDOWNLOAD}`,
      { file },
    );
  }
  if (type !== 0x08) {
    throw new IdxFormatError(
      'UNSUPPORTED_TYPE',
      `${where(file)} holds ${IDX_TYPE_NAMES[type]} elements (magic ${magicHex}); only uint8 IDX files (0x08) are supported. Convert it to uint8 pixel values 0-255`,
      { file },
    );
  }
  const headerLength = 4 + 4 * ndims;
  if (raw.length < headerLength) {
    throw new IdxFormatError('TRUNCATED', `${where(file)} is truncated inside its header (${raw.length} of ${headerLength} header bytes): ${REDOWNLOAD}`, { file });
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const expected = headerLength + size;
  if (raw.length < expected) {
    throw new IdxFormatError(
      'TRUNCATED',
      `${where(file)} is truncated: its header promises dims [${dims.join(', ')}] = ${size} bytes of data but only ${raw.length - headerLength} are present: ${REDOWNLOAD}`,
      { file },
    );
  }
  if (raw.length > expected) {
    throw new IdxFormatError(
      'TRAILING_DATA',
      `${where(file)} has ${raw.length - expected} bytes after the ${size} bytes its header (dims [${dims.join(', ')}]) promises; it is corrupt or not an IDX file: ${REDOWNLOAD}`,
      { file },
    );
  }
  return { dims, data: raw.subarray(headerLength, expected) };
}

/** Reads and decodes an IDX file (plain or .gz). */
export async function readIdxFile(path: string): Promise<IdxArray> {
  if (typeof path !== 'string') throw new TypeError(`path must be a string; got ${typeof path}`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new DatasetError('NOT_FOUND', `IDX file not found: ${path}`, { file: path, cause });
    throw cause;
  }
  return parseIdx(bytes, { file: path });
}

/** Encodes an IDX uint8 array; gzip (level 9, no timestamp) when `gzip` is true. */
export function encodeIdx(array: IdxArray, options: { gzip?: boolean } = {}): Uint8Array {
  if (array === null || typeof array !== 'object') throw new TypeError('array must be an IdxArray { dims, data }');
  const { dims, data } = array;
  if (!Array.isArray(dims)) throw new TypeError('array.dims must be an array of numbers');
  if (!(data instanceof Uint8Array)) throw new TypeError('array.data must be a Uint8Array');
  if (dims.length < 1 || dims.length > 255) throw new RangeError(`array.dims must have 1 to 255 entries; got ${dims.length}`);
  let size = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new RangeError(`array.dims entries must be integers in [0, 2^32); got ${d}`);
    size *= d;
  }
  if (size !== data.length) throw new RangeError(`array.data has ${data.length} bytes but dims [${dims.join(', ')}] need ${size}`);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  if (!options.gzip) return out;
  const gz = gzipSync(out, { level: 9 });
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/** Writes an IDX file (gzip when `gzip` is true). */
export async function writeIdxFile(path: string, array: IdxArray, options: { gzip?: boolean } = {}): Promise<void> {
  if (typeof path !== 'string') throw new TypeError(`path must be a string; got ${typeof path}`);
  await writeFile(path, encodeIdx(array, options));
}

/** Images (N x rows x cols, uint8) and labels (N, uint8) that belong together. */
export interface IdxImageSet {
  /** N * rows * cols bytes, 0-255. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/**
 * Checks that an images array (3-d) and a labels array (1-d) form one data set and returns
 * the first `limit` examples (all when `limit` is undefined).
 */
export function pairImagesAndLabels(
  images: IdxArray,
  labels: IdxArray,
  options: { imagesFile?: string; labelsFile?: string; limit?: number } = {},
): IdxImageSet {
  const { imagesFile, labelsFile, limit } = options;
  if (images.dims.length !== 3) {
    throw new IdxFormatError('SHAPE', `${where(imagesFile)} should be an images file with 3 dimensions [count, rows, cols] but has dims [${images.dims.join(', ')}]; did you swap the images and labels files?`, { file: imagesFile });
  }
  if (labels.dims.length !== 1) {
    throw new IdxFormatError('SHAPE', `${where(labelsFile)} should be a labels file with 1 dimension [count] but has dims [${labels.dims.join(', ')}]; did you swap the images and labels files?`, { file: labelsFile });
  }
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new IdxFormatError(
      'COUNT_MISMATCH',
      `${where(imagesFile)} has ${n} images but ${where(labelsFile)} has ${labels.dims[0]} labels; they must come from the same split (train with train, t10k with t10k) and be complete`,
      { file: labelsFile },
    );
  }
  if (limit !== undefined) {
    if (typeof limit !== 'number') throw new TypeError(`limit must be a number; got ${typeof limit}`);
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer; got ${limit}`);
  }
  const count = limit === undefined ? n : Math.min(limit, n);
  return {
    pixels: images.data.subarray(0, count * rows * cols),
    labels: labels.data.subarray(0, count),
    count,
    rows,
    cols,
  };
}

/** Reads an images file and a labels file and pairs them (see pairImagesAndLabels). */
export async function readIdxImageSet(imagesFile: string, labelsFile: string, options: { limit?: number } = {}): Promise<IdxImageSet> {
  if (typeof imagesFile !== 'string') throw new TypeError(`imagesFile must be a string; got ${typeof imagesFile}`);
  if (typeof labelsFile !== 'string') throw new TypeError(`labelsFile must be a string; got ${typeof labelsFile}`);
  const [images, labels] = await Promise.all([readIdxFile(imagesFile), readIdxFile(labelsFile)]);
  return pairImagesAndLabels(images, labels, { imagesFile, labelsFile, ...(options.limit === undefined ? {} : { limit: options.limit }) });
}
