import { describe, expect, it } from 'vitest';
import { FlockError } from '@flock/protocol';
import { generateIdentityKeyPair, signReceipt, toHex, webPlatform } from '@flock/privacy';
import { checkReceipt } from './receipts.js';

const receipt = { federationId: 'f', round: 3, cohortSize: 10, survivors: 9, clip: 0.5, noiseMultiplier: 1.1, mode: 'central' as const, epsilonSpent: 2.5, delta: 1e-5, issuedAt: '2026-11-25T16:00:00.000Z' };

describe('checkReceipt', () => {
  const key = generateIdentityKeyPair(webPlatform);
  const signed = signReceipt(receipt, key.secretKey);

  it('returns the receipt when the signature verifies', () => {
    expect(checkReceipt(signed, toHex(key.publicKey))).toEqual(receipt);
  });

  it('rejects a tampered receipt, a forged signature and another key with RECEIPT_INVALID', () => {
    const cases = [
      { ...signed, receipt: { ...signed.receipt, epsilonSpent: 0.1 } },
      { ...signed, receipt: { ...signed.receipt, survivors: 8 } },
      { ...signed, signature: signed.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) },
    ];
    for (const bad of cases) {
      try {
        checkReceipt(bad, toHex(key.publicKey));
        expect.unreachable();
      } catch (e) {
        expect((e as FlockError).code).toBe('RECEIPT_INVALID');
      }
    }
    const other = generateIdentityKeyPair(webPlatform);
    expect(() => checkReceipt(signed, toHex(other.publicKey))).toThrow(FlockError);
    expect(() => checkReceipt(signed, 'not-hex')).toThrow(TypeError);
  });
});
