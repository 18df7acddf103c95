/**
 * How a data set is split among simulated clients. String forms (CLI `--partition`):
 *
 *   iid               uniform random split, (nearly) equal sizes
 *   dirichlet:ALPHA   label skew: for each class, the share of each client ~ Dir(ALPHA)
 *   shards:C          each client holds exactly C distinct labels (NIID-Bench "#C=k")
 *   quantity:ALPHA    size skew: client sizes ~ Dir(ALPHA), labels IID within each client
 */
import { z } from 'zod';

export type PartitionSpec =
  | { kind: 'iid' }
  | { kind: 'dirichlet'; alpha: number }
  | { kind: 'shards'; labelsPerClient: number }
  | { kind: 'quantity'; alpha: number };

export type PartitionKind = PartitionSpec['kind'];

export const PARTITION_FORMS: readonly string[] = [
  'iid                (uniform random split, equal sizes)',
  'dirichlet:ALPHA    (label skew; ALPHA > 0, e.g. dirichlet:0.5; smaller = more skewed)',
  'shards:C           (each client holds exactly C distinct labels; integer C >= 1, e.g. shards:2)',
  'quantity:ALPHA     (size skew, IID labels; ALPHA > 0, e.g. quantity:0.5; smaller = more unequal)',
];

const positiveAlpha = z
  .number({ error: 'alpha must be a number' })
  .refine((a) => Number.isFinite(a) && a > 0, { message: 'alpha must be a finite number > 0' });

/** zod schema for a PartitionSpec object (e.g. from a JSON config file). */
export const PartitionSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('iid') }).strict(),
  z.object({ kind: z.literal('dirichlet'), alpha: positiveAlpha }).strict(),
  z.object({ kind: z.literal('shards'), labelsPerClient: z.number().int('labelsPerClient must be an integer').min(1, 'labelsPerClient must be >= 1') }).strict(),
  z.object({ kind: z.literal('quantity'), alpha: positiveAlpha }).strict(),
]);

function invalid(input: string, why: string): RangeError {
  return new RangeError(`invalid partition '${input}': ${why}. Valid forms:\n  ${PARTITION_FORMS.join('\n  ')}`);
}

/** Parses `iid`, `dirichlet:ALPHA`, `shards:C` or `quantity:ALPHA` (case-insensitive). */
export function parsePartitionSpec(s: string): PartitionSpec {
  if (typeof s !== 'string') throw new TypeError(`partition spec must be a string like 'dirichlet:0.5'; got ${typeof s}`);
  const input = s.trim();
  const [rawKind, ...rest] = input.split(':');
  const kind = (rawKind ?? '').trim().toLowerCase();
  const arg = rest.join(':').trim();
  const num = (): number => {
    if (rest.length === 0 || arg === '') throw invalid(input, `'${kind}' needs a parameter`);
    if (rest.length > 1) throw invalid(input, 'too many parameters');
    const v = Number(arg);
    if (!Number.isFinite(v)) throw invalid(input, `'${arg}' is not a number`);
    return v;
  };
  let candidate: unknown;
  switch (kind) {
    case 'iid':
      if (rest.length > 0) throw invalid(input, "'iid' takes no parameter");
      candidate = { kind: 'iid' };
      break;
    case 'dirichlet':
    case 'quantity':
      candidate = { kind, alpha: num() };
      break;
    case 'shards':
      candidate = { kind, labelsPerClient: num() };
      break;
    default:
      throw invalid(input, kind === '' ? 'empty' : `unknown kind '${kind}'`);
  }
  const r = PartitionSpecSchema.safeParse(candidate);
  if (!r.success) throw invalid(input, r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

/** Validates a spec given as a string or an object; returns the normalized object. */
export function toPartitionSpec(spec: PartitionSpec | string): PartitionSpec {
  if (typeof spec === 'string') return parsePartitionSpec(spec);
  if (spec === null || typeof spec !== 'object') throw new TypeError(`spec must be a string like 'dirichlet:0.5' or a PartitionSpec object; got ${spec === null ? 'null' : typeof spec}`);
  const r = PartitionSpecSchema.safeParse(spec);
  if (!r.success) {
    throw new RangeError(`invalid partition spec ${JSON.stringify(spec)}: ${r.error.issues.map((i) => i.message).join('; ')}. Valid forms:\n  ${PARTITION_FORMS.join('\n  ')}`);
  }
  return r.data;
}

/** The string form of a spec (inverse of parsePartitionSpec). */
export function formatPartitionSpec(spec: PartitionSpec): string {
  const s = toPartitionSpec(spec);
  switch (s.kind) {
    case 'iid':
      return 'iid';
    case 'dirichlet':
    case 'quantity':
      return `${s.kind}:${s.alpha}`;
    case 'shards':
      return `shards:${s.labelsPerClient}`;
  }
}
