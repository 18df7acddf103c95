/** Vectors of privacy receipts (protocol/v1.md 5.7.1). */
import nacl from 'tweetnacl';
import { canonicalReceiptBytes, signReceipt, type PrivacyReceipt } from '@flock/privacy';
import { hex } from '../fixed-random.js';
import { COORDINATOR_SEED, FEDERATION_ID } from './auth-seal.js';

export function receipts(): Record<string, unknown> {
  const coord = nacl.sign.keyPair.fromSeed(COORDINATOR_SEED);
  // Numbers chosen to show ECMAScript number formatting: an integer-valued double (clip 1),
  // 0.00001 (fixed notation down to 1e-6), exponents below it, and a long fraction.
  const cases: { name: string; receipt: PrivacyReceipt }[] = [
    {
      name: 'distributed mode',
      receipt: {
        federationId: FEDERATION_ID,
        round: 12,
        roundId: '12-00aa11bb22cc',
        modelVersion: 9,
        modelHash: '681fa796dadd58d376d48ac3362ef4dfb2acf11e0317540b7f2b9b0064ba1182',
        clip: 1,
        noiseMultiplier: 1.1,
        mode: 'distributed',
        epsilonSpent: 0.7242234026109595,
        delta: 0.00001,
        issuedAt: '2026-01-02T03:04:05.678Z',
      },
    },
    {
      name: 'central mode, tiny epsilon, keys given in reverse order',
      receipt: {
        issuedAt: '2026-01-02T03:04:06.000Z',
        delta: 1e-7,
        epsilonSpent: 1.25e-7,
        mode: 'central',
        noiseMultiplier: 12,
        clip: 0.05,
        modelHash: 'a9e16994894a0317331a5b94004390895396d8e78e42718531c3ee86823bd37a',
        modelVersion: 1,
        roundId: '1-000000000001',
        round: 1,
        federationId: 'f',
      },
    },
  ];
  return {
    about:
      'Privacy receipts (protocol/v1.md 5.7.1). signed bytes = UTF-8 of "flock/receipt/v2" NUL, then the receipt as JSON with keys sorted by UTF-16 code units, no whitespace, strings as JSON.stringify writes them and numbers as ECMAScript Number::toString writes them (shortest round-trip; 0.00001 stays fixed, 1e-7 is exponent form, 1 has no ".0"). signature = Ed25519 by the coordinator key (welcome.coordinatorKey) over those bytes, lowercase hex. `roundEnd` is the round:end `receipt` field; a receipt must also name the round:end it comes with (`mismatch`).',
    source:
      'protocol/vectors/generate.ts (build/receipts.ts): canonicalReceiptBytes and signReceipt of @flock/privacy (tweetnacl Ed25519), coordinator seed as in seal-keys.json. The second receipt is given with its keys in reverse order: the signed bytes do not depend on it.',
    coordinatorKey: hex(coord.publicKey),
    cases: cases.map((c) => {
      const bytes = canonicalReceiptBytes(c.receipt);
      const signed = signReceipt(c.receipt, coord.secretKey);
      return { name: c.name, receipt: c.receipt, signedText: new TextDecoder().decode(bytes), signedBytes: hex(bytes), signature: signed.signature, roundEnd: { receipt: signed.receipt, signature: signed.signature } };
    }),
    refused: [
      { about: 'epsilonSpent changed after signing', case: 0, patch: { epsilonSpent: 0.7 } },
      { about: 'an extra field (receipts are strict objects)', case: 0, patch: { note: 'x' } },
      { about: 'a v1 field (cohortSize) that v2 no longer has', case: 1, patch: { cohortSize: 3 } },
    ],
    mismatch: [
      { about: 'a genuine receipt arriving with the round:end of another round (a replay): RECEIPT_MISMATCH', case: 0, field: 'roundId', expected: { roundId: '13-00aa11bb22cd', round: 13 } },
      { about: 'a genuine receipt for another model version', case: 0, field: 'modelVersion', expected: { modelVersion: 10 } },
    ],
  };
}
