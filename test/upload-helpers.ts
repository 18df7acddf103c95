import { FlockError, type Ack, type UpdateMeta } from '@flock/protocol';
import { UploadSealer, defaultPlatform, uploadUpdate } from '@flock/client';
import { generateIdentityKeyPair, type IdentityKeyPair, type SealSuite } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import type { RawPeer } from './helpers.js';

const sealers = new WeakMap<RawPeer, UploadSealer>();

/**
 * Sends a training update from a hand-driven peer the way the SDK does (round:upload + sealed
 * chunks, each acked) and returns the verdict as an Ack (the last chunk's ack, or the first error).
 * `identity` signs the seal key record (an authenticated peer must pass the key it authenticated
 * with); default: a fresh key per peer, which only an open-mode coordinator accepts.
 * `suites`: the sealing suites the peer accepts (default: the SDK's; fixed by the peer's first call).
 */
export async function sendUpdate(peer: RawPeer, meta: UpdateMeta, delta: Float32Array, opts: { chunkBytes?: number; timeoutMs?: number; identity?: IdentityKeyPair; suites?: SealSuite[] } = {}): Promise<Ack> {
  let sealer = opts.identity ? undefined : sealers.get(peer);
  if (!sealer) {
    const identity = opts.identity ?? generateIdentityKeyPair(nodePlatform);
    sealer = new UploadSealer(nodePlatform, () => identity, undefined, opts.suites);
    if (!opts.identity) sealers.set(peer, sealer);
  }
  const bytes = new Uint8Array(delta.buffer, delta.byteOffset, delta.byteLength);
  try {
    await uploadUpdate({
      socket: peer.socket,
      welcome: () => peer.welcome,
      sealer,
      crypto: nodePlatform,
      platform: defaultPlatform,
      meta,
      bytes,
      ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
      deadline: Date.now() + (opts.timeoutMs ?? 10_000),
    });
    return { ok: true };
  } catch (err) {
    if (err instanceof FlockError) return { ok: false, error: err.toEnvelope() };
    throw err;
  }
}
