import { describe, expect, it } from 'vitest';
import { FlockError } from '@flock/protocol';
import { generateIdentityKeyPair, signReceipt, toHex, webPlatform } from '@flock/privacy';
import { ReceiptChecker, checkReceipt } from './receipts.js';

const hash = (c: string): string => c.repeat(64);
const receipt = {
  federationId: 'f',
  round: 3,
  roundId: '3-aaaaaaaaaaaa',
  modelVersion: 2,
  modelHash: hash('a'),
  clip: 0.5,
  noiseMultiplier: 1.1,
  mode: 'central' as const,
  epsilonSpent: 2.5,
  delta: 1e-5,
  issuedAt: '2026-11-25T16:00:00.000Z',
};
/** The round:end a receipt arrives with. */
const endOf = (r: typeof receipt) => ({ federationId: r.federationId, roundId: r.roundId, round: r.round, modelVersion: r.modelVersion, modelHash: r.modelHash });

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FlockError);
    return (e as FlockError).code;
  }
  throw new Error('did not throw');
}

describe('checkReceipt', () => {
  const key = generateIdentityKeyPair(webPlatform);
  const signed = signReceipt(receipt, key.secretKey);

  it('returns the receipt when the signature verifies', () => {
    expect(checkReceipt(signed, toHex(key.publicKey))).toEqual(receipt);
    expect(checkReceipt(signed, toHex(key.publicKey), endOf(receipt))).toEqual(receipt);
  });

  it('rejects a tampered receipt, a forged signature and another key with RECEIPT_INVALID', () => {
    const cases = [
      { ...signed, receipt: { ...signed.receipt, epsilonSpent: 0.1 } },
      { ...signed, receipt: { ...signed.receipt, clip: 0.6 } },
      { ...signed, receipt: { ...signed.receipt, modelHash: hash('b') } },
      { ...signed, signature: signed.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) },
    ];
    for (const bad of cases) expect(code(() => checkReceipt(bad, toHex(key.publicKey)))).toBe('RECEIPT_INVALID');
    const other = generateIdentityKeyPair(webPlatform);
    expect(() => checkReceipt(signed, toHex(other.publicKey))).toThrow(FlockError);
    expect(() => checkReceipt(signed, 'not-hex')).toThrow(TypeError);
  });

  it('refuses a genuine receipt that is not for the round:end it came with (RECEIPT_MISMATCH)', () => {
    const k = toHex(key.publicKey);
    for (const other of [{ roundId: '4-bbbbbbbbbbbb' }, { round: 4 }, { modelVersion: 3 }, { modelHash: hash('c') }, { federationId: 'g' }]) {
      expect(code(() => checkReceipt(signed, k, { ...endOf(receipt), ...other })), JSON.stringify(other)).toBe('RECEIPT_MISMATCH');
    }
  });
});

describe('ReceiptChecker', () => {
  const key = generateIdentityKeyPair(webPlatform);
  const k = toHex(key.publicKey);
  const r1 = receipt;
  const r2 = { ...receipt, round: 4, roundId: '4-bbbbbbbbbbbb', modelVersion: 3, modelHash: hash('b'), epsilonSpent: 3.1 };
  const s1 = signReceipt(r1, key.secretKey);
  const s2 = signReceipt(r2, key.secretKey);

  it("accepts each round's own receipt, with epsilon never going down", () => {
    const checker = new ReceiptChecker();
    expect(checker.check(s1, k, endOf(r1)).epsilonSpent).toBe(2.5);
    expect(checker.check(s2, k, endOf(r2)).epsilonSpent).toBe(3.1);
    expect(checker.epsilonSpent).toBe(3.1);
  });

  it('refuses an old receipt replayed with a later round:end: it names another round and reports a smaller epsilon', () => {
    const checker = new ReceiptChecker();
    checker.check(s1, k, endOf(r1));
    expect(code(() => checker.check(s1, k, endOf(r2)))).toBe('RECEIPT_MISMATCH');
    checker.check(s2, k, endOf(r2));
    // Even a receipt re-signed for a later round cannot lower what was reported before.
    const lower = { ...r2, round: 5, roundId: '5-cccccccccccc', modelVersion: 4, modelHash: hash('d'), epsilonSpent: 1 };
    const e = (() => {
      try {
        checker.check(signReceipt(lower, key.secretKey), k, endOf(lower));
      } catch (err) {
        return err as FlockError;
      }
      throw new Error('accepted');
    })();
    expect(e.code).toBe('RECEIPT_MISMATCH');
    expect(e.details).toMatchObject({ reason: 'epsilon-decreased', epsilonSpent: 1, previous: 3.1 });
    expect(checker.epsilonSpent).toBe(3.1);
  });
});
