import * as z from 'zod/mini';
import './zod-locale.js';

/**
 * Every error that crosses a process boundary carries one of these codes.
 * The text is what the reader should do about it; docs/reference/errors.md lists them all.
 */
export const ERROR_CODES = {
  BAD_MESSAGE: 'A message did not match its schema. Fix the sender; details.issues lists the fields.',
  UNKNOWN_EVENT: 'The event name is not part of the protocol. Check protocol/v1.md for the event list.',
  PROTOCOL_VERSION_UNSUPPORTED: 'The client speaks another protocol version. Upgrade the client or the coordinator.',
  UNAUTHORIZED: 'The credential is missing or invalid (handshake signature or enrollment token; operator bearer token on the admin API). Ask the operator for an enrollment token.',
  CREDENTIAL_REVOKED: 'The operator revoked this client identity or enrollment token. Ask the operator for a new enrollment token (and use a new client id).',
  CREDENTIAL_EXPIRED: 'The enrollment token expired before it was used. Ask the operator for a new one.',
  TOKEN_ALREADY_USED: 'The enrollment token is already bound to another client identity; a token enrolls exactly one identity. Ask for a new token, or connect with the identity key it was bound to.',
  CHALLENGE_INVALID: 'The handshake nonce is unknown, expired or was already used. Fetch a fresh one from POST /v1/auth/challenge for every connection attempt.',
  COORDINATOR_KEY_CHANGED: 'The coordinator presented another signing key than the one this client trusts (pinned, or first seen). If the operator really rotated the key, pin the new one (coordinatorKey option); otherwise you may be talking to an impostor.',
  SESSION_REPLACED: 'A newer authenticated session of the same client identity took over; this one was closed.',
  NOT_FOUND: 'The named resource (client, token, endpoint) does not exist.',
  CLIENT_ID_IN_USE: 'Another live session uses this client id. Close it or pick another id.',
  ROUND_NOT_ACTIVE: 'The message names a round that is not the active one (stale or future). Wait for the next round:start.',
  NOT_SELECTED: 'This client is not in the cohort of the round. Wait for a round that selects it.',
  DUPLICATE_UPDATE: 'This client already reported for the round; only the first report counts.',
  LATE_UPDATE: 'The round deadline passed before the report arrived. Train faster or ask for a longer deadline.',
  MODEL_VERSION_MISMATCH: 'The update was computed on another model version than the round announced. Download the announced version.',
  WRONG_SHAPE: 'The update payload does not match the model spec (byte length or dtype). Send one little-endian float32 per parameter.',
  NON_FINITE: 'The update contains NaN or Infinity. Lower the learning rate or clip the update.',
  SUM_OVERFLOW: 'A fleet in deterministic mode sums updates exactly on a fixed-point grid; this update (or a node partial) would leave its range (|sum of weight x value| below 2^44 per parameter). It was refused and nothing was added. Clip the update, or run without --deterministic.',
  PAYLOAD_TOO_LARGE: 'The payload exceeds the configured size bound. Check the model size or raise maxUpdateBytes.',
  MODEL_HASH_MISMATCH: 'Downloaded weights do not hash to the announced model hash, or the local model architecture differs from the federation model.',
  MODEL_NOT_FOUND: 'No model with that version exists. GET /v1/models/latest for the current version.',
  ROUND_ABANDONED: 'The round ended without a new model (details.reason says why); the model is unchanged.',
  TOO_FEW_REPORTS: 'Fewer clients reported than minClients before the deadline; the round was abandoned.',
  SECAGG_REJECTED: 'A secure-aggregation stage message was refused (details.reason: replay, wrong stage, bad signature...). The client drops out of this round.',
  SECAGG_ABORTED: 'Too many clients dropped out during secure aggregation; the round was abandoned and nothing was revealed.',
  SECAGG_UNAVAILABLE: 'Secure aggregation cannot run with this setup (cohort too small, or a strategy that needs individual updates). details say which.',
  DP_UNAVAILABLE: 'Differential privacy cannot be guaranteed as configured (sampling that is not Poisson at the accountant\'s rate, adaptive clipping under secure aggregation...). details say which; change the settings it names.',
  RECEIPT_INVALID: 'A privacy receipt did not verify under the coordinator key. Do not trust its figures; report it to the operator.',
  RECEIPT_MISMATCH: 'A privacy receipt verified but is not for the round:end it came with (another round id, round, model version, model hash or federation), or reports a smaller epsilon than an earlier receipt: a replayed or stale receipt. Do not trust its figures; report it to the operator.',
  RATE_LIMITED: 'Too many messages or connection attempts in a short time (per client id or per IP). Wait details.retryAfterMs, then retry.',
  SEAL_INVALID: 'A sealed update did not open: tampered, a bad key-binding signature, or bound to another federation, round, client or model version (a replay), or sealed with a suite the other side does not accept (unsupported-suite). details.reason says which.',
  UPLOAD_REJECTED: 'A chunked upload message was refused (details.reason: no-upload, out-of-order, duplicate, backpressure, unsealed). Restart the upload with round:upload.',
  STORE_INCOMPATIBLE: 'The coordinator database cannot be used by this coordinator (written by a newer Flock, or for another model). Upgrade Flock or point --db at another file.',
  STORE_LOCKED: 'Another coordinator is running on this database. Stop it first, or point --db (or --data-dir) at another file.',
  STORE_UNAVAILABLE: 'The coordinator cannot reach its database (PostgreSQL refused the connection or the login, or went away). details.cause says which; check the --postgres URL and that the server runs.',
  STORE_CONFLICT: 'Another writer changed the coordinator database first: the round was already committed or abandoned (by another coordinator on the same database, or a restart). Nothing was written.',
  NOT_A_COORDINATOR: 'Something answers at the coordinator URL, but it is not a Flock coordinator. Check the URL and the port.',
  UNREACHABLE: 'No coordinator answered at the URL within the time allowed (giveUpAfterMs, --give-up-after). Check that it runs and that the URL, port and firewall are right.',
  INTERNAL: 'The coordinator hit an unexpected error; it was logged. Retry; report it if it persists.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** The one error envelope used in acks, `connect_error` data and HTTP error bodies. */
export const errorEnvelopeSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  details: z.optional(z.record(z.string(), z.unknown())),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

/** A typed error with a stable code. Thrown by Flock APIs and carried on the wire as an ErrorEnvelope. */
export class FlockError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'FlockError';
    this.code = code;
    this.details = details;
  }

  toEnvelope(): ErrorEnvelope {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromEnvelope(envelope: ErrorEnvelope): FlockError {
    return new FlockError(envelope.code, envelope.message, envelope.details);
  }
}

/** Turns zod issues into the BAD_MESSAGE envelope, naming each failing path. */
export function badMessage(what: string, error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): FlockError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  const first = issues[0];
  return new FlockError(
    'BAD_MESSAGE',
    `${what}: ${first ? `${first.path}: ${first.message}` : 'invalid'}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}`,
    { issues },
  );
}
