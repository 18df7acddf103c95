// Privacy receipts: a signed statement, per round, of what privacy was spent. The
// coordinator signs with its Ed25519 key; anyone holding the public key (clients,
// auditors) can check that the numbers were not altered afterwards. A receipt names the
// round (`round`, `roundId`) and the model it committed (`modelVersion`, `modelHash`), so it
// cannot be presented as the receipt of another round: the SDK checks those fields against
// the round:end it arrives with (client/src/receipts.ts). It carries no cohort size or
// survivor count: under differential privacy the cohort is secret, and with the other
// clients' participation known a count would give a target's away.
//
// Canonical bytes: UTF-8 of 'flock/receipt/v2' + NUL, then the receipt as JSON with
// keys sorted and no whitespace. The prefix separates these signatures from any other
// message the same key might sign (and v2 receipts from v1's, which named no round id or
// model); sorting makes the bytes independent of property order; JSON number formatting
// in JS is deterministic (shortest round-trip form) and the schema forbids NaN/Infinity,
// which JSON cannot carry.

import nacl from 'tweetnacl';
import * as z from 'zod/mini';
import '../zod-locale.js';

export const RECEIPT_DOMAIN = 'flock/receipt/v2';

const finite = () => z.number().check(z.refine(Number.isFinite, 'must be finite'));

export const PrivacyReceiptSchema = z.strictObject({
  federationId: z.string().check(z.minLength(1), z.maxLength(256)),
  round: z.int().check(z.nonnegative()),
  /** The round's id (round:start / round:end `roundId`). */
  roundId: z.string().check(z.minLength(1), z.maxLength(64)),
  /** The model version the round committed. */
  modelVersion: z.int().check(z.nonnegative()),
  /** Its hash (protocol/v1.md 6.3). */
  modelHash: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')),
  clip: finite().check(z.positive()),
  noiseMultiplier: finite().check(z.nonnegative()),
  mode: z.enum(['central', 'distributed', 'local']),
  epsilonSpent: finite().check(z.nonnegative()),
  delta: finite().check(z.gt(0), z.lt(1)),
  issuedAt: z.iso.datetime(),
});

export type PrivacyReceipt = z.infer<typeof PrivacyReceiptSchema>;

export const SignedReceiptSchema = z.strictObject({
  receipt: PrivacyReceiptSchema,
  /** Ed25519 signature over canonicalReceiptBytes(receipt), lowercase hex (128 chars). */
  signature: z.string().check(z.regex(/^[0-9a-f]{128}$/)),
});

export type SignedReceipt = z.infer<typeof SignedReceiptSchema>;

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/**
 * Validate a receipt, turning schema failures into the project's error convention:
 * TypeError for a wrong type, RangeError for a bad value, naming the field.
 */
function parseReceipt(receipt: unknown): PrivacyReceipt {
  const r = PrivacyReceiptSchema.safeParse(receipt);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = ['receipt', ...issue.path.map(String)].join('.');
  const msg = `${where}: ${issue.message}`;
  throw issue.code === 'invalid_type' ? new TypeError(msg) : new RangeError(msg);
}

/** The exact bytes that are signed: domain prefix, NUL, canonical JSON. */
export function canonicalReceiptBytes(receipt: PrivacyReceipt): Uint8Array {
  const parsed = parseReceipt(receipt);
  return new TextEncoder().encode(`${RECEIPT_DOMAIN}\u0000${canonicalJson(parsed)}`);
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Sign a receipt with an Ed25519 secret key (64 bytes, as from nacl.sign.keyPair()). */
export function signReceipt(receipt: PrivacyReceipt, secretKey: Uint8Array): SignedReceipt {
  if (!(secretKey instanceof Uint8Array)) throw new TypeError('secretKey: expected a Uint8Array');
  if (secretKey.length !== nacl.sign.secretKeyLength) throw new RangeError(`secretKey: expected ${nacl.sign.secretKeyLength} bytes, got ${secretKey.length}`);
  const parsed = parseReceipt(receipt);
  const sig = nacl.sign.detached(canonicalReceiptBytes(parsed), secretKey);
  return { receipt: parsed, signature: toHex(sig) };
}

/**
 * True iff `signed` is a well-formed signed receipt whose signature verifies under
 * `publicKey`. Malformed input returns false rather than throwing (it is untrusted
 * data); a wrong-typed or wrong-length key is a programming error and throws.
 */
export function verifyReceipt(signed: unknown, publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array)) throw new TypeError('publicKey: expected a Uint8Array');
  if (publicKey.length !== nacl.sign.publicKeyLength) throw new RangeError(`publicKey: expected ${nacl.sign.publicKeyLength} bytes, got ${publicKey.length}`);
  const r = SignedReceiptSchema.safeParse(signed);
  if (!r.success) return false;
  return nacl.sign.detached.verify(canonicalReceiptBytes(r.data.receipt), fromHex(r.data.signature), publicKey);
}
