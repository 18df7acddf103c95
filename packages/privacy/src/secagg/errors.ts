/** Error codes of the SecAgg engine. Messages never contain secret material or partial sums. */
export type SecAggErrorCode =
  /** Too many dropouts (or a failed reconstruction): the round is abandoned, nothing is revealed. */
  | 'SECAGG_ABORTED'
  /** A message (or an encrypted share) bound to another session or round. */
  | 'SECAGG_REPLAY'
  /** A second message for the same stage from the same client. */
  | 'SECAGG_DUPLICATE'
  /** A message for a stage that is not open (too early, too late, or out of order). */
  | 'SECAGG_STAGE'
  /** A roster entry whose signature or identity does not verify. */
  | 'SECAGG_BAD_SIGNATURE'
  /** A structurally invalid message (unknown client, wrong sizes, inconsistent lists). */
  | 'SECAGG_BAD_MESSAGE'
  /** An encrypted share that does not open. */
  | 'SECAGG_DECRYPT_FAILED'
  /** An unmasking request a client must refuse (it would let the server unmask an individual). */
  | 'SECAGG_MALICIOUS_REQUEST'
  /** More clients than the quantization bound n_max allows. */
  | 'SECAGG_COHORT_TOO_LARGE'
  /** A Diffie-Hellman output of all zeros (low-order public key). */
  | 'SECAGG_ZERO_DH'
  /**
   * The threshold is not a strict majority of the graph's real degree (odd n and k give degree
   * k + 1): the coordinator could collect both kinds of shares of a client. Nobody takes part.
   */
  | 'SECAGG_WEAK_THRESHOLD'
  /**
   * The survivors' neighbour graph fell apart: unmasking would reveal the sum of each part
   * (the coordinator holds each masked input). The round is refused before any share is revealed.
   */
  | 'SECAGG_SURVIVORS_SPLIT';

export class SecAggError extends Error {
  readonly code: SecAggErrorCode;
  constructor(code: SecAggErrorCode, message: string) {
    super(message);
    this.name = 'SecAggError';
    this.code = code;
  }
}

export function isSecAggError(e: unknown, code?: SecAggErrorCode): e is SecAggError {
  return e instanceof SecAggError && (code === undefined || e.code === code);
}
