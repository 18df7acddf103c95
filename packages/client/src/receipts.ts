import { FlockError } from '@flock/protocol';
import { SignedReceiptSchema, fromHex, verifyReceipt, type PrivacyReceipt } from '@flock/privacy';

/** What a receipt must name: the round:end it arrived with, and the federation of the welcome. */
export interface ReceiptContext {
  federationId: string;
  roundId: string;
  round: number;
  modelVersion: number;
  modelHash: string;
}

/**
 * Checks a privacy receipt from round:end against the coordinator's Ed25519 public key (hex)
 * and, when `expected` is given, against the round:end it arrived with: returns the receipt,
 * or throws RECEIPT_INVALID (the signature does not verify) or RECEIPT_MISMATCH (a genuine
 * receipt for another round, model or federation: a replayed or stale one). Apps keep the
 * receipts as their own record of what the federation says it spent of their privacy.
 */
export function checkReceipt(signed: unknown, coordinatorKeyHex: string, expected?: ReceiptContext): PrivacyReceipt {
  if (typeof coordinatorKeyHex !== 'string' || !/^[0-9a-f]{64}$/.test(coordinatorKeyHex)) {
    throw new TypeError('coordinatorKeyHex must be 64 lowercase hex characters');
  }
  const parsed = SignedReceiptSchema.safeParse(signed);
  if (!parsed.success || !verifyReceipt(parsed.data, fromHex(coordinatorKeyHex))) {
    throw new FlockError('RECEIPT_INVALID', 'the privacy receipt does not verify under the coordinator key');
  }
  const receipt = parsed.data.receipt;
  if (expected) {
    for (const field of ['federationId', 'roundId', 'round', 'modelVersion', 'modelHash'] as const) {
      if (receipt[field] !== expected[field]) {
        throw new FlockError('RECEIPT_MISMATCH', `the privacy receipt names ${field} ${String(receipt[field])}, but it came with the round:end of ${field} ${String(expected[field])}: a replayed or stale receipt; do not trust its figures`, {
          reason: 'round',
          field,
          receipt: receipt[field],
          expected: expected[field],
        });
      }
    }
  }
  return receipt;
}

/**
 * The SDK's receipt check across rounds: each receipt must be for the round:end it came with
 * (checkReceipt), and the federation's epsilon never goes down (the accountant only
 * composes), so a receipt reporting less than an earlier one is refused with RECEIPT_MISMATCH.
 */
export class ReceiptChecker {
  #epsilon = 0;

  /** The largest epsilon an accepted receipt reported (0 before the first). */
  get epsilonSpent(): number {
    return this.#epsilon;
  }

  check(signed: unknown, coordinatorKeyHex: string, expected: ReceiptContext): PrivacyReceipt {
    const receipt = checkReceipt(signed, coordinatorKeyHex, expected);
    if (receipt.epsilonSpent < this.#epsilon) {
      throw new FlockError('RECEIPT_MISMATCH', `the privacy receipt reports epsilon ${receipt.epsilonSpent}, less than the ${this.#epsilon} an earlier receipt reported: the federation's epsilon never decreases; do not trust its figures`, {
        reason: 'epsilon-decreased',
        epsilonSpent: receipt.epsilonSpent,
        previous: this.#epsilon,
      });
    }
    this.#epsilon = receipt.epsilonSpent;
    return receipt;
  }
}
