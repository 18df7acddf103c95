import os from 'node:os';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import * as tf from '@tensorflow/tfjs';
import { createPresetModel, selectBackend, type BackendPreference } from '@flock/model';
import { loadFashionMnist } from '@flock/sim';
import { machineInfo } from './machine.js';

export interface ServeBenchOptions {
  quick?: boolean;
  backend?: BackendPreference;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function summary(latenciesMs: number[], seconds: number, rows: number): { p50Ms: number; p99Ms: number; requestsPerSec: number; instancesPerSec: number; requests: number } {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return { p50Ms: round(percentile(s, 50)), p99Ms: round(percentile(s, 99)), requestsPerSec: round(s.length / seconds, 1), instancesPerSec: round((s.length * rows) / seconds, 1), requests: s.length };
}

/** One POST over a keep-alive connection; resolves with the latency in ms. */
function post(agent: Agent, port: number, path: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { ...headers, 'content-length': String(body.byteLength) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`predict answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `clients` loops of requests for `seconds` (after `warmup` requests each); latencies of all. */
async function load(send: () => Promise<number>, clients: number, seconds: number, warmup: number): Promise<{ latencies: number[]; seconds: number }> {
  for (let i = 0; i < warmup; i++) await send();
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) latencies.push(await send());
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

/**
 * CPU time a process has used so far, ms, all its threads (Linux: /proc/<pid>/task/<tid>/schedstat,
 * nanoseconds on a CPU); undefined elsewhere. Unlike throughput, it does not depend on how much of
 * the machine other processes take.
 */
function cpuMs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `flock coordinator` in its own process, as deployed; resolves with its URL and a stop function. */
async function startCoordinator(preset: string, backend: string): Promise<{ url: string; pid: number; stop(): void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flock-bench-serve-'));
  const config = path.join(dir, 'coordinator.json');
  // The load generator is one loopback address: exempt it from the per-address HTTP budget.
  writeFileSync(config, JSON.stringify({ serving: { backend }, rateLimits: { exemptLoopback: true } }));
  const child = spawn(process.execPath, [fileURLToPath(new URL('../../bin/flock.mjs', import.meta.url)), 'coordinator', '--config', config, '--port', '0', '--model', preset, '--seed', '1', '--db', ':memory:', '--open', '--data-dir', dir, '--log', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = JSON.parse(l) as { event?: string; url?: string };
      if (m.event === 'listening') resolve(m.url!);
    });
    child.once('exit', (code) => reject(new Error(`flock coordinator exited with ${code}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The inference endpoint against calling model.predict in-process on the same backend, in the
 * same run: per model (mlp, simple-cnn) and batch size (1, 32), latency p50/p99 with one
 * client and throughput with concurrent clients. The coordinator runs in its own process (its
 * inference in its worker thread), as deployed; requests go over loopback HTTP with keep-alive.
 */
export async function* benchServe(opts: ServeBenchOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const backend = await selectBackend(opts.backend ?? 'auto');
  const seconds = opts.quick ? 1.5 : 5;
  const concurrency = 8;
  const test = await loadFashionMnist({ split: 'test', limit: 32 });
  const images = Float32Array.from(test.images.subarray(0, 32 * 784), (v) => v / 255);
  for (const preset of ['mlp', 'simple-cnn'] as const) {
    const model = createPresetModel(preset, { seed: 1 });
    const coordinator = await startCoordinator(preset, opts.backend ?? 'auto');
    const port = Number(new URL(coordinator.url).port);
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    try {
      for (const batch of [1, 32]) {
        const x = images.subarray(0, batch * 784);
        const input = tf.tensor4d(x, [batch, 28, 28, 1]);
        const inProc = async (): Promise<number> => {
          const t0 = process.hrtime.bigint();
          const out = model.predict(input) as tf.Tensor;
          await out.data();
          out.dispose();
          return Number(process.hrtime.bigint() - t0) / 1e6;
        };
        const binary = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
        const binHeaders = { 'content-type': 'application/octet-stream', accept: 'application/octet-stream', 'x-flock-shape': String(batch) };
        const instances = Array.from({ length: batch }, (_, r) => Array.from({ length: 28 }, (_, i) => Array.from({ length: 28 }, (_, j) => [x[r * 784 + i * 28 + j]!])));
        const json = Buffer.from(JSON.stringify({ instances }));
        const jsonHeaders = { 'content-type': 'application/json' };
        const path = '/v1/models/latest:predict';
        for (const transport of ['binary', 'json'] as const) {
          const send = transport === 'binary' ? () => post(agent, port, path, binHeaders, binary) : () => post(agent, port, path, jsonHeaders, json);
          // Alternating short slices of the three measurements, so load from other processes
          // on a shared machine falls on all of them alike.
          const runs = { inProc: { latencies: [] as number[], seconds: 0 }, one: { latencies: [] as number[], seconds: 0 }, many: { latencies: [] as number[], seconds: 0 } };
          // CPU time: this process during the in-process slices; the coordinator and this process
          // (the load generator) during the concurrent ones.
          const cpu = { inProc: 0, server: 0, client: 0, ok: true };
          const slices = 5;
          for (let i = 0; i < slices; i++) {
            for (const [key, fn, clients] of [['inProc', inProc, 1], ['one', send, 1], ['many', send, concurrency]] as const) {
              const warm = i === 0 ? 20 : 2;
              for (let w = 0; w < warm; w++) await fn();
              const self0 = cpuMs(process.pid);
              const server0 = cpuMs(coordinator.pid);
              const r = await load(fn, clients, seconds / slices, 0);
              const self1 = cpuMs(process.pid);
              const server1 = cpuMs(coordinator.pid);
              if (self0 === undefined || self1 === undefined || server0 === undefined || server1 === undefined) cpu.ok = false;
              else if (key === 'inProc') cpu.inProc += self1 - self0;
              else if (key === 'many') {
                cpu.client += self1 - self0;
                cpu.server += server1 - server0;
              }
              runs[key].latencies.push(...r.latencies);
              runs[key].seconds += r.seconds;
            }
          }
          const inProcess = summary(runs.inProc.latencies, runs.inProc.seconds, batch);
          const server = summary(runs.one.latencies, runs.one.seconds, batch);
          const concurrent = summary(runs.many.latencies, runs.many.seconds, batch);
          yield {
            bench: 'serve',
            model: preset,
            backend: backend.name,
            batch,
            transport,
            inProcess,
            server,
            concurrent: { clients: concurrency, ...concurrent },
            overheadP50Ms: round(server.p50Ms - inProcess.p50Ms),
            throughputRatio: round(concurrent.instancesPerSec / inProcess.instancesPerSec),
            // A separate figure, not the target: CPU time per instance (all threads, µs), in-process
            // predict against the coordinator process under the concurrent clients, and the load
            // generator's own. cpuEfficiency = inProcess / server: 1 means the server spends no more
            // CPU per instance than model.predict in-process, however busy the machine is.
            ...(cpu.ok
              ? {
                  cpuUsPerInstance: {
                    inProcess: round((cpu.inProc * 1000) / (inProcess.requests * batch), 2),
                    server: round((cpu.server * 1000) / (concurrent.requests * batch), 2),
                    loadGenerator: round((cpu.client * 1000) / (concurrent.requests * batch), 2),
                  },
                  cpuEfficiency: round(cpu.inProc / inProcess.requests / (cpu.server / concurrent.requests)),
                }
              : {}),
            loadAverage: os.loadavg().map((l) => round(l, 2)),
            machine: machineInfo(),
          };
        }
        input.dispose();
      }
    } finally {
      agent.destroy();
      model.dispose();
      coordinator.stop();
    }
  }
}
