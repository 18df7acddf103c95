import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { loadFashionMnist } from '@flock/sim';
import { UsageError } from './output.js';

/** A held-out labelled set for server-side evaluation (`flock coordinator --eval-data`). */
export interface EvalSet {
  x: Float32Array;
  labels: Int32Array;
}

const fileSchema = z
  .object({
    /** Row-major inputs, one flat array of numbers per example (scaled as the model expects). */
    x: z.array(z.array(z.number()).min(1)).min(1).max(1_000_000),
    /** Class index of each example. */
    labels: z.array(z.number().int().nonnegative()).min(1),
  })
  .strict()
  .refine((d) => d.x.length === d.labels.length, 'x and labels must have the same length')
  .refine((d) => d.x.every((r) => r.length === d.x[0]!.length), 'every row of x must have the same length');

/**
 * `fashion-mnist` or `fashion-mnist:N` (the first N test images, scaled to [0, 1]), or a JSON
 * file `{"x": [[...], ...], "labels": [...]}`.
 */
export async function loadEvalData(spec: string): Promise<EvalSet> {
  const m = /^fashion-mnist(?::(\d{1,6}))?$/.exec(spec);
  if (m) {
    const limit = m[1] ? Number(m[1]) : 1000;
    if (limit < 1) throw new UsageError('--eval-data fashion-mnist:N needs N >= 1');
    const test = await loadFashionMnist({ split: 'test', limit });
    const n = Math.min(limit, test.labels.length);
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = test.images[i]! / 255;
    return { x, labels: Int32Array.from(test.labels.subarray(0, n)) };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(spec, 'utf8'));
  } catch (e) {
    throw new UsageError(`--eval-data ${spec}: ${(e as Error).message} (use fashion-mnist[:N] or a JSON file {"x": [[...]], "labels": [...]})`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) throw new UsageError(`--eval-data ${spec}: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}`);
  const per = parsed.data.x[0]!.length;
  const x = new Float32Array(parsed.data.x.length * per);
  parsed.data.x.forEach((r, i) => x.set(r, i * per));
  return { x, labels: Int32Array.from(parsed.data.labels) };
}
