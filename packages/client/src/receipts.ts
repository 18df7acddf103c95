import { FlockError } from '@flock/protocol';
import { SignedReceiptSchema, fromHex, verifyReceipt, type PrivacyReceipt } from '@flock/privacy';

/**
 * Checks a privacy receipt from round:end against the coordinator's Ed25519 public key (hex):
 * returns the receipt, or throws RECEIPT_INVALID. Apps keep the receipts as their own record
 * of what the federation says it spent of their privacy.
 */
export function checkReceipt(signed: unknown, coordinatorKeyHex: string): PrivacyReceipt {
  if (typeof coordinatorKeyHex !== 'string' || !/^[0-9a-f]{64}$/.test(coordinatorKeyHex)) {
    throw new TypeError('coordinatorKeyHex must be 64 lowercase hex characters');
  }
  const parsed = SignedReceiptSchema.safeParse(signed);
  if (!parsed.success || !verifyReceipt(parsed.data, fromHex(coordinatorKeyHex))) {
    throw new FlockError('RECEIPT_INVALID', 'the privacy receipt does not verify under the coordinator key');
  }
  return parsed.data.receipt;
}
