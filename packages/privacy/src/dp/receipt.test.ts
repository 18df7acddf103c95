import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { canonicalReceiptBytes, RECEIPT_DOMAIN, signReceipt, verifyReceipt, type PrivacyReceipt } from './receipt.js';

const receipt: PrivacyReceipt = {
  federationId: 'fed-1',
  round: 7,
  roundId: '7-0a1b2c3d4e5f',
  modelVersion: 6,
  modelHash: 'ab'.repeat(32),
  clip: 1.5,
  noiseMultiplier: 1.1,
  mode: 'distributed',
  epsilonSpent: 2.25,
  delta: 1e-5,
  issuedAt: '2026-11-25T15:00:00.000Z',
};

const TAMPER: Partial<PrivacyReceipt>[] = [
  { federationId: 'fed-2' },
  { round: 8 },
  { roundId: '7-0a1b2c3d4e60' },
  { modelVersion: 5 },
  { modelHash: 'cd'.repeat(32) },
  { clip: 1.6 },
  { noiseMultiplier: 1.0 },
  { mode: 'central' },
  { epsilonSpent: 2.0 },
  { delta: 1e-6 },
  { issuedAt: '2026-11-25T15:00:01.000Z' },
];

describe('privacy receipts', () => {
  const keys = nacl.sign.keyPair();

  it('sign then verify', () => {
    const s = signReceipt(receipt, keys.secretKey);
    expect(verifyReceipt(s, keys.publicKey)).toBe(true);
    expect(verifyReceipt(JSON.parse(JSON.stringify(s)), keys.publicKey)).toBe(true);
  });

  it('covers every field: changing any one breaks the signature', () => {
    const s = signReceipt(receipt, keys.secretKey);
    expect(TAMPER.length).toBe(Object.keys(receipt).length);
    for (const t of TAMPER) expect(verifyReceipt({ ...s, receipt: { ...s.receipt, ...t } }, keys.publicKey), JSON.stringify(t)).toBe(false);
  });

  it('is bound to the round id, the model version and the model hash: a receipt without them does not sign', () => {
    for (const k of ['roundId', 'modelVersion', 'modelHash'] as const) {
      const { [k]: _, ...partial } = receipt;
      expect(() => signReceipt(partial as PrivacyReceipt, keys.secretKey), k).toThrow(new RegExp(k));
    }
    expect(() => signReceipt({ ...receipt, modelHash: 'xyz' }, keys.secretKey)).toThrow(RangeError);
    expect(RECEIPT_DOMAIN).toBe('flock/receipt/v2');
  });

  it('fails with the wrong key, a flipped signature bit, or malformed input', () => {
    const s = signReceipt(receipt, keys.secretKey);
    expect(verifyReceipt(s, nacl.sign.keyPair().publicKey)).toBe(false);
    const flipped = (s.signature[0] === '0' ? '1' : '0') + s.signature.slice(1);
    expect(verifyReceipt({ ...s, signature: flipped }, keys.publicKey)).toBe(false);
    expect(verifyReceipt({ ...s, extra: 1 }, keys.publicKey)).toBe(false);
    expect(verifyReceipt(null, keys.publicKey)).toBe(false);
    expect(() => verifyReceipt(s, new Uint8Array(3))).toThrow(RangeError);
  });

  it('canonical bytes are independent of key order and domain-separated', () => {
    const reordered = Object.fromEntries(Object.entries(receipt).reverse()) as PrivacyReceipt;
    const a = canonicalReceiptBytes(receipt);
    expect(a).toEqual(canonicalReceiptBytes(reordered));
    expect(new TextDecoder().decode(a).startsWith(`${RECEIPT_DOMAIN}\u0000{"clip":1.5,`)).toBe(true);
  });

  it('rejects invalid receipts at signing time', () => {
    expect(() => signReceipt({ ...receipt, round: -1 }, keys.secretKey)).toThrow(/receipt\.round/);
    // No cohort counts (secret under DP): a receipt carrying them does not sign.
    expect(() => signReceipt({ ...receipt, cohortSize: 10, survivors: 9 } as PrivacyReceipt, keys.secretKey)).toThrow(/cohortSize/);
    expect(() => signReceipt({ ...receipt, epsilonSpent: Number.NaN }, keys.secretKey)).toThrow(/receipt\.epsilonSpent/);
    expect(() => signReceipt({ ...receipt, round: '7' as unknown as number }, keys.secretKey)).toThrow(TypeError);
    expect(() => signReceipt({ ...receipt, delta: 2 }, keys.secretKey)).toThrow(RangeError);
    expect(() => signReceipt(receipt, new Uint8Array(10))).toThrow(RangeError);
  });
});
