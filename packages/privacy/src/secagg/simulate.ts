import { generateIdentityKeyPair, type IdentityKeyPair } from '../crypto/sign.js';
import { defaultPlatform } from '../platform/default.js';
import type { PlatformCrypto } from '../platform/types.js';
import { SecAggClient } from './client.js';
import type { SecAggClientMessage } from './messages.js';
import { SecAggServer, type SecAggStatus } from './server.js';

/**
 * In-process driver of one SecAgg+ round with many virtual clients (simulations, tests,
 * benchmarks). Masked vectors are produced one client at a time and fed to the server at once,
 * so memory stays O(m) regardless of the number of clients.
 */
export interface SimulatedRoundOptions {
  session: string;
  round: number;
  ids: readonly string[];
  k: number;
  t: number;
  vectorLength: number;
  /** The (already quantized) input of a client; called once, when the client masks. */
  input: (clientId: string) => Uint32Array | Promise<Uint32Array>;
  /**
   * Clients that stop before sending the given stage's message: `advertiseKeys` (never show up),
   * `shareKeys` (dropped after advertising), `maskedInput` (after sharing keys),
   * `unmask` (after sending the masked input).
   */
  drop?: { advertiseKeys?: Iterable<string>; shareKeys?: Iterable<string>; maskedInput?: Iterable<string>; unmask?: Iterable<string> };
  platform?: PlatformCrypto;
  identities?: ReadonlyMap<string, IdentityKeyPair>;
  nMax?: number;
  /** Sees every message the server receives, in order (transcripts). */
  onServerReceive?: (msg: SecAggClientMessage) => void;
}

export interface StageSeconds {
  advertiseKeys: number;
  shareKeys: number;
  maskedInput: number;
  unmask: number;
}

export interface SimulatedRoundResult {
  sum: Uint32Array;
  status: SecAggStatus;
  /** Wall-clock seconds spent in each client's engine calls, per stage. */
  clientSeconds: Map<string, StageSeconds>;
  /**
   * Process CPU seconds (user + system) during each client's engine calls, when the platform
   * exposes `process.cpuUsage` (Node); less sensitive than wall time to other load on the machine.
   */
  clientCpuSeconds: Map<string, StageSeconds>;
  /** Seconds in the server engine: receiving (incl. streaming sum) per stage, and finalize. */
  serverSeconds: StageSeconds & { finalize: number };
  /** Process CPU seconds during finalize (0 where unavailable). */
  serverFinalizeCpuSeconds: number;
  /** Keystream bytes the server expanded in finalize. */
  keystreamBytesServer: number;
  /** Bytes each client uploaded (sum of binary fields + UTF-8 string fields). */
  uploadBytes: Map<string, number>;
}

/** Approximate wire size: binary field lengths plus UTF-8 string lengths plus 8 bytes per number. */
export function messageBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'string') return new TextEncoder().encode(v).length;
  if (typeof v === 'number') return 8;
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + messageBytes(x), 0);
  if (typeof v === 'object' && v !== null) return Object.values(v).reduce((s: number, x) => s + messageBytes(x), 0);
  return 0;
}

const now = (): number => performance.now() / 1000;
type CpuUsage = () => { user: number; system: number };
const cpuUsage: CpuUsage | undefined = (globalThis as { process?: { cpuUsage?: CpuUsage } }).process?.cpuUsage;
const cpuNow = (): number => {
  if (!cpuUsage) return 0;
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};

export async function simulateSecAggRound(opts: SimulatedRoundOptions): Promise<SimulatedRoundResult> {
  const platform = opts.platform ?? defaultPlatform();
  const params = { session: opts.session, round: opts.round, k: opts.k, t: opts.t, vectorLength: opts.vectorLength, platform };
  const serverOpts: ConstructorParameters<typeof SecAggServer>[0] = { ...params, cohort: opts.ids };
  if (opts.nMax !== undefined) serverOpts.nMax = opts.nMax;
  const server = new SecAggServer(serverOpts);
  const drop = {
    advertiseKeys: new Set(opts.drop?.advertiseKeys ?? []),
    shareKeys: new Set(opts.drop?.shareKeys ?? []),
    maskedInput: new Set(opts.drop?.maskedInput ?? []),
    unmask: new Set(opts.drop?.unmask ?? []),
  };
  const clientSeconds = new Map<string, StageSeconds>();
  const clientCpuSeconds = new Map<string, StageSeconds>();
  const uploadBytes = new Map<string, number>();
  const serverSeconds = { advertiseKeys: 0, shareKeys: 0, maskedInput: 0, unmask: 0, finalize: 0 };
  const clients = new Map<string, SecAggClient>();
  const send = (id: string, msg: SecAggClientMessage): void => {
    opts.onServerReceive?.(msg);
    uploadBytes.set(id, (uploadBytes.get(id) ?? 0) + messageBytes(msg));
  };
  const timed = async <T>(id: string, stage: keyof StageSeconds, f: () => Promise<T>): Promise<T> => {
    const t0 = now();
    const c0 = cpuNow();
    const r = await f();
    clientSeconds.get(id)![stage] += now() - t0;
    clientCpuSeconds.get(id)![stage] += cpuNow() - c0;
    return r;
  };
  for (const id of opts.ids) {
    if (drop.advertiseKeys.has(id)) continue;
    const identity = opts.identities?.get(id) ?? generateIdentityKeyPair(platform);
    clients.set(id, new SecAggClient({ ...params, clientId: id, identity }));
    clientSeconds.set(id, { advertiseKeys: 0, shareKeys: 0, maskedInput: 0, unmask: 0 });
    clientCpuSeconds.set(id, { advertiseKeys: 0, shareKeys: 0, maskedInput: 0, unmask: 0 });
    uploadBytes.set(id, 0);
  }
  // Stage 1
  for (const [id, c] of clients) {
    const msg = await timed(id, 'advertiseKeys', () => c.advertiseKeys());
    send(id, msg);
    const t0 = now();
    await server.receiveAdvertise(msg);
    serverSeconds.advertiseKeys += now() - t0;
  }
  let t0 = now();
  const roster = server.closeAdvertise();
  serverSeconds.advertiseKeys += now() - t0;
  // Stage 2
  for (const [id, c] of clients) {
    if (drop.shareKeys.has(id)) continue;
    const msg = await timed(id, 'shareKeys', () => c.shareKeys(roster));
    send(id, msg);
    t0 = now();
    server.receiveShareKeys(msg);
    serverSeconds.shareKeys += now() - t0;
  }
  t0 = now();
  const deliveries = server.closeShareKeys();
  serverSeconds.shareKeys += now() - t0;
  // Stage 3 (streaming)
  for (const delivery of deliveries) {
    const id = delivery.clientId;
    if (drop.maskedInput.has(id)) continue;
    const c = clients.get(id)!;
    const x = await opts.input(id);
    const msg = await timed(id, 'maskedInput', () => c.maskedInput(delivery, x));
    send(id, msg);
    t0 = now();
    server.receiveMaskedInput(msg);
    serverSeconds.maskedInput += now() - t0;
  }
  t0 = now();
  const request = server.closeMaskedInput();
  serverSeconds.maskedInput += now() - t0;
  // Stage 4
  for (const id of request.survivors) {
    if (drop.unmask.has(id)) continue;
    const c = clients.get(id)!;
    const msg = await timed(id, 'unmask', () => c.unmask(request));
    send(id, msg);
    t0 = now();
    server.receiveUnmask(msg);
    serverSeconds.unmask += now() - t0;
  }
  const keystreamBytesServer = server.keystreamBytes;
  t0 = now();
  const c0 = cpuNow();
  const sum = await server.finalize();
  serverSeconds.finalize = now() - t0;
  const serverFinalizeCpuSeconds = cpuNow() - c0;
  return { sum, status: server.status(), clientSeconds, clientCpuSeconds, serverSeconds, serverFinalizeCpuSeconds, keystreamBytesServer, uploadBytes };
}
