import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, DifferentiallyPrivate, FedAvg, type CoordinatorSettingsInput } from '@flock/coordinator';
import { EVENTS, type ModelSpec, type RoundEnd, type RoundStart } from '@flock/protocol';
import { RawPeer, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

// Under differential privacy the accountant's epsilon uses amplification by sampling: it holds
// only if nobody but the operator can tell who was in a round's cohort, and the clients'
// own statistics (loss, accuracy, example counts) are not released un-noised. These tests
// look at everything an unauthenticated observer (every public HTTP endpoint) and a client
// (every message it receives) can see.

const OPERATOR = 'operator-secret-for-tests-0123456789';
const m = 64;
const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [m], dtype: 'float32' }] };
/** The keys a DP coordinator may publish with a model: its own accounted figures. */
const DP_METRICS = ['clip', 'delta', 'epsilon', 'noiseMultiplier'];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A DP federation of `n` hand-driven peers named member-0...; every event each peer receives is recorded. */
async function federation(n: number, settings: CoordinatorSettingsInput): Promise<{ coordinator: Coordinator; url: string; peers: RawPeer[]; received: Map<string, Array<{ event: string; args: unknown[] }>> }> {
  const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.5, delta: 1e-5 });
  const coordinator = new Coordinator({
    model: { topology: {}, spec, weights: new Float32Array(m) },
    strategy,
    operatorToken: OPERATOR,
    settings: { auth: 'open', federationId: 'secret-cohorts', sampling: 'poisson', fraction: 0.5, minClients: 1, roundTimeoutMs: 20_000, selectionSeed: 11, ...settings },
  });
  const url = await coordinator.listen();
  cleanups.push(() => coordinator.close());
  const peers = Array.from({ length: n }, (_, i) => new RawPeer(url, `member-${i}`));
  cleanups.push(() => peers.forEach((p) => p.close()));
  const received = new Map<string, Array<{ event: string; args: unknown[] }>>();
  for (const [i, p] of peers.entries()) {
    const log: Array<{ event: string; args: unknown[] }> = [];
    received.set(`member-${i}`, log);
    p.socket.onAny((event: string, ...args: unknown[]) => log.push({ event, args }));
  }
  await Promise.all(peers.map((p) => p.connected()));
  return { coordinator, url, peers, received };
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

/** Everything public: health, rounds, every model version's info. */
async function publicView(url: string, versions: number): Promise<string[]> {
  const pages = [await getJson(`${url}/v1/health`), await getJson(`${url}/v1/rounds`), await getJson(`${url}/v1/models/latest`)];
  for (let v = 0; v <= versions; v++) pages.push(await getJson(`${url}/v1/models/${v}`));
  return pages.map((p) => p.text);
}

/** Keys that would name or count a cohort. (`clients` of /v1/health, the number connected, is public: it is the population, not the cohort.) */
const COUNT_KEYS = ['selected', 'reporters', 'reported', 'rejected', 'numExamples', 'examples', 'cohortSize', 'survivors', 'bytesUp', 'bytesDown', 'required'];

/** Every key (at any depth) of a JSON value. */
function keysOf(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysOf(v, out);
    }
  }
  return out;
}

describe('differential privacy: secret cohorts (issue #12 item 3)', () => {
  it('an unauthenticated observer and a non-selected client learn nothing about who was selected; the operator does', async () => {
    const { coordinator, url, peers, received } = await federation(6, { rounds: 2 });
    const starts = new Map<string, RoundStart[]>();
    peers.forEach((p, i) => {
      starts.set(`member-${i}`, []);
      p.socket.on(EVENTS.roundStart, (s: RoundStart) => starts.get(`member-${i}`)!.push(s));
    });
    const observed: string[] = [];
    coordinator.start();
    const cohorts: string[][] = [];
    for (let round = 0; round < 2; round++) {
      // Wait for the next round:start, look at the public endpoints while the round runs, then report.
      const seen = (): number => [...starts.values()].reduce((a, s) => a + s.length, 0);
      const before = seen();
      await waitFor(() => seen() > before, 30_000, 'round:start');
      await new Promise((r) => setTimeout(r, 100)); // every cohort member has its round:start
      const roundId = [...starts.values()].flat().at(-1)!.roundId;
      const cohort = [...starts.entries()].filter(([, s]) => s.some((x) => x.roundId === roundId)).map(([id]) => id);
      cohorts.push(cohort);
      const health = await getJson(`${url}/v1/health`);
      expect(health.body.activeRound).toBeTruthy(); // a round is running...
      observed.push(health.text); // ...and that is all the observer may learn
      await Promise.all(
        cohort.map((id) => {
          const s = starts.get(id)!.at(-1)!;
          return sendUpdate(peers[Number(id.split('-')[1])]!, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 17, metrics: { loss: 0.25, accuracy: 0.75 } }, new Float32Array(m).fill(0.01));
        }),
      );
      await waitFor(() => coordinator.rounds.some((r) => r.roundId === roundId), 30_000, 'round end');
    }
    await coordinator.whenDone();
    await new Promise((r) => setTimeout(r, 200)); // the last round:end arrives
    // The seed picks two different cohorts, neither empty nor everyone.
    for (const c of cohorts) expect(c.length).toBeGreaterThan(0);
    for (const c of cohorts) expect(c.length).toBeLessThan(6);

    // The observer: no client id and no count anywhere in the public endpoints.
    observed.push(...(await publicView(url, 2)));
    for (const text of observed) {
      expect(text).not.toMatch(/member-/);
      const body = JSON.parse(text) as { metrics?: object };
      const keys = keysOf(body);
      for (const k of COUNT_KEYS) expect(keys.has(k), `${k} in ${text.slice(0, 200)}`).toBe(false);
      // A model's metrics: the accountant's figures only (the number of reporters was `clients` there).
      if (body.metrics) expect(Object.keys(body.metrics).filter((k) => !DP_METRICS.includes(k))).toEqual([]);
    }

    // A client: it hears only of rounds it was selected for, and nothing in them names or counts the others.
    for (const [id, log] of received) {
      const text = JSON.stringify(log.filter((e) => e.event !== EVENTS.welcome).map((e) => e.args));
      for (const other of [...received.keys()].filter((o) => o !== id)) expect(text).not.toContain(other);
      const keys = keysOf(log.map((e) => e.args));
      for (const k of COUNT_KEYS) expect(keys.has(k), `${k} sent to ${id}`).toBe(false);
      const ends = log.filter((e) => e.event === EVENTS.roundEnd).map((e) => e.args[0] as RoundEnd);
      expect(ends.length).toBe(cohorts.filter((c) => c.includes(id)).length);
    }
    const outsider = [...received.keys()].find((id) => !cohorts[0]!.includes(id))!;
    expect(received.get(outsider)!.filter((e) => e.event === EVENTS.roundStart || e.event === EVENTS.roundEnd).every((e) => (e.args[0] as RoundStart).round !== 1)).toBe(true);

    // The operator sees every cohort through the authenticated admin API, and only there.
    const admin = await getJson(`${url}/v1/admin/rounds`, { authorization: `Bearer ${OPERATOR}` });
    expect(admin.status).toBe(200);
    const rounds = admin.body.rounds as Array<{ selected: string[]; reporters: string[] }>;
    expect(rounds.map((r) => r.selected)).toEqual(cohorts.map((c) => [...c].sort()));
    expect(rounds.map((r) => r.reporters)).toEqual(cohorts.map((c) => [...c].sort()));
    expect((await getJson(`${url}/v1/admin/rounds`)).status).toBe(401);
  });
});

describe('differential privacy: no un-noised client statistics (issue #12 item 5)', () => {
  it("the served model and round:end carry only the accountant's figures, not the clients' loss, accuracy, examples or counts", async () => {
    const { coordinator, url, peers, received } = await federation(4, { rounds: 1, fraction: 0.5, evaluateEvery: 1 });
    peers.forEach((p) =>
      p.socket.on(EVENTS.roundStart, (s: RoundStart) => {
        if (s.kind === 'train') void sendUpdate(p, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 17, metrics: { loss: 0.25, accuracy: 0.75 } }, new Float32Array(m).fill(0.01));
        else void p.emitAck(EVENTS.roundEvaluate, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 9, loss: 0.5, accuracy: 0.625 });
      }),
    );
    coordinator.start();
    await coordinator.whenDone();
    await waitFor(() => coordinator.rounds.some((r) => r.kind === 'evaluate' && r.status !== 'abandoned'), 30_000, 'an evaluation round');
    await new Promise((r) => setTimeout(r, 200));
    // The operator (in process) has the statistics...
    expect(coordinator.rounds.find((r) => r.kind === 'train')!.metrics).toMatchObject({ train_loss: 0.25 });
    expect(coordinator.rounds.find((r) => r.kind === 'evaluate')!.metrics).toMatchObject({ eval_loss: 0.5 });
    // ...the served model does not.
    for (const path of ['/v1/models/latest', '/v1/models/1']) {
      const info = await getJson(`${url}${path}`);
      expect(Object.keys(info.body.metrics as object).sort()).toEqual(DP_METRICS);
    }
    // Nor does any round:end.
    const ends = [...received.values()].flat().filter((e) => e.event === EVENTS.roundEnd).map((e) => e.args[0] as RoundEnd);
    expect(ends.length).toBeGreaterThan(0);
    for (const end of ends) expect(Object.keys(end.metrics ?? {})).toEqual([]);
  });
});
