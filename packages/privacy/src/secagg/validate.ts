import { SecAggError } from './errors.js';

/** Structural checks of incoming stage messages (protocol errors are SecAggErrors, not TypeErrors). */

export function bad(what: string): SecAggError {
  return new SecAggError('SECAGG_BAD_MESSAGE', `malformed secure-aggregation message: ${what}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function checkId(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > 128) throw bad(`${what} must be a client id`);
  return v;
}

export function checkBytes(v: unknown, what: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(`${what} must be binary`);
  if (length !== undefined && v.length !== length) throw bad(`${what} must be ${length} bytes`);
  return v;
}

export function checkArray(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw bad(`${what} must be an array`);
  if (v.length > max) throw bad(`${what} has too many elements`);
  return v;
}

/**
 * Checks the stage tag, then session and round: a message bound to another session or round is
 * a replay (SECAGG_REPLAY).
 */
export function checkHeader(msg: unknown, argName: string, stage: string, session: string, round: number): Record<string, unknown> {
  if (!isObject(msg)) throw new TypeError(`${argName} must be an object`);
  if (msg.stage !== stage) throw new SecAggError('SECAGG_STAGE', `expected a '${stage}' message, got '${String(msg.stage)}'`);
  if (typeof msg.session !== 'string' || typeof msg.round !== 'number') throw bad('session/round');
  if (msg.session !== session || msg.round !== round) {
    throw new SecAggError('SECAGG_REPLAY', `message for another session or round (expected round ${round} of this session)`);
  }
  return msg;
}

export function checkIdList(v: unknown, what: string, max: number): string[] {
  const arr = checkArray(v, what, max);
  const seen = new Set<string>();
  for (const x of arr) {
    const id = checkId(x, what);
    if (seen.has(id)) throw bad(`${what} lists ${id} twice`);
    seen.add(id);
  }
  return arr as string[];
}
