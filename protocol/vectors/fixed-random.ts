/**
 * Fixed randomness for the conformance vectors (protocol/vectors/*.json). Shared by the
 * generator (generate.ts) and the conformance test (test/conformance.test.ts): both run the
 * production code paths with the random draws a vector lists, so the outputs are reproducible
 * byte for byte. Nothing here is used outside vectors and tests.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createHash } from 'node:crypto';
import { nodePlatform } from '@flock/privacy/node';
import type { PlatformCrypto } from '@flock/privacy';

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function unhex(s: string): Uint8Array<ArrayBuffer> {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/.test(s)) throw new RangeError(`not lowercase hex: ${String(s).slice(0, 40)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/**
 * Deterministic bytes for vector inputs: SHA-256(label | u32be(counter)) blocks. Only the
 * generator uses it, to pick inputs; every vector lists the bytes themselves.
 */
export function labelled(label: string, n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let off = 0, c = 0; off < n; off += 32, c++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32BE(c);
    const block = createHash('sha256').update(label).update(ctr).digest();
    out.set(block.subarray(0, Math.min(32, n - off)), off);
  }
  return out;
}

/** A PlatformCrypto whose randomBytes returns the scripted draws in order (sizes must match). */
export interface ScriptedPlatform extends PlatformCrypto {
  /** Draws not consumed yet. */
  readonly left: number;
  /** Every size asked for, in order. */
  readonly asked: number[];
}

export function scriptedPlatform(draws: readonly Uint8Array[], base: PlatformCrypto = nodePlatform): ScriptedPlatform {
  const queue = draws.map((d) => d.slice());
  const asked: number[] = [];
  const p = { ...base, name: 'scripted' } as ScriptedPlatform;
  Object.defineProperty(p, 'randomBytes', {
    value(n: number): Uint8Array {
      asked.push(n);
      const next = queue.shift();
      if (!next) throw new Error(`scripted platform: no draw left for randomBytes(${n})`);
      if (next.length !== n) throw new Error(`scripted platform: randomBytes(${n}) but the next draw has ${next.length} bytes`);
      return next;
    },
  });
  Object.defineProperty(p, 'left', { get: () => queue.length });
  Object.defineProperty(p, 'asked', { value: asked });
  return p;
}

const nodeCrypto = createRequire(import.meta.url)('node:crypto') as { randomBytes: (n: number) => Buffer };

/**
 * Runs `f` while node:crypto's randomBytes returns the scripted draws. The audited Shamir library
 * (shamir-secret-sharing) draws its randomness from node:crypto itself, so this is how its split
 * is made reproducible. The patch stays until `f` settles: nothing else may call
 * node:crypto.randomBytes meanwhile (an unexpected caller gets a draw of the wrong size and
 * throws). Every draw must be consumed, with the sizes the library asks for.
 */
export async function withNodeRandom<T>(draws: readonly Uint8Array[], f: () => Promise<T>): Promise<T> {
  const queue = draws.map((d) => d.slice());
  const original = nodeCrypto.randomBytes;
  nodeCrypto.randomBytes = (n: number): Buffer => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`scripted node:crypto: randomBytes(${n}) but the next draw has ${next?.length ?? 'no'} bytes`);
    const out = Buffer.alloc(n); // not pooled: the library reads .buffer
    out.set(next);
    return out;
  };
  syncBuiltinESMExports();
  try {
    const result = await f();
    if (queue.length > 0) throw new Error(`scripted node:crypto: ${queue.length} draws left unused`);
    return result;
  } finally {
    nodeCrypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}

/** The draws shamir-secret-sharing makes for one split: 255 bytes (x-coordinate shuffle), then t - 1 per secret byte. */
export function shamirDraws(coordinateBytes: Uint8Array, coefficientBytes: Uint8Array, secretLength: number, t: number): Uint8Array[] {
  if (coordinateBytes.length !== 255) throw new RangeError('coordinateBytes must be 255 bytes');
  if (coefficientBytes.length !== secretLength * (t - 1)) throw new RangeError(`coefficientBytes must be ${secretLength * (t - 1)} bytes`);
  const draws = [coordinateBytes];
  for (let i = 0; i < secretLength; i++) draws.push(coefficientBytes.subarray(i * (t - 1), (i + 1) * (t - 1)));
  return draws;
}
