import { FlockError, badMessage } from '@flock/protocol';
import { z } from 'zod';

/**
 * One node's contribution to one round (docs/explanation/fleet.md): who reported, who was
 * rejected, and the sums the leader adds up. `sum` is the float64 weighted sum of the node's
 * accepted deltas (training rounds); evaluation rounds carry metric sums only.
 */
export interface Partial {
  roundId: string;
  round: number;
  nodeId: string;
  /** The fencing token of the plan this partial answers. */
  token: number;
  reporters: string[];
  rejected: Array<{ clientId: string; code: string }>;
  /** Examples reported (uncapped), as RoundMachine.numExamples. */
  numExamples: number;
  /** Sum of the (capped) aggregation weights behind `sum`. */
  weightTotal: number;
  /** Updates in `sum`. */
  count: number;
  /** Weighted metric sums and the weights behind each key (RoundMachine's metric sums). */
  metrics: Record<string, { sum: number; weight: number }>;
  sum: Float64Array | undefined;
}

const MAGIC = 0x31504c46; // 'FLP1' little-endian
const idSchema = z.string().min(1).max(256);

/** The JSON header: strings and integers only; every float travels as binary float64. */
const headerSchema = z
  .object({
    roundId: idSchema,
    round: z.number().int().min(0),
    nodeId: idSchema,
    token: z.number().int().min(1),
    reporters: z.array(idSchema),
    rejected: z.array(z.object({ clientId: idSchema, code: z.string().min(1).max(64) }).strict()),
    count: z.number().int().min(0),
    metricKeys: z.array(z.string().min(1).max(128)),
    numParams: z.number().int().min(0),
  })
  .strict();

/**
 * Binary form: 'FLP1', u32 header length, the JSON header, zero padding to 8 bytes, then
 * float64 little-endian: weightTotal, numExamples, per metric key its sum and weight, and the
 * `numParams` values of the sum.
 */
export function encodePartial(p: Partial): Buffer {
  const metricKeys = Object.keys(p.metrics).sort();
  const numParams = p.sum?.length ?? 0;
  const header = Buffer.from(
    JSON.stringify({ roundId: p.roundId, round: p.round, nodeId: p.nodeId, token: p.token, reporters: p.reporters, rejected: p.rejected, count: p.count, metricKeys, numParams }),
    'utf8',
  );
  const start = Math.ceil((8 + header.length) / 8) * 8;
  const floats = 2 + 2 * metricKeys.length + numParams;
  const buf = Buffer.alloc(start + 8 * floats);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(header.length, 4);
  header.copy(buf, 8);
  const f = new Float64Array(buf.buffer, buf.byteOffset + start, floats);
  f[0] = p.weightTotal;
  f[1] = p.numExamples;
  metricKeys.forEach((k, i) => {
    f[2 + 2 * i] = p.metrics[k]!.sum;
    f[3 + 2 * i] = p.metrics[k]!.weight;
  });
  if (p.sum) f.set(p.sum, 2 + 2 * metricKeys.length);
  return buf;
}

/** Parses and checks a partial; anything malformed is a BAD_MESSAGE. Copies out of `buf`. */
export function decodePartial(buf: Uint8Array): Partial {
  if (!(buf instanceof Uint8Array)) throw new TypeError('buf must be a Uint8Array');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 8 || view.getUint32(0, true) !== MAGIC) throw new FlockError('BAD_MESSAGE', 'not a fleet partial (bad magic)');
  const len = view.getUint32(4, true);
  if (8 + len > buf.byteLength) throw new FlockError('BAD_MESSAGE', 'fleet partial: header runs past the end');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, len).toString('utf8'));
  } catch {
    throw new FlockError('BAD_MESSAGE', 'fleet partial: header is not JSON');
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success) throw badMessage('fleet partial header', parsed.error);
  const h = parsed.data;
  const start = Math.ceil((8 + len) / 8) * 8;
  const floats = 2 + 2 * h.metricKeys.length + h.numParams;
  if (buf.byteLength !== start + 8 * floats) throw new FlockError('BAD_MESSAGE', `fleet partial: ${buf.byteLength} bytes; the header announces ${start + 8 * floats}`);
  // Copied: the buffer may not be 8-byte aligned, and it belongs to the Redis client.
  const f = new Float64Array(floats);
  for (let i = 0; i < floats; i++) f[i] = view.getFloat64(start + 8 * i, true);
  for (let i = 0; i < floats; i++) if (!Number.isFinite(f[i]!)) throw new FlockError('BAD_MESSAGE', `fleet partial: value ${i} is not finite`);
  const metrics: Partial['metrics'] = {};
  h.metricKeys.forEach((k, i) => (metrics[k] = { sum: f[2 + 2 * i]!, weight: f[3 + 2 * i]! }));
  return {
    roundId: h.roundId,
    round: h.round,
    nodeId: h.nodeId,
    token: h.token,
    reporters: h.reporters,
    rejected: h.rejected,
    count: h.count,
    weightTotal: f[0]!,
    numExamples: f[1]!,
    metrics,
    sum: h.numParams > 0 ? f.slice(2 + 2 * h.metricKeys.length) : undefined,
  };
}

export type MergeVerdict = 'merged' | 'duplicate' | 'stale-round' | 'wrong-token' | 'not-assigned' | 'node-lost';

/**
 * The leader's side of one round: which nodes may send a partial (those the plan assigned
 * members to), which already did, and which were given up (their node died). `accept` says
 * whether a partial may be merged now and records it: each (round id, node id) merges once.
 */
export class PartialLedger {
  private readonly merged = new Set<string>();
  private readonly lost = new Set<string>();

  constructor(
    readonly roundId: string,
    readonly token: number,
    private readonly assigned: ReadonlyMap<string, readonly string[]>,
  ) {}

  accept(p: Pick<Partial, 'roundId' | 'token' | 'nodeId'>): MergeVerdict {
    if (p.roundId !== this.roundId) return 'stale-round';
    if (p.token !== this.token) return 'wrong-token';
    if (!this.assigned.has(p.nodeId)) return 'not-assigned';
    if (this.lost.has(p.nodeId)) return 'node-lost';
    if (this.merged.has(p.nodeId)) return 'duplicate';
    this.merged.add(p.nodeId);
    return 'merged';
  }

  /** Gives a node up (it died before its partial came): its members, and later partials are refused. */
  giveUp(nodeId: string): readonly string[] {
    if (this.merged.has(nodeId) || this.lost.has(nodeId)) return [];
    this.lost.add(nodeId);
    return this.assigned.get(nodeId) ?? [];
  }

  /** Nodes whose partial is still awaited. */
  pending(): string[] {
    return [...this.assigned.keys()].filter((n) => !this.merged.has(n) && !this.lost.has(n));
  }

  /** Members of the cohort each node was given. */
  members(nodeId: string): readonly string[] {
    return this.assigned.get(nodeId) ?? [];
  }
}
