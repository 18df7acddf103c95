import { z } from 'zod';
import { StrategyConfigError } from './errors.js';

/**
 * Float64 vectors in saved strategy state: base64 of the little-endian IEEE-754 bytes, so a state
 * object is plain JSON and round-trips bit for bit (a JSON number array would too, but is ~3x larger).
 */
export function encodeFloat64(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Inverse of {@link encodeFloat64}; checks the length and that every value is finite. */
export function decodeFloat64(text: string, expectedLength: number, what: string): Float64Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== expectedLength * 8) {
    throw new StrategyConfigError('STRATEGY_INVALID', `saved state ${what} holds ${bytes.length} bytes; expected ${expectedLength * 8} (${expectedLength} float64 values)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(expectedLength);
  for (let i = 0; i < expectedLength; i++) {
    const v = view.getFloat64(i * 8, true);
    if (!Number.isFinite(v)) throw new StrategyConfigError('STRATEGY_INVALID', `saved state ${what}[${i}] is ${v}; optimizer state must be finite`);
    out[i] = v;
  }
  return out;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** The JSON shape every server-optimizer strategy saves (see `ServerOptimizerStrategy.state()`). */
export const serverOptimizerStateSchema = z.strictObject({
  format: z.literal('flock-strategy-state/v1'),
  strategy: z.string().min(1),
  /** Completed server steps (committed rounds). */
  step: z.number().int().nonnegative(),
  /** Model size the buffers belong to; null before the first step. */
  numParams: z.number().int().positive().nullable(),
  /** Hyper-parameters in force when the state was saved (informative; the constructor's options win on restore). */
  params: z.record(z.string(), z.number()),
  /** Named float64 buffers (base64, little-endian), each numParams long. */
  buffers: z.record(z.string(), base64),
});
export type ServerOptimizerState = z.infer<typeof serverOptimizerStateSchema>;
