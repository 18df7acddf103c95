import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, DifferentiallyPrivate, FedAvg, type CoordinatorSettingsInput } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { computeEpsilon, l2Norm, planGridNoise } from '@flock/privacy';
import { EVENTS, type ModelSpec, type RoundEnd } from '@flock/protocol';
import { RawPeer, fashionSlices, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A DP coordinator and `n` started SDK clients on Fashion-MNIST slices; cleaned up after the test. */
async function dpFederation(opts: {
  strategy: DifferentiallyPrivate;
  preset: 'mlp' | 'logreg';
  seed: number;
  settings: CoordinatorSettingsInput;
  clients: number;
  perClient: number;
  prefix: string;
  /** Runs before any client connects (e.g. to capture what the coordinator receives). */
  onCoordinator?: (coordinator: Coordinator) => void;
}): Promise<{ coordinator: Coordinator; clients: FlockClient[] }> {
  await selectBackend('auto');
  const init = createPresetModel(opts.preset, { seed: opts.seed });
  // DP needs Poisson sampling at the accountant's rate (every test here uses q = 1).
  const coordinator = new Coordinator({ model: await flatModelOf(init), strategy: opts.strategy, settings: { auth: 'open', sampling: 'poisson', ...opts.settings } });
  init.dispose();
  const url = await coordinator.listen();
  cleanups.push(() => coordinator.close());
  opts.onCoordinator?.(coordinator);
  const data = await fashionSlices(opts.clients, opts.perClient);
  const clients = data.map((d, i) => new FlockClient({ url, clientId: `${opts.prefix}-${i}`, model: () => createPresetModel(opts.preset), data: d, seed: i }));
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const d of data) tf.dispose([d.x, d.y]);
  });
  return { coordinator, clients };
}

describe('differential privacy over real sockets', () => {
  it('every update that reaches the coordinator has L2 norm <= C; the served model reports epsilon', async () => {
    const clip = 0.05; // far below an unclipped delta's norm, so clipping must happen
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1.0, clip, samplingRate: 1, delta: 1e-5 });
    const norms: number[] = [];
    const { coordinator, clients } = await dpFederation({
      strategy,
      preset: 'mlp',
      seed: 5,
      settings: { minClients: 3, rounds: 2, roundTimeoutMs: 60_000 },
      clients: 3,
      perClient: 80,
      prefix: 'dp',
    });
    // Updates travel sealed to the coordinator (protocol/v1.md 5.4a): check each as its client sent it.
    for (const c of clients) c.on('update', (u) => norms.push(l2Norm(u.delta)));
    const url = coordinator.url;
    const receipts: Array<{ round: number; epsilonSpent: number; modelVersion: number }> = [];
    const errors: string[] = [];
    for (const c of clients) {
      c.on('receipt', (r) => receipts.push({ round: r.round, epsilonSpent: r.receipt.epsilonSpent, modelVersion: r.receipt.modelVersion }));
      c.on('error', (e) => errors.push(e.code));
    }
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    await new Promise((r) => setTimeout(r, 200)); // let the last round:end arrive
    // Every participant got a verified receipt per round, with the accountant's epsilon.
    expect(errors).toEqual([]);
    expect(receipts).toHaveLength(6);
    const eps2 = computeEpsilon({ q: 1, sigma: 1, steps: 2, delta: 1e-5 }).epsilon;
    expect(receipts.filter((r) => r.round === 2).every((r) => Math.abs(r.epsilonSpent - eps2) < 1e-9 && r.modelVersion === 2)).toBe(true);
    expect(norms).toHaveLength(6);
    for (const n of norms) {
      expect(n).toBeLessThanOrEqual(clip * (1 + 1e-6));
      // A round of local SGD moves the weights much further than 0.05: the clip was binding.
      expect(n).toBeGreaterThan(clip * (1 - 1e-4));
    }
    const info = (await (await fetch(`${url}/v1/models/latest`)).json()) as { version: number; metrics: Record<string, number> };
    expect(info.version).toBe(2);
    expect(info.metrics.epsilon).toBeCloseTo(computeEpsilon({ q: 1, sigma: 1, steps: 2, delta: 1e-5 }).epsilon, 9);
    expect(info.metrics.clip).toBe(clip);
  });
});

describe('privacy receipts are bound to their round', () => {
  it("the SDK refuses an old receipt (smaller epsilon) replayed with a later round's round:end", async () => {
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1.0, clip: 0.1, samplingRate: 1, delta: 1e-5 });
    let replayed: RoundEnd['receipt'];
    const { coordinator, clients } = await dpFederation({
      strategy,
      preset: 'logreg',
      seed: 4,
      settings: { minClients: 3, rounds: 2, roundTimeoutMs: 60_000 },
      clients: 3,
      perClient: 30,
      prefix: 'rep',
      // A coordinator that sends client rep-0 round 1's (genuine, signed) receipt again with round 2's round:end.
      onCoordinator: (c) =>
        c.io.on('connection', (socket) => {
          if (socket.data.clientId !== 'rep-0') return;
          const emit = socket.emit.bind(socket);
          socket.emit = ((event: string, ...args: unknown[]) => {
            const end = args[0] as RoundEnd;
            if (event === EVENTS.roundEnd && end.receipt) {
              if (replayed === undefined) replayed = end.receipt;
              else args = [{ ...end, receipt: replayed }];
            }
            return emit(event, ...args);
          }) as typeof socket.emit;
        }),
    });
    const got = new Map<string, Array<{ round: number; epsilon: number }>>();
    const errors = new Map<string, string[]>();
    clients.forEach((c, i) => {
      got.set(`rep-${i}`, []);
      errors.set(`rep-${i}`, []);
      c.on('receipt', (r) => got.get(`rep-${i}`)!.push({ round: r.round, epsilon: r.receipt.epsilonSpent }));
      c.on('error', (e) => errors.get(`rep-${i}`)!.push(e.code));
    });
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    await waitFor(() => got.get('rep-1')!.length === 2 && got.get('rep-2')!.length === 2 && errors.get('rep-0')!.length + got.get('rep-0')!.length === 2, 10_000, 'round 2 receipts');
    const e1 = computeEpsilon({ q: 1, sigma: 1, steps: 1, delta: 1e-5 }).epsilon;
    const e2 = computeEpsilon({ q: 1, sigma: 1, steps: 2, delta: 1e-5 }).epsilon;
    for (const id of ['rep-1', 'rep-2']) {
      expect(got.get(id)!.map((r) => r.round)).toEqual([1, 2]);
      expect(got.get(id)![1]!.epsilon).toBeCloseTo(e2, 9);
      expect(errors.get(id)).toEqual([]);
    }
    // rep-0 kept round 1's receipt and was told round 2's was not for its round:end.
    expect(got.get('rep-0')).toEqual([{ round: 1, epsilon: e1 }]);
    expect(errors.get('rep-0')).toEqual(['RECEIPT_MISMATCH']);
  });
});

describe('central mode: the trusted server enforces the clip (DP-FedAvg)', () => {
  it('a client that skips clipping and sends a huge update moves the model by at most C', async () => {
    const m = 1000;
    const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [m], dtype: 'float32' }] };
    const clip = 0.1;
    // Almost no noise, so the model's movement is the clipped mean itself.
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1e-6, clip, samplingRate: 1, delta: 1e-5 });
    const coordinator = new Coordinator({ model: { topology: {}, spec, weights: new Float32Array(m) }, strategy, settings: { auth: 'open', minClients: 2, rounds: 1, sampling: 'poisson', fraction: 1 } });
    const url = await coordinator.listen();
    cleanups.push(() => coordinator.close());
    const honest = new RawPeer(url, 'honest');
    const evil = new RawPeer(url, 'evil');
    cleanups.push(() => {
      honest.close();
      evil.close();
    });
    await Promise.all([honest.connected(), evil.connected()]);
    coordinator.start();
    await waitFor(() => honest.starts.length === 1 && evil.starts.length === 1, 30_000, 'round:start');
    const start = honest.starts[0]!;
    expect(start.config.privacy).toMatchObject({ mode: 'central', clip });
    const meta = { roundId: start.roundId, modelVersion: start.modelVersion, numExamples: 10 };
    expect(await sendUpdate(honest, meta, new Float32Array(m).fill(0.001))).toEqual({ ok: true }); // norm 0.03, under the clip
    expect(await sendUpdate(evil, meta, new Float32Array(m).fill(1000))).toEqual({ ok: true }); // norm ~31,623: never clipped
    await coordinator.whenDone();
    const moved = l2Norm(coordinator.store.latest().weights);
    // The mean of two updates clipped to 0.1: at most 0.1 (today's unclipped sum would move it ~15,811).
    expect(moved).toBeLessThanOrEqual(clip * (1 + 1e-3));
    expect(moved).toBeGreaterThan(clip / 2 - 0.02);
  });
});

describe('local mode: noise from the exact discrete Gaussian on a grid', () => {
  it("every coordinate a client sends is on the documented grid (not Box-Muller's floats)", async () => {
    const clip = 0.05;
    const noiseMultiplier = 0.5;
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'local', noiseMultiplier, clip, samplingRate: 1, delta: 1e-5 });
    const { coordinator, clients } = await dpFederation({ strategy, preset: 'logreg', seed: 3, settings: { minClients: 2, rounds: 1, roundTimeoutMs: 60_000 }, clients: 2, perClient: 30, prefix: 'loc' });
    const sent: Float32Array[] = [];
    for (const c of clients) c.on('update', (u) => sent.push(Float32Array.from(u.delta)));
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    expect(sent).toHaveLength(2);
    // The coordinator is not trusted in local mode: it got no training statistics either (the update weighs 1).
    expect(coordinator.rounds[0]!.metrics).toEqual({});
    expect(coordinator.rounds[0]!.numExamples).toBe(2);
    for (const delta of sent) {
      const plan = planGridNoise(clip, noiseMultiplier, delta.length);
      let offGrid = 0;
      let sq = 0;
      for (const v of delta) {
        if (!Number.isInteger(v / plan.step)) offGrid++;
        sq += v * v;
      }
      expect(offGrid).toBe(0);
      // The noise dominates: per-coordinate stddev ~ sigma * C (the clipped signal is at most C in total).
      const std = Math.sqrt(sq / delta.length);
      expect(std / (noiseMultiplier * clip)).toBeGreaterThan(0.9);
      expect(std / (noiseMultiplier * clip)).toBeLessThan(1.1);
    }
  });
});

describe('the per-client privacy ledger', () => {
  it('a client past its budget is never selected again', async () => {
    const sigma = 1.0;
    const delta = 1e-5;
    const e2 = computeEpsilon({ q: 1, sigma, steps: 2, delta }).epsilon;
    const e3 = computeEpsilon({ q: 1, sigma, steps: 3, delta }).epsilon;
    // Room for exactly two rounds per client.
    const budget = (e2 + e3) / 2;
    // Every client is selected every round (deterministic), and 3 rounds are asked for: after
    // two commits every budget is spent, so the third round must never start.
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: sigma, clip: 1, samplingRate: 1, delta, clientEpsilonBudget: budget });
    const { coordinator, clients } = await dpFederation({
      strategy,
      preset: 'logreg',
      seed: 2,
      settings: { minClients: 3, rounds: 3, roundTimeoutMs: 60_000 },
      clients: 3,
      perClient: 30,
      prefix: 'b',
    });
    await Promise.all(clients.map((c) => c.start()));
    const twoCommits = new Promise<void>((resolve) => {
      let n = 0;
      coordinator.on('commit', () => ++n === 2 && resolve());
    });
    coordinator.start();
    await twoCommits;
    await new Promise((r) => setTimeout(r, 1500));
    expect(coordinator.rounds).toHaveLength(2);
    const selected = new Map<string, number>();
    for (const r of coordinator.rounds) for (const id of r.selected) selected.set(id, (selected.get(id) ?? 0) + 1);
    expect([...selected.values()].every((n) => n <= 2)).toBe(true);
    expect(strategy.ledgerEntries()).toEqual(['b-0', 'b-1', 'b-2'].map((clientId) => ({ clientId, rounds: 2, epsilon: e2 })));
    for (const c of ['b-0', 'b-1', 'b-2']) expect(strategy.eligible(c)).toBe(false);
  });
});
