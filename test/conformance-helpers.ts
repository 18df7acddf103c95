/** Shared by the conformance tests: reading protocol/vectors/*.json and their wire forms. */
import { readFileSync } from 'node:fs';
import { hex, unhex } from '../protocol/vectors/fixed-random.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const vectorDir = new URL('../protocol/vectors/', import.meta.url);

export const vector = (name: string): Json => JSON.parse(readFileSync(new URL(`${name}.json`, vectorDir), 'utf8'));

/** Every vector file; test/conformance.test.ts checks that the directory holds exactly these. */
export const FILES = ['tensor-codec', 'model-hash', 'handshake', 'seal-keys', 'sealed-chunk', 'sealed-chunk-aead', 'receipts', 'secagg-kdf', 'secagg-prg', 'secagg-graph', 'shamir', 'quantize', 'secagg-round', 'messages'];

/** Binary fields (named in `binary`) from hex back to bytes, as socket.io delivers attachments. */
export function fromWire(payload: Record<string, unknown>, binary: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const k of binary) out[k] = unhex(payload[k] as string);
  return out;
}

export function toWire(payload: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : v]));
}
