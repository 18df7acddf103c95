/**
 * A whole SecAgg+ round of four clients as it crosses the wire (protocol/secagg.md), with every
 * random draw, derived secret and message: carol drops out after sharing her keys, so the round
 * also shows a dropped client's mask key being reconstructed.
 */
import nacl from 'tweetnacl';
import {
  SECAGG_EVENTS,
  packAdvertise,
  packMaskedInput,
  packRoster,
  packShares,
  packUnmask,
  unpackAdvertise,
  unpackMaskedInput,
  unpackRoster,
  unpackShares,
  unpackUnmask,
  type SecAggConfig,
} from '@flock/protocol';
import { SecAggClient, SecAggServer, WeightedEncoder, expandMask, pairwiseSeed, secAggParameters, selfSeedCommitment } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { hex, labelled, scriptedPlatform, shamirDraws, withNodeRandom } from '../fixed-random.js';
import { shareSecret } from '../../../packages/privacy/src/secagg/shamir.js';

export const ROUND_SESSION = 'fed-vectors-α:0011223344556677';
export const ROUND_NUMBER = 5;
const IDS = ['alice', 'bob', 'carol', 'dave'] as const;

/** Binary fields become hex strings; `binary` names them (they travel as socket.io attachments). */
export function toWire(payload: Record<string, unknown>): { payload: Record<string, unknown>; binary: string[] } {
  const out: Record<string, unknown> = {};
  const binary: string[] = [];
  for (const [k, v] of Object.entries(payload)) {
    if (v instanceof Uint8Array) {
      out[k] = hex(v);
      binary.push(k);
    } else out[k] = v;
  }
  return { payload: out, binary };
}

export function clientDraws(id: string): { identitySeed: Uint8Array; encryptionSecretKey: Uint8Array; maskSecretKey: Uint8Array; selfSeed: Uint8Array; nonces: Uint8Array[]; shamir: { maskKey: { coordinateBytes: Uint8Array; coefficientBytes: Uint8Array }; selfSeed: { coordinateBytes: Uint8Array; coefficientBytes: Uint8Array } }; uniformKey: Uint8Array } {
  const l = (what: string, n: number): Uint8Array => labelled(`flock/vectors/secagg-round/${id}/${what}`, n);
  return {
    identitySeed: l('identity', 32),
    encryptionSecretKey: l('encryption', 32),
    maskSecretKey: l('mask', 32),
    selfSeed: l('self-seed', 32),
    nonces: [l('nonce/0', 24), l('nonce/1', 24), l('nonce/2', 24)],
    shamir: {
      maskKey: { coordinateBytes: l('shamir/mask-key/coordinates', 255), coefficientBytes: l('shamir/mask-key/coefficients', 32) },
      selfSeed: { coordinateBytes: l('shamir/self-seed/coordinates', 255), coefficientBytes: l('shamir/self-seed/coefficients', 32) },
    },
    uniformKey: l('uniform-key', 32),
  };
}

export async function secaggRound(): Promise<Record<string, unknown>> {
  const numParams = 5;
  const p = secAggParameters({ cohortSize: IDS.length });
  const config: SecAggConfig = {
    session: ROUND_SESSION,
    k: p.k,
    t: p.t,
    vectorLength: numParams + 1,
    clip: 0.5,
    nMax: IDS.length,
    weightCap: 100,
    deadlinesMs: { advertiseKeys: 30_000, shareKeys: 30_000, maskedInput: 30_000, unmask: 30_000 },
  };
  const updates: Record<string, { delta: number[]; numExamples: number }> = {
    alice: { delta: [0.25, -0.5, 0.75, -1e-3, 0], numExamples: 600 },
    bob: { delta: [-0.25, 0.125, 0.3, 1e-3, -2], numExamples: 7 },
    carol: { delta: [0.1, 0.1, 0.1, 0.1, 0.1], numExamples: 50 },
    dave: { delta: [0.5, 0.5, -0.5, 0.0625, 1e-6], numExamples: 100 },
  };
  const draws = Object.fromEntries(IDS.map((id) => [id, clientDraws(id)]));
  const identities = Object.fromEntries(IDS.map((id) => [id, nacl.sign.keyPair.fromSeed(draws[id]!.identitySeed)]));
  const clients = Object.fromEntries(
    IDS.map((id) => {
      const d = draws[id]!;
      const platform = scriptedPlatform([d.encryptionSecretKey, d.maskSecretKey, d.selfSeed, ...d.nonces]);
      return [id, new SecAggClient({ session: config.session, round: ROUND_NUMBER, k: config.k, t: config.t, vectorLength: config.vectorLength, clientId: id, identity: identities[id]!, platform })];
    }),
  );
  const server = new SecAggServer({ session: config.session, round: ROUND_NUMBER, k: config.k, t: config.t, vectorLength: config.vectorLength, cohort: [...IDS], nMax: config.nMax });
  const messages: Array<{ from: string; to: string; event: string; payload: Record<string, unknown>; binary: string[] }> = [];
  const record = (from: string, to: string, event: string, payload: object): void => {
    messages.push({ from, to, event, ...toWire(payload as Record<string, unknown>) });
  };

  // Stage 1: advertise keys.
  for (const id of IDS) {
    const wire = packAdvertise(await clients[id]!.advertiseKeys());
    record(id, 'coordinator', SECAGG_EVENTS.advertiseKeys, wire);
    await server.receiveAdvertise(unpackAdvertise(wire));
  }
  const roster = packRoster(server.closeAdvertise());
  for (const id of IDS) record('coordinator', id, SECAGG_EVENTS.roster, roster);

  // Stage 2: share keys (Shamir randomness from the scripted node:crypto).
  for (const id of IDS) {
    const s = draws[id]!.shamir;
    const shamirRandom = [...shamirDraws(s.maskKey.coordinateBytes, s.maskKey.coefficientBytes, 32, config.t), ...shamirDraws(s.selfSeed.coordinateBytes, s.selfSeed.coefficientBytes, 32, config.t)];
    const wire = packShares(await withNodeRandom(shamirRandom, () => clients[id]!.shareKeys(unpackRoster(roster))));
    record(id, 'coordinator', SECAGG_EVENTS.shareKeys, wire);
    server.receiveShareKeys(unpackShares('share-keys', wire));
  }
  const deliveries = Object.fromEntries(server.closeShareKeys().map((d) => [d.clientId, packShares(d)]));
  for (const id of IDS) record('coordinator', id, SECAGG_EVENTS.shareDelivery, deliveries[id]!);

  // Stage 3: masked input; carol has dropped out.
  const encoded: Record<string, Uint32Array> = {};
  for (const id of ['alice', 'bob', 'dave'] as const) {
    const enc = new WeightedEncoder({ clip: config.clip, nMax: config.nMax, weightCap: config.weightCap, platform: scriptedPlatform([draws[id]!.uniformKey]) });
    encoded[id] = await enc.encode(updates[id]!.delta, updates[id]!.numExamples);
    const wire = packMaskedInput(await clients[id]!.maskedInput(unpackShares('share-delivery', deliveries[id]), encoded[id]!.slice()));
    record(id, 'coordinator', SECAGG_EVENTS.maskedInput, wire);
    server.receiveMaskedInput(unpackMaskedInput(wire));
  }
  const request = server.closeMaskedInput();
  for (const id of request.survivors) record('coordinator', id, SECAGG_EVENTS.unmaskRequest, request);

  // Stage 4: unmask.
  for (const id of request.survivors) {
    const wire = packUnmask(await clients[id]!.unmask(request));
    record(id, 'coordinator', SECAGG_EVENTS.unmask, wire);
    server.receiveUnmask(unpackUnmask(wire));
  }
  const sum = await server.finalize();
  const decoded = new WeightedEncoder({ clip: config.clip, nMax: config.nMax, weightCap: config.weightCap }).decode(sum);
  for (let i = 0; i < sum.length; i++) if (sum[i] !== ((encoded.alice![i]! + encoded.bob![i]! + encoded.dave![i]!) >>> 0)) throw new Error('the unmasked sum is not alice + bob + dave');

  // Derived values, for implementers (and cross-checked here against the messages).
  const pub = (sk: Uint8Array): Uint8Array => nacl.scalarMult.base(sk);
  const derived: Record<string, unknown> = {};
  for (const id of IDS) {
    const d = draws[id]!;
    const neighbours = IDS.filter((v) => v !== id); // the full graph
    const shares = {
      maskKey: await withNodeRandom(shamirDraws(d.shamir.maskKey.coordinateBytes, d.shamir.maskKey.coefficientBytes, 32, config.t), () => shareSecret(d.maskSecretKey, neighbours.length, config.t)),
      selfSeed: await withNodeRandom(shamirDraws(d.shamir.selfSeed.coordinateBytes, d.shamir.selfSeed.coefficientBytes, 32, config.t), () => shareSecret(d.selfSeed, neighbours.length, config.t)),
    };
    const perNeighbour = neighbours.map((v, i) => {
      const dv = draws[v]!;
      const seed = pairwiseSeed(config.session, ROUND_NUMBER, pub(d.maskSecretKey), pub(dv.maskSecretKey), nacl.scalarMult(d.maskSecretKey, pub(dv.maskSecretKey)));
      return {
        neighbour: v,
        boxKey: hex(nacl.box.before(pub(dv.encryptionSecretKey), d.encryptionSecretKey)),
        pairwiseSeed: hex(seed),
        maskSign: id < v ? 1 : -1,
        bundlePlaintext: hex(new Uint8Array([...shares.maskKey[i]!, ...shares.selfSeed[i]!])),
        nonce: hex(d.nonces[i]!),
      };
    });
    const masks = id in encoded ? await maskWords(d.selfSeed, perNeighbour, config.vectorLength) : undefined;
    if (masks) {
      // y = x + PRG(b) + sum over neighbours of sign * PRG(s_uv), in Z_2^32.
      const sent = messages.find((m) => m.from === id && m.event === SECAGG_EVENTS.maskedInput)!;
      const y = Buffer.from(sent.payload.masked as string, 'hex');
      for (let j = 0; j < config.vectorLength; j++) {
        let w = encoded[id]![j]! + masks.self[j]!;
        perNeighbour.forEach((n, i) => (w += n.maskSign * masks.pairwise[i]![j]!));
        if (w >>> 0 !== y.readUInt32LE(4 * j)) throw new Error(`masked word ${j} of ${id} differs from x + PRG(b) + sum sign * PRG(s)`);
      }
    }
    derived[id] = {
      identitySeed: hex(d.identitySeed),
      identityKey: hex(identities[id]!.publicKey),
      encryptionSecretKey: hex(d.encryptionSecretKey),
      encryptionKey: hex(pub(d.encryptionSecretKey)),
      maskSecretKey: hex(d.maskSecretKey),
      maskKey: hex(pub(d.maskSecretKey)),
      selfSeed: hex(d.selfSeed),
      selfSeedCommitment: hex(selfSeedCommitment(config.session, ROUND_NUMBER, id, d.selfSeed)),
      shamirRandom: {
        maskKey: { coordinateBytes: hex(d.shamir.maskKey.coordinateBytes), coefficientBytes: hex(d.shamir.maskKey.coefficientBytes) },
        selfSeed: { coordinateBytes: hex(d.shamir.selfSeed.coordinateBytes), coefficientBytes: hex(d.shamir.selfSeed.coefficientBytes) },
      },
      maskKeyShares: shares.maskKey.map(hex),
      selfSeedShares: shares.selfSeed.map(hex),
      neighbours: perNeighbour,
      ...(id in encoded
        ? { update: updates[id], uniformKey: hex(d.uniformKey), encoded: Array.from(encoded[id]!), selfMask: masks!.self, pairwiseMasks: masks!.pairwise }
        : { update: updates[id], droppedBefore: 'masked-input' }),
    };
  }
  return {
    about:
      'One SecAgg+ round of four clients over the wire (protocol/secagg.md). Cohort alice, bob, carol, dave; k = 3, t = 2 (full graph: every client shares with the 3 others, tolerating 1 dropout); the update has 5 parameters, so vectorLength = 6 (the weight rides last). carol drops out after share-keys: the unmask request lists her as dropped, the survivors reveal their shares of her mask key (and of each other\'s self seeds), and the coordinator removes the pairwise masks she shared with them. `messages` are in order, in their packed wire form: the fields named in `binary` are socket.io binary attachments (hex here). `roundStartSecagg` is the `secagg` object of round:start.',
    source:
      'protocol/vectors/generate.ts (build/secagg-round.ts): SecAggClient (one per client, randomness from a scripted platform: encryption key, mask key, self seed, then one box nonce per neighbour in sorted order), SecAggServer, WeightedEncoder (uniform key scripted), pack*/unpack* of @flock/protocol between every step, and the Shamir splits with node:crypto scripted (mask key first, then self seed). The unmasked sum is cross-checked against alice + bob + dave in Z_2^32; `derived` is recomputed with tweetnacl, pairwiseSeed and expandMask. Every draw: SHA-256("flock/vectors/secagg-round/<id>/<what>" | u32be(counter)).',
    roundStartSecagg: config,
    round: ROUND_NUMBER,
    derived,
    messages,
    result: { sum: Array.from(sum), totalWeight: decoded.totalWeight, mean: Array.from(decoded.mean) },
  };
}

async function maskWords(selfSeed: Uint8Array, neighbours: Array<{ pairwiseSeed: string; maskSign: number }>, m: number): Promise<{ self: number[]; pairwise: number[][] }> {
  const self = Array.from(await expandMask(nodePlatform, selfSeed, m));
  const pairwise = [];
  for (const n of neighbours) pairwise.push(Array.from(await expandMask(nodePlatform, Buffer.from(n.pairwiseSeed, 'hex'), m)));
  return { self, pairwise };
}
