/**
 * The packed wire form of the SecAgg+ stage messages. socket.io-parser refuses packets with
 * more than 10 binary attachments (a DoS guard), so per-client binary fields travel as one
 * concatenated buffer per list: every stage message has at most 2 attachments, whatever the
 * cohort size. Each pack/unpack pair is exact; unpacking checks every length.
 */
import * as z from 'zod/mini';
import { FlockError, badMessage } from './errors.js';
import { SECAGG_SHARE_BYTES, SECAGG_SHARE_CIPHERTEXT_BYTES, SECAGG_MAX_COHORT, SECAGG_MAX_NEIGHBOURS, secAggBinarySchema } from './secagg.js';
import type { SecAggAdvertiseKeys, SecAggMaskedInput, SecAggRoster, SecAggShareDelivery, SecAggShareKeys, SecAggUnmaskResponse } from './secagg.js';

/** identityKey(32) | encryptionKey(32) | maskKey(32) | selfSeedCommitment(32) | signature(64). */
export const SECAGG_KEY_RECORD_BYTES = 192;

const id = z.string().check(z.minLength(1), z.maxLength(128));
const header = { session: z.string().check(z.minLength(1), z.maxLength(128)), round: z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)) };
const bin = secAggBinarySchema;

export const wireAdvertiseSchema = z.object({ stage: z.literal('advertise-keys'), ...header, clientId: id, keys: bin });
export const wireRosterSchema = z.object({ stage: z.literal('roster'), ...header, clientIds: z.array(id).check(z.maxLength(SECAGG_MAX_COHORT)), keys: bin });
export const wireSharesSchema = z.object({ stage: z.enum(['share-keys', 'share-delivery']), ...header, clientId: id, peers: z.array(id).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)), ciphertexts: bin });
export const wireMaskedInputSchema = z.object({ stage: z.literal('masked-input'), ...header, clientId: id, masked: bin });
export const wireUnmaskSchema = z.object({
  stage: z.literal('unmask'),
  ...header,
  clientId: id,
  selfSeedOwners: z.array(id).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)),
  selfSeedShares: bin,
  maskKeyOwners: z.array(id).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)),
  maskKeyShares: bin,
});

function concat(parts: Uint8Array[], each: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.length * each);
  parts.forEach((p, i) => {
    if (p.length !== each) throw new RangeError(`every part must have ${each} bytes; part ${i} has ${p.length}`);
    out.set(p, i * each);
  });
  return out;
}

/** An owned copy of bytes [start, end): never a view into a larger transport buffer. */
function copy(buf: Uint8Array, start: number, end: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buf.subarray(start, end));
}

function split(buf: Uint8Array, count: number, each: number, what: string): Uint8Array<ArrayBuffer>[] {
  if (buf.length !== count * each) throw new FlockError('BAD_MESSAGE', `${what} must be ${count} x ${each} bytes; got ${buf.length}`);
  return Array.from({ length: count }, (_, i) => copy(buf, i * each, (i + 1) * each));
}

function parse<T>(schema: z.ZodMiniType<T>, what: string, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw badMessage(what, r.error);
  return r.data;
}

function keyRecord(m: SecAggAdvertiseKeys): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(SECAGG_KEY_RECORD_BYTES);
  out.set(m.identityKey, 0);
  out.set(m.encryptionKey, 32);
  out.set(m.maskKey, 64);
  out.set(m.selfSeedCommitment, 96);
  out.set(m.signature, 128);
  return out;
}

function fromKeyRecord(base: { session: string; round: number; clientId: string }, rec: Uint8Array): SecAggAdvertiseKeys {
  return {
    stage: 'advertise-keys',
    ...base,
    identityKey: copy(rec, 0, 32),
    encryptionKey: copy(rec, 32, 64),
    maskKey: copy(rec, 64, 96),
    selfSeedCommitment: copy(rec, 96, 128),
    signature: copy(rec, 128, 192),
  };
}

export function packAdvertise(m: SecAggAdvertiseKeys): z.infer<typeof wireAdvertiseSchema> {
  return { stage: m.stage, session: m.session, round: m.round, clientId: m.clientId, keys: keyRecord(m) };
}

export function unpackAdvertise(raw: unknown): SecAggAdvertiseKeys {
  const w = parse(wireAdvertiseSchema, 'secagg advertise-keys', raw);
  const [rec] = split(w.keys, 1, SECAGG_KEY_RECORD_BYTES, 'keys');
  return fromKeyRecord(w, rec!);
}

export function packRoster(m: SecAggRoster): z.infer<typeof wireRosterSchema> {
  return { stage: 'roster', session: m.session, round: m.round, clientIds: m.entries.map((e) => e.clientId), keys: concat(m.entries.map(keyRecord), SECAGG_KEY_RECORD_BYTES) };
}

export function unpackRoster(raw: unknown): SecAggRoster {
  const w = parse(wireRosterSchema, 'secagg roster', raw);
  const recs = split(w.keys, w.clientIds.length, SECAGG_KEY_RECORD_BYTES, 'keys');
  return { stage: 'roster', session: w.session, round: w.round, entries: w.clientIds.map((c, i) => fromKeyRecord({ session: w.session, round: w.round, clientId: c }, recs[i]!)) };
}

export function packShares(m: SecAggShareKeys | SecAggShareDelivery): z.infer<typeof wireSharesSchema> {
  return { stage: m.stage, session: m.session, round: m.round, clientId: m.clientId, peers: m.shares.map((s) => s.peer), ciphertexts: concat(m.shares.map((s) => s.ciphertext), SECAGG_SHARE_CIPHERTEXT_BYTES) };
}

export function unpackShares<S extends 'share-keys' | 'share-delivery'>(stage: S, raw: unknown): S extends 'share-keys' ? SecAggShareKeys : SecAggShareDelivery {
  const w = parse(wireSharesSchema, `secagg ${stage}`, raw);
  if (w.stage !== stage) throw new FlockError('BAD_MESSAGE', `expected a ${stage} message; got ${w.stage}`);
  const cts = split(w.ciphertexts, w.peers.length, SECAGG_SHARE_CIPHERTEXT_BYTES, 'ciphertexts');
  return { stage, session: w.session, round: w.round, clientId: w.clientId, shares: w.peers.map((peer, i) => ({ peer, ciphertext: cts[i]! })) } as never;
}

export function packMaskedInput(m: SecAggMaskedInput): z.infer<typeof wireMaskedInputSchema> {
  return { stage: m.stage, session: m.session, round: m.round, clientId: m.clientId, masked: m.masked as Uint8Array<ArrayBuffer> };
}

export function unpackMaskedInput(raw: unknown): SecAggMaskedInput {
  const w = parse(wireMaskedInputSchema, 'secagg masked-input', raw);
  return { ...w, masked: copy(w.masked, 0, w.masked.length) };
}

export function packUnmask(m: SecAggUnmaskResponse): z.infer<typeof wireUnmaskSchema> {
  return {
    stage: 'unmask',
    session: m.session,
    round: m.round,
    clientId: m.clientId,
    selfSeedOwners: m.selfSeedShares.map((s) => s.owner),
    selfSeedShares: concat(m.selfSeedShares.map((s) => s.share), SECAGG_SHARE_BYTES),
    maskKeyOwners: m.maskKeyShares.map((s) => s.owner),
    maskKeyShares: concat(m.maskKeyShares.map((s) => s.share), SECAGG_SHARE_BYTES),
  };
}

export function unpackUnmask(raw: unknown): SecAggUnmaskResponse {
  const w = parse(wireUnmaskSchema, 'secagg unmask', raw);
  const seeds = split(w.selfSeedShares, w.selfSeedOwners.length, SECAGG_SHARE_BYTES, 'selfSeedShares');
  const keys = split(w.maskKeyShares, w.maskKeyOwners.length, SECAGG_SHARE_BYTES, 'maskKeyShares');
  return {
    stage: 'unmask',
    session: w.session,
    round: w.round,
    clientId: w.clientId,
    selfSeedShares: w.selfSeedOwners.map((owner, i) => ({ owner, share: seeds[i]! })),
    maskKeyShares: w.maskKeyOwners.map((owner, i) => ({ owner, share: keys[i]! })),
  };
}
