/**
 * Protocol fuzzing against a real coordinator over raw socket.io-client sockets (shared by
 * test/fuzz.test.ts and test/fuzz.slow.test.ts). Messages are generated with fast-check
 * (fc.sample with a fixed seed: reproducible) and sent in pipelined batches, many per connection.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { ERROR_CODES, EVENTS, PROTOCOL_VERSION, SECAGG_EVENTS, UPLOAD_EVENTS, ackSchema, errorEnvelopeSchema, type RoundStart } from '@flock/protocol';
import type { Coordinator, CoordinatorSettingsInput } from '@flock/coordinator';
import { startCoordinator, waitFor } from './helpers.js';

export const CLIENT_EVENT_NAMES = [
  EVENTS.roundUpdate,
  EVENTS.roundEvaluate,
  EVENTS.roundDecline,
  UPLOAD_EVENTS.begin,
  UPLOAD_EVENTS.chunk,
  SECAGG_EVENTS.advertiseKeys,
  SECAGG_EVENTS.shareKeys,
  SECAGG_EVENTS.maskedInput,
  SECAGG_EVENTS.unmask,
  // S->C names sent the wrong way, and names that are no event at all.
  SECAGG_EVENTS.roster,
  EVENTS.welcome,
  EVENTS.roundEnd,
  'round:steal',
  'secagg:bogus',
  'flock:error',
  '',
  'x'.repeat(300),
] as const;

export interface FuzzMessage {
  event: string;
  args: unknown[];
  withAck: boolean;
}

/** Values that come up in the round: real ids make some messages pass the first checks and reach deeper code. */
export interface Pools {
  roundIds: string[];
  sessions: string[];
  clientIds: string[];
  numParams: number;
}

function arbitraries(p: Pools) {
  const weirdNumber = fc.oneof(
    fc.constantFrom(0, -0, -1, 1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE, -(2 ** 63), p.numParams * 4, p.numParams * 4 + 1, 256 * 1024, 1024),
    fc.integer(),
    fc.double(),
  );
  const str = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...p.roundIds, ...p.sessions, ...p.clientIds, '', 'a'.repeat(5000), '00'.repeat(8), 'ff'.repeat(16), '__proto__', 'constructor'));
  const bin = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom(0, 1, 3, 72, 128, 192, 4096, 65_536 + 72).map((n) => new Uint8Array(n)),
    fc.integer({ min: 0, max: 20_000 }).map((n) => new Uint8Array(n).fill(7)),
  );
  const leaf = fc.oneof(weirdNumber, str, fc.boolean(), fc.constant(null), fc.constant(undefined), bin);
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 12 }), tie('v'), { maxKeys: 6, noNullPrototype: true })),
  })).v;
  // Near-valid messages: a valid-looking template with fields dropped, replaced or added.
  const templates: Array<Record<string, unknown>> = [
    { roundId: p.roundIds[0] ?? 'r', modelVersion: 0, numExamples: 5 },
    { roundId: p.roundIds[0] ?? 'r', modelVersion: 0, numExamples: 5, loss: 0.5, accuracy: 0.5 },
    { roundId: p.roundIds[0] ?? 'r', reason: 'busy' },
    { roundId: p.roundIds[0] ?? 'r', uploadId: '0123456789abcdef', modelVersion: 0, numExamples: 5, byteLength: p.numParams * 4, chunkBytes: 256 * 1024, seal: new Uint8Array(128) },
    { roundId: p.roundIds[0] ?? 'r', uploadId: '0123456789abcdef', index: 0 },
    { stage: 'advertise-keys', session: p.sessions[0] ?? 's', round: 1, clientId: p.clientIds[0] ?? 'c', keys: new Uint8Array(192) },
    { stage: 'share-keys', session: p.sessions[0] ?? 's', round: 1, clientId: p.clientIds[0] ?? 'c', peers: p.clientIds.slice(0, 2), ciphertexts: new Uint8Array(10) },
    { stage: 'masked-input', session: p.sessions[0] ?? 's', round: 1, clientId: p.clientIds[0] ?? 'c', masked: new Uint8Array(64) },
    { stage: 'unmask', session: p.sessions[0] ?? 's', round: 1, clientId: p.clientIds[0] ?? 'c', selfSeedOwners: [], selfSeedShares: new Uint8Array(0), maskKeyOwners: p.clientIds.slice(0, 1), maskKeyShares: new Uint8Array(33) },
  ];
  const nearValid = fc
    .tuple(fc.constantFrom(...templates), fc.array(fc.tuple(fc.constantFrom('drop', 'set', 'add'), fc.string({ maxLength: 14 }), value), { maxLength: 3 }))
    .map(([t, edits]) => {
      const o: Record<string, unknown> = { ...t };
      const keys = Object.keys(o);
      for (const [op, key, v] of edits) {
        const k = keys.length && op !== 'add' ? keys[key.length % keys.length]! : key;
        if (op === 'drop') delete o[k];
        else o[k] = v;
      }
      return o;
    });
  const arg = fc.oneof({ weight: 3, arbitrary: nearValid }, { weight: 2, arbitrary: value }, { weight: 1, arbitrary: bin });
  return fc.record({
    event: fc.constantFrom(...CLIENT_EVENT_NAMES),
    // 0..4 arguments; at most 3 binary attachments in one message (socket.io-parser allows 10).
    args: fc.array(arg, { maxLength: 4 }),
    withAck: fc.boolean(),
  });
}

export function generate(p: Pools, n: number, seed: number): FuzzMessage[] {
  return fc.sample(arbitraries(p), { numRuns: n, seed });
}

export class FuzzPeer {
  readonly socket: Socket;
  readonly errors: unknown[] = [];
  starts: RoundStart[] = [];
  welcomed = false;
  disconnects = 0;

  constructor(url: string, readonly clientId: string) {
    this.socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientId }, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on(EVENTS.error, (e: unknown) => this.errors.push(e));
    this.socket.on(EVENTS.welcome, () => (this.welcomed = true));
    this.socket.on(EVENTS.roundStart, (s: RoundStart) => this.starts.push(s));
    this.socket.on('disconnect', () => this.disconnects++);
  }

  async ready(): Promise<void> {
    await waitFor(() => this.welcomed, 10_000, `welcome of ${this.clientId}`);
  }
}

export interface FuzzStats {
  sent: number;
  acked: number;
  okAcks: number;
  codes: Map<string, number>;
  noAck: number;
  flockErrors: number;
  badReplies: string[];
}

function countBinaries(v: unknown, depth = 0): number {
  if (v instanceof Uint8Array || v instanceof ArrayBuffer) return 1;
  if (depth > 64 || v === null || typeof v !== 'object') return 0;
  let n = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += countBinaries(x, depth + 1);
  return n;
}

/** Keeps a message within what socket.io itself allows (<= 10 attachments, under the frame bound), so the fuzz reaches the coordinator. */
export function transportSafe(m: FuzzMessage, frameBound: number): boolean {
  if (countBinaries(m.args) > 8) return false;
  let size = 0;
  const walk = (v: unknown, d = 0): void => {
    if (v instanceof Uint8Array) size += v.byteLength;
    else if (typeof v === 'string') size += v.length * 3;
    else if (v && typeof v === 'object' && d < 64) for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, d + 1);
  };
  walk(m.args);
  return size < frameBound / 2;
}

/**
 * Sends the messages over the peers (round robin, `batch` in flight per peer) and checks every
 * ack. Messages without an ack are counted; their flock:error events are checked by the caller.
 */
export async function blast(peers: FuzzPeer[], messages: FuzzMessage[], stats: FuzzStats, batch = 64): Promise<void> {
  const known = new Set(Object.keys(ERROR_CODES));
  const lanes = peers.map((peer, lane) => messages.filter((_, i) => i % peers.length === lane).map((m) => ({ peer, m })));
  await Promise.all(
    lanes.map(async (lane) => {
      for (let i = 0; i < lane.length; i += batch) {
        await Promise.all(
          lane.slice(i, i + batch).map(async ({ peer, m }) => {
            stats.sent++;
            if (!m.withAck) {
              stats.noAck++;
              peer.socket.emit(m.event, ...m.args);
              return;
            }
            const raw: unknown = await peer.socket.timeout(20_000).emitWithAck(m.event, ...m.args);
            stats.acked++;
            const ack = ackSchema.safeParse(raw);
            if (!ack.success) {
              stats.badReplies.push(`${m.event}: ${JSON.stringify(raw).slice(0, 200)}`);
              return;
            }
            if (ack.data.ok) {
              stats.okAcks++;
              return;
            }
            const code = ack.data.error.code;
            if (!known.has(code)) stats.badReplies.push(`${m.event}: unknown code ${code}`);
            stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
          }),
        );
      }
    }),
  );
}

export function newStats(): FuzzStats {
  return { sent: 0, acked: 0, okAcks: 0, codes: new Map(), noAck: 0, flockErrors: 0, badReplies: [] };
}

/** A coordinator for fuzzing: rate limits raised so the fuzz reaches the handlers (RATE_LIMITED has its own test). */
export async function fuzzCoordinator(settings: CoordinatorSettingsInput): Promise<{ coordinator: Coordinator; url: string }> {
  return startCoordinator({ rateLimits: { clientEvents: { burst: 1e8, perSecond: 1e8 } }, ...settings });
}

let gcFn: (() => void) | undefined;
export function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

export function checkErrorEvents(peers: FuzzPeer[]): string[] {
  const bad: string[] = [];
  for (const p of peers) for (const e of p.errors) if (!errorEnvelopeSchema.safeParse(e).success) bad.push(JSON.stringify(e).slice(0, 200));
  return bad;
}
