import { z } from 'zod';
import { FlockError } from '@flock/protocol';
import { readJsonInstances } from './json-instances.js';

// Validation of predict requests against the model's input shape (zod), for the JSON body in
// TensorFlow Serving's REST shape and for the binary float32 body.

const NON_FINITE = 'non-finite number';

/** A number that names Infinity apart from other wrong values (JSON's 1e999 parses as Infinity). */
const finite = z.number({ error: (iss) => (typeof iss.input === 'number' ? NON_FINITE : 'expected a number') });

/** The zod schema of one instance of the given shape: nested arrays of finite numbers. */
export function tensorSchema(shape: readonly number[]): z.ZodType<unknown> {
  let s: z.ZodType<unknown> = finite;
  for (let i = shape.length - 1; i >= 0; i--) {
    const n = shape[i]!;
    s = z.array(s).length(n, { error: `expected ${n} values at this depth` });
  }
  return s;
}

/** The schema of a predict request's JSON body for a model whose instances have `shape`. */
export function predictBodySchema(shape: readonly number[], maxBatch: number) {
  const instances = z.array(tensorSchema(shape)).min(1, 'send at least one instance').max(maxBatch, `at most ${maxBatch} instances per request`);
  return z.union([z.object({ signature_name: z.string().max(128).optional(), instances }).strict(), z.object({ signature_name: z.string().max(128).optional(), inputs: instances }).strict()]);
}

/** The request body independent of a model (for the OpenAPI document): instances of any nesting. */
export const predictRequestSchema = z.union([
  z.object({ signature_name: z.string().max(128).optional(), instances: z.array(z.unknown()).min(1).describe("one entry per example, each shaped as the model's input without the batch dimension (numbers only, finite)") }).strict(),
  z.object({ signature_name: z.string().max(128).optional(), inputs: z.array(z.unknown()).min(1).describe('the batched input tensor (columnar form)') }).strict(),
]);

/** The JSON response of a predict request. */
export const predictResponseSchema = z.object({
  predictions: z.array(z.unknown()).describe('one output per instance, nested as the model output shape'),
  modelVersion: z.number().int().nonnegative(),
  modelHash: z.string(),
});

const describeShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Flattens a body that {@link predictBodySchema} accepts, in one pass without allocating;
 * undefined for anything it would refuse (the caller then runs the schema for the typed
 * error). Accepts exactly what the schema accepts: nested arrays of the exact lengths and
 * finite numbers, under an object with `instances` or `inputs` and at most `signature_name`.
 */
export function flattenFast(body: unknown, shape: readonly number[], maxBatch: number): { rows: number; data: Float32Array } | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const keys = Object.keys(body);
  const o = body as Record<string, unknown>;
  if (keys.some((k) => k !== 'instances' && k !== 'inputs' && k !== 'signature_name')) return undefined;
  if (('instances' in o) === ('inputs' in o)) return undefined;
  if (o.signature_name !== undefined && !(typeof o.signature_name === 'string' && o.signature_name.length <= 128)) return undefined;
  const list = o.instances ?? o.inputs;
  if (!Array.isArray(list) || list.length < 1 || list.length > maxBatch) return undefined;
  const per = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(list.length * per);
  let off = 0;
  const walk = (v: unknown, depth: number): boolean => {
    if (depth === shape.length) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      data[off++] = v;
      return true;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) return false;
    for (let i = 0; i < v.length; i++) if (!walk(v[i], depth + 1)) return false;
    return true;
  };
  for (const row of list) if (!walk(row, 0)) return undefined;
  return { rows: list.length, data };
}

/**
 * A JSON predict body as received (bytes): the plain common form is read straight into a
 * Float32Array (json-instances.ts); anything else goes through JSON.parse and the zod schema,
 * which name what is wrong. Either way: the row-major float32 batch, or a typed error.
 */
export function parseJsonBody(raw: Buffer, shape: readonly number[], maxBatch: number): { rows: number; data: Float32Array } {
  const fast = readJsonInstances(raw, shape, maxBatch);
  if (fast) return fast;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new FlockError('BAD_MESSAGE', 'request body is not valid JSON (NaN and Infinity are not JSON: inputs must be finite numbers)');
  }
  return parseJsonInstances(body, shape, maxBatch);
}

/** Validates a parsed JSON body; returns the row-major float32 batch. */
export function parseJsonInstances(body: unknown, shape: readonly number[], maxBatch: number): { rows: number; data: Float32Array } {
  const obj = body as { instances?: unknown; inputs?: unknown } | null;
  const list = obj && typeof obj === 'object' ? (obj.instances ?? obj.inputs) : undefined;
  if (Array.isArray(list) && list.length > maxBatch) {
    throw new FlockError('PAYLOAD_TOO_LARGE', `${list.length} instances in one request; at most ${maxBatch}`, { maxBatch, rows: list.length });
  }
  // The common case (a valid body) in one pass; the zod schema names what is wrong otherwise.
  const fast = flattenFast(body, shape, maxBatch);
  if (fast) return fast;
  const parsed = predictBodySchema(shape, maxBatch).safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
    // A union's issues are nested: look for the deepest reason.
    const flat = JSON.stringify(parsed.error.issues);
    if (flat.includes(NON_FINITE)) throw new FlockError('NON_FINITE', 'an input value is NaN or Infinity; inputs must be finite numbers', { expectedShape: shape });
    if (!(obj && typeof obj === 'object' && Array.isArray(list))) {
      throw new FlockError('BAD_MESSAGE', 'send {"instances": [...]} or {"inputs": [...]} (TensorFlow Serving REST format)', { issues, expectedShape: shape });
    }
    throw new FlockError('WRONG_SHAPE', `every instance must have shape ${describeShape(shape)} (the model's input shape without the batch dimension)`, { expectedShape: shape, issues: nestedIssues(parsed.error) });
  }
  // Not reached while flattenFast accepts exactly what the schema does (inputs.test.ts checks it).
  const rows = list as unknown[];
  const per = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * per);
  let off = 0;
  const put = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) put(x);
    else data[off++] = v as number;
  };
  for (const r of rows) put(r);
  return { rows: rows.length, data };
}

function nestedIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const walk = (issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): void => {
    for (const i of issues) {
      if (out.length >= 10) return;
      if (i.code === 'invalid_union' && 'errors' in i) {
        for (const branch of i.errors) walk(branch, [...prefix, ...i.path]);
      } else out.push({ path: [...prefix, ...i.path].map(String).join('.') || '(root)', message: i.message });
    }
  };
  walk(error.issues, []);
  return out;
}

/**
 * The shape of a binary predict body, from the `x-flock-shape` header or the `shape` query
 * parameter ("32,28,28,1", batch first); the batch dimension alone ("32") is enough.
 */
export function parseBinaryShape(raw: string | undefined, inputShape: readonly number[], maxBatch: number): number {
  if (raw === undefined) throw new FlockError('WRONG_SHAPE', `binary requests need the batch shape in the x-flock-shape header or ?shape= (e.g. ${[1, ...inputShape].join(',')})`, { expectedShape: inputShape });
  const dims = raw.split(',').map((s) => s.trim());
  if (dims.length === 0 || dims.some((d) => !/^\d{1,9}$/.test(d))) throw new FlockError('WRONG_SHAPE', `shape '${raw.slice(0, 64)}' is not a comma-separated list of sizes`, { expectedShape: inputShape });
  const nums = dims.map(Number);
  const rows = nums[0]!;
  if (nums.length > 1 && (nums.length !== inputShape.length + 1 || nums.slice(1).some((d, i) => d !== inputShape[i]))) {
    throw new FlockError('WRONG_SHAPE', `shape [${nums.join(', ')}] does not match the model input [batch, ${inputShape.join(', ')}]`, { expectedShape: inputShape });
  }
  if (rows < 1) throw new FlockError('WRONG_SHAPE', 'the batch dimension must be at least 1', { expectedShape: inputShape });
  if (rows > maxBatch) throw new FlockError('PAYLOAD_TOO_LARGE', `${rows} instances in one request; at most ${maxBatch}`, { maxBatch, rows });
  return rows;
}

/** Checks a binary float32 body (little-endian) against the shape; returns it as a Float32Array. */
export function parseBinaryBody(body: Buffer, rows: number, inputShape: readonly number[]): Float32Array {
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (body.byteLength !== rows * per * 4) {
    throw new FlockError('WRONG_SHAPE', `body holds ${body.byteLength} bytes; shape [${[rows, ...inputShape].join(', ')}] needs ${rows * per * 4} (little-endian float32)`, { expectedShape: inputShape });
  }
  // A view when the bytes are 4-aligned (readBody's buffer is), else a copy.
  let data: Float32Array;
  if (body.byteOffset % 4 === 0) data = new Float32Array(body.buffer, body.byteOffset, rows * per);
  else {
    data = new Float32Array(rows * per);
    new Uint8Array(data.buffer).set(body);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new FlockError('NON_FINITE', `input value ${i} is ${data[i]}; inputs must be finite numbers`, { index: i });
  }
  return data;
}

/** Nests a row-major output back into arrays of the given shape (one entry per row). */
export function nest(data: Float32Array, shape: readonly number[]): unknown[] {
  const build = (off: number, dims: readonly number[]): unknown => {
    if (dims.length === 0) return data[off];
    const [n, ...rest] = dims;
    const step = rest.reduce((a, b) => a * b, 1);
    const out = new Array<unknown>(n!);
    for (let i = 0; i < n!; i++) out[i] = build(off + i * step, rest);
    return out;
  };
  return build(0, shape) as unknown[];
}
