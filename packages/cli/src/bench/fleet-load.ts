/**
 * A load generator of `flock bench fleet`: lightweight protocol clients in one process, no
 * tfjs. Each is a real one: its own Ed25519 identity, a challenge-signed handshake with its
 * enrollment token, a socket.io websocket, and on every round:start an update of `numParams`
 * float32 values sent the SDK's way (round:upload + sealed chunks, each acked; the same code
 * as the SDK, packages/client/src/upload.ts). The update values are random but shared by the
 * process's clients: the coordinator's work does not depend on them, and drawing 10,000
 * fresh 400 KB vectors would measure the generator.
 */
import { io, type Socket } from 'socket.io-client';
import { EVENTS, FlockError, type RoundStart, type Welcome } from '@flock/protocol';
import { buildHandshakeAuth, defaultPlatform, UploadSealer, uploadUpdate } from '@flock/client';
import { generateIdentityKeyPair, type SealSuite } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';

export interface FleetLoadInit {
  url: string;
  tokens: string[];
  numParams: number;
  /** Clients of this process connecting at once (handshakes in flight). */
  connectConcurrency: number;
  /** Uploads of this process in flight at once. */
  uploadConcurrency: number;
  /** Sealing suites the clients accept (the SDK's UploadSealer option); node:crypto seals the AES suite. */
  suites: SealSuite[];
}

export type FleetLoadMessage =
  | { type: 'connected'; clients: number; atMs: number }
  | { type: 'uploads'; round: number; ok: number; rejected: number; codes: Record<string, number> }
  | { type: 'error'; message: string };

function send(m: FleetLoadMessage): void {
  process.send!(m);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface LoadClient {
  socket: Socket;
  welcome: Welcome | undefined;
  sealer: UploadSealer;
}

async function main(init: FleetLoadInit): Promise<void> {
  const update = new Float32Array(init.numParams);
  const noise = nodePlatform.randomBytes(init.numParams);
  for (let i = 0; i < update.length; i++) update[i] = (noise[i]! - 127.5) / 12_750;
  const bytes = new Uint8Array(update.buffer);
  const clients: LoadClient[] = [];
  // Round starts arrive for every client at about the same time; uploads go through one queue.
  const queue: Array<{ client: LoadClient; start: RoundStart }> = [];
  let draining: Promise<void> | undefined;
  const tally = new Map<number, { ok: number; rejected: number; codes: Record<string, number> }>();
  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.splice(0);
      await pool(batch, init.uploadConcurrency, async ({ client, start }) => {
        const t = tally.get(start.round) ?? { ok: 0, rejected: 0, codes: {} };
        tally.set(start.round, t);
        try {
          await uploadUpdate({ socket: client.socket, welcome: () => client.welcome, sealer: client.sealer, crypto: nodePlatform, platform: defaultPlatform, meta: { roundId: start.roundId, modelVersion: start.modelVersion, numExamples: 1 }, bytes, deadline: Date.now() + start.timeoutMs });
          t.ok++;
        } catch (err) {
          t.rejected++;
          const code = err instanceof FlockError ? err.code : 'INTERNAL';
          t.codes[code] = (t.codes[code] ?? 0) + 1;
        }
        if (t.ok + t.rejected === clients.length) send({ type: 'uploads', round: start.round, ...t });
      });
    }
    draining = undefined;
  };

  await pool(init.tokens, init.connectConcurrency, async (token) => {
    const identity = generateIdentityKeyPair(nodePlatform);
    const clientId = `fleet-${Buffer.from(identity.publicKey).toString('hex').slice(0, 24)}`;
    const client: LoadClient = { socket: undefined as unknown as Socket, welcome: undefined, sealer: new UploadSealer(nodePlatform, () => identity, undefined, init.suites) };
    // On a starved machine a handshake can time out: try again (a fresh challenge each time;
    // without the token once it may have been bound by the attempt that timed out).
    for (let attempt = 0; ; attempt++) {
      const auth = await buildHandshakeAuth({ base: init.url, clientId, identity, token, enrolled: attempt % 2 === 1, platform: defaultPlatform, crypto: nodePlatform });
      const socket = io(init.url, { auth, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
      client.socket = socket;
      // Listening before the welcome: the last client's round:start follows its welcome at once.
      socket.on(EVENTS.roundStart, (start: RoundStart) => {
        if (start.kind !== 'train') return;
        queue.push({ client, start });
        draining ??= drain();
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once(EVENTS.welcome, (w: Welcome) => {
            client.welcome = w;
            resolve();
          });
          socket.once(EVENTS.error, (e: { code?: string; message?: string }) => reject(new Error(`${e.code}: ${e.message}`)));
          socket.once('connect_error', reject);
        });
        break;
      } catch (err) {
        socket.removeAllListeners();
        socket.disconnect();
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 1000 + attempt * 1000));
      }
    }
    clients.push(client);
  });
  send({ type: 'connected', clients: clients.length, atMs: Date.now() });
}

process.once('message', (init: FleetLoadInit) => {
  main(init).catch((err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
