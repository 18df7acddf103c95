/** Vectors of privacy receipts (protocol/v1.md 5.7a). */
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
      receipt: { federationId: FEDERATION_ID, round: 12, cohortSize: 8, survivors: 7, clip: 1, noiseMultiplier: 1.1, mode: 'distributed', epsilonSpent: 0.7242234026109595, delta: 0.00001, issuedAt: '2026-01-02T03:04:05.678Z' },
    },
    {
      name: 'central mode, tiny epsilon',
      receipt: { issuedAt: '2026-01-02T03:04:06.000Z', delta: 1e-7, epsilonSpent: 1.25e-7, mode: 'central', noiseMultiplier: 12, clip: 0.05, survivors: 3, cohortSize: 3, round: 1, federationId: 'f' },
    },
  ];
  return {
    about:
      'Privacy receipts (protocol/v1.md 5.7a). signed bytes = UTF-8 of "flock/receipt/v1" NUL, then the receipt as JSON with keys sorted by UTF-16 code units, no whitespace, strings as JSON.stringify writes them and numbers as ECMAScript Number::toString writes them (shortest round-trip; 0.00001 stays fixed, 1e-7 is exponent form, 1 has no ".0"). signature = Ed25519 by the coordinator key (welcome.coordinatorKey) over those bytes, lowercase hex.',
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
      { about: 'survivors above cohortSize', case: 1, patch: { survivors: 4 } },
    ],
  };
}
