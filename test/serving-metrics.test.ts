import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, DifferentiallyPrivate, FedAvg } from '@flock/coordinator';
import { EVENTS, type ModelSpec, type RoundStart } from '@flock/protocol';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { fashionSlices, RawPeer, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

// GET /metrics after real rounds: parsed from the Prometheus text format and checked for the
// named series; under differential privacy the participation figures need the operator token.

const TOKEN = 'operator-token-for-metrics-tests';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Prometheus text format -> sample name{labels} -> value (HELP/TYPE lines checked separately). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

const value = (s: Map<string, number>, name: string): number | undefined => s.get(name);
const family = (s: Map<string, number>, prefix: string): string[] => [...s.keys()].filter((k) => k === prefix || k.startsWith(prefix + '{'));

async function metrics(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text() };
}

describe('GET /metrics', () => {
  it('after a real secure-aggregation round: rounds, durations, clients, rejects, bytes, SecAgg stages, predict latency, process metrics', async () => {
    await selectBackend('auto');
    const m = createPresetModel('logreg', { seed: 1 });
    const flat = await flatModelOf(m);
    m.dispose();
    const c = new Coordinator({ model: flat, operatorToken: TOKEN, settings: { auth: 'open', minClients: 3, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true, stageTimeoutMs: 3000 } } });
    const url = await c.listen(0, '127.0.0.1');
    cleanups.push(() => c.close());
    const data = await fashionSlices(3, 40);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `m-${i}`, model: () => createPresetModel('logreg'), data: d, seed: i }));
    cleanups.push(async () => {
      await Promise.all(clients.map((x) => x.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    await Promise.all(clients.map((x) => x.start()));
    // One refused message, for the rejects series.
    const rogue = new RawPeer(url, 'rogue');
    cleanups.push(() => rogue.close());
    await rogue.connected();
    expect((await rogue.emitAck('no:such-event', {})).ok).toBe(false);
    c.start();
    await c.whenDone();
    const instance = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.1]));
    const p = await fetch(`${url}/v1/models/serving:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance, instance] }) });
    expect(p.status).toBe(200);

    const anon = await metrics(url);
    expect(anon.status).toBe(401);
    expect(JSON.parse(anon.text).error.code).toBe('UNAUTHORIZED');
    const r = await metrics(url, TOKEN);
    expect(r.status).toBe(200);
    const s = parse(r.text);
    expect(value(s, 'flock_rounds_total{kind="train",status="committed"}')).toBe(1);
    expect(value(s, 'flock_round_duration_seconds_count{kind="train"}')).toBe(1);
    expect(value(s, 'flock_round_duration_seconds_sum{kind="train"}')).toBeGreaterThan(0);
    expect(value(s, 'flock_clients_connected')).toBe(4);
    expect(value(s, 'flock_clients_selected_total')).toBe(4); // the rogue peer is eligible too
    expect(value(s, 'flock_round_clients_reported')).toBe(3);
    expect(value(s, 'flock_rejects_total{code="UNKNOWN_EVENT"}')).toBeGreaterThanOrEqual(1);
    expect(value(s, 'flock_bytes_up_total')).toBeGreaterThan(3 * 7850);
    expect(value(s, 'flock_bytes_down_total')).toBeGreaterThan(0);
    expect(family(s, 'flock_secagg_stage_duration_seconds_count').sort()).toEqual(['advertise', 'masked', 'share', 'unmask'].map((st) => `flock_secagg_stage_duration_seconds_count{stage="${st}"}`));
    expect(value(s, 'flock_secagg_dropouts_total{stage="advertise"}')).toBe(1); // the rogue never advertised keys
    expect(value(s, 'flock_predict_requests_total{target="serving",status="200",code=""}')).toBe(1);
    expect(value(s, 'flock_predict_instances_total{target="serving"}')).toBe(2);
    expect(value(s, 'flock_predict_duration_seconds_count{target="serving"}')).toBe(1);
    expect(value(s, 'flock_model_latest_version')).toBe(1);
    expect(value(s, 'flock_model_serving_version')).toBe(1);
    expect(value(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(s, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(r.text).toContain('# TYPE flock_round_duration_seconds histogram');
  });

  it('under differential privacy --public-metrics publishes no participation figure; the operator token sees them', async () => {
    const n = 64;
    const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [n], dtype: 'float32' }] };
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.5, delta: 1e-5 });
    const c = new Coordinator({ model: { topology: {}, spec, weights: new Float32Array(n) }, strategy, operatorToken: TOKEN, publicMetrics: true, settings: { auth: 'open', sampling: 'poisson', fraction: 0.5, minClients: 1, rounds: 1, roundTimeoutMs: 20_000, selectionSeed: 11 } });
    const url = await c.listen();
    cleanups.push(() => c.close());
    const peers = Array.from({ length: 6 }, (_, i) => new RawPeer(url, `member-${i}`));
    cleanups.push(() => peers.forEach((p) => p.close()));
    const starts: Array<[RawPeer, RoundStart]> = [];
    for (const p of peers) p.socket.on(EVENTS.roundStart, (s: RoundStart) => starts.push([p, s]));
    await Promise.all(peers.map((p) => p.connected()));
    c.start();
    await waitFor(() => starts.length > 0, 30_000, 'round:start');
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all(starts.map(([p, s]) => sendUpdate(p, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 17, metrics: {} }, new Float32Array(n).fill(0.01))));
    await c.whenDone();
    const pub = await metrics(url);
    expect(pub.status).toBe(200);
    const s = parse(pub.text);
    expect(value(s, 'flock_rounds_total{kind="train",status="committed"}')).toBe(1);
    expect(value(s, 'flock_dp_epsilon_spent')).toBeGreaterThan(0);
    for (const hidden of ['flock_clients_selected_total', 'flock_clients_reported_total', 'flock_round_clients_selected', 'flock_round_clients_reported', 'flock_rejects_total', 'flock_bytes_up_total', 'flock_bytes_down_total', 'flock_secagg_dropouts_total', 'flock_dp_client_epsilon_max']) {
      expect(pub.text, hidden).not.toContain(hidden);
    }
    expect(pub.text).not.toMatch(/member-/);
    const op = parse((await metrics(url, TOKEN)).text);
    expect(value(op, 'flock_clients_reported_total')).toBe(starts.length);
    expect(value(op, 'flock_dp_client_epsilon_max')).toBeGreaterThan(0);
  });
});
