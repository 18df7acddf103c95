// Crash-resume harness shared by test/crash-resume.test.ts and test/chaos.slow.test.ts:
// a real `flock coordinator` child process on a SQLite database, SIGKILLed at chosen round
// phases and restarted on the same port, with real SDK clients (FlockClient over socket.io)
// that reconnect by themselves. See docs/explanation/durability.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, openFederationDatabase, openPostgresStore, type RoundRecord } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';

const FLOCK = fileURLToPath(new URL('../packages/cli/bin/flock.mjs', import.meta.url));

export type Phase = 'selection' | 'collection' | 'aggregation' | 'committed';
export const PHASES: readonly Phase[] = ['selection', 'collection', 'aggregation', 'committed'];

const NUM_CLIENTS = 3;
const PER_CLIENT = 48;
const PRESET = 'logreg';
const MODEL_SEED = 3;

/** The federation both runs use: seeded selection, 3 clients, every round needs all 3. */
function settings(rounds: number, debugPhaseDelayMs: number) {
  return {
    federationId: 'crash-test',
    auth: 'open' as const,
    minClients: NUM_CLIENTS,
    rounds,
    roundTimeoutMs: 120_000,
    selectionSeed: 11,
    debugPhaseDelayMs,
    train: { epochs: 1, batchSize: 16, learningRate: 0.5 },
  };
}

/** Deterministic synthetic data (mulberry32), one slice per client. */
function clientData(c: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  let s = (0x9e3779b9 * (c + 1)) >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = new Float32Array(PER_CLIENT * 784);
  const labels = new Int32Array(PER_CLIENT);
  for (let i = 0; i < PER_CLIENT; i++) {
    const label = Math.floor(rand() * 10);
    labels[i] = label;
    // A class-dependent band of bright pixels plus noise: learnable, not trivial.
    for (let p = 0; p < 784; p++) x[i * 784 + p] = rand() * 0.3 + (Math.floor(p / 78.4) === label ? 0.7 : 0);
  }
  return { x: tf.tensor4d(x, [PER_CLIENT, 28, 28, 1]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D };
}

/** Seeded SDK clients that reconnect quickly; `slowMs` holds each update back (widens the collection phase). */
async function startClients(url: string, slowMs: number): Promise<{ clients: FlockClient[]; errors: string[]; stop(): Promise<void> }> {
  const errors: string[] = [];
  const clients = Array.from({ length: NUM_CLIENTS }, (_, c) => {
    const client = new FlockClient({
      url,
      clientId: `crash-${c}`,
      data: clientData(c),
      seed: 100 + c,
      socket: { reconnectionDelay: 100, reconnectionDelayMax: 400 },
      ...(slowMs > 0 ? { faults: { delay: () => new Promise<void>((r) => setTimeout(r, slowMs)) } } : {}),
    });
    client.on('error', (e) => {
      errors.push(`${client.clientId}: ${e.code}`);
      if (process.env.FLOCK_TEST_DEBUG) console.log('client error', client.clientId, e.code, e.message);
    });
    return client;
  });
  await Promise.all(clients.map((c) => c.start()));
  return {
    clients,
    errors,
    async stop() {
      await Promise.all(clients.map((c) => c.stop()));
    },
  };
}

/** The final model hash of an uninterrupted in-process run of the same federation. */
export async function referenceRun(rounds: number): Promise<{ initialHash: string; finalHash: string }> {
  await selectBackend('cpu');
  const m = createPresetModel(PRESET, { seed: MODEL_SEED });
  const model = await flatModelOf(m);
  m.dispose();
  const log = (level: string) => (o: unknown, msg?: string) => {
    if (process.env.FLOCK_TEST_DEBUG) console.log(level, msg, JSON.stringify(o));
  };
  const coordinator = new Coordinator({ model, settings: settings(rounds, 0), database: ':memory:', logger: { info: log('info'), warn: log('warn'), error: log('error') } });
  coordinator.deterministicOrder = true;
  const url = await coordinator.listen(0, '127.0.0.1');
  const initialHash = coordinator.store.latest().hash;
  const clients = await startClients(url, 0);
  coordinator.start();
  await coordinator.whenDone();
  const finalHash = coordinator.store.latest().hash;
  await clients.stop();
  await coordinator.close();
  return { initialHash, finalHash };
}

interface Child {
  proc: ChildProcess;
  /** Parsed JSON lines of stdout (events) and stderr (the JSON logger), in arrival order. */
  lines: Array<Record<string, unknown>>;
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

function spawnCoordinator(args: string[]): Child {
  const proc = spawn(process.execPath, [FLOCK, 'coordinator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (l: string): void => {
    raw.push(l);
    if (raw.length > 200) raw.shift();
    try {
      const o = JSON.parse(l) as unknown;
      if (o && typeof o === 'object') lines.push(o as Record<string, unknown>);
    } catch {
      /* a plain-text notice */
    }
    for (const w of [...waiters]) w();
  };
  createInterface({ input: proc.stdout! }).on('line', onLine);
  createInterface({ input: proc.stderr! }).on('line', onLine);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.once('exit', () => {
    for (const w of [...waiters]) w();
  });
  return {
    proc,
    lines,
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            if (pred(lines[seen]!)) {
              done();
              resolve(lines[seen]!);
              return;
            }
          }
          if (proc.exitCode !== null || proc.signalCode !== null) {
            done();
            reject(new Error(`coordinator exited (${proc.exitCode ?? proc.signalCode}); last output:\n${raw.slice(-30).join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out; last output:\n${raw.slice(-30).join('\n')}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The log line that marks a phase (the coordinator logs it when the phase starts). */
function phaseLine(phase: Phase): (l: Record<string, unknown>) => boolean {
  if (phase === 'collection') return (l) => l.msg === 'round started' && l.kind === 'train';
  return (l) => l.msg === 'round phase' && l.phase === phase && l.kind === 'train';
}

export interface CrashRunResult {
  initialHash: string;
  finalHash: string;
  kills: Array<{ phase: Phase; round: unknown }>;
  versions: Array<{ version: number; round: number; hash: string }>;
  rounds: RoundRecord[];
  restartLogs: number;
}

/**
 * Runs the federation in a `flock coordinator` child process and SIGKILLs it once per entry of
 * `schedule` (when the child logs that phase), restarting it on the same port and database.
 */
export async function crashRun(rounds: number, schedule: readonly Phase[], opts: { phaseDelayMs?: number; slowClientMs?: number; postgres?: { url: string; schema: string } } = {}): Promise<CrashRunResult> {
  await selectBackend('cpu');
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-crash-'));
  const db = path.join(dir, 'coordinator.db');
  const config = path.join(dir, 'config.json');
  // PostgreSQL through the config file's `postgres` block (the password stays out of argv).
  writeFileSync(config, JSON.stringify({ ...settings(rounds, opts.phaseDelayMs ?? 300), ...(opts.postgres ? { postgres: opts.postgres } : {}) }));
  let port = 0;
  const store = opts.postgres ? [] : ['--db', db];
  const args = (): string[] => ['--config', config, ...store, '--data-dir', dir, '--port', String(port), '--open', '--deterministic', '--model', PRESET, '--seed', String(MODEL_SEED)];
  const children: Child[] = [];
  let clients: Awaited<ReturnType<typeof startClients>> | undefined;
  const kills: CrashRunResult['kills'] = [];
  try {
    let child = spawnCoordinator(args());
    children.push(child);
    const listening = await child.waitFor((l) => l.event === 'listening', 60_000);
    const url = listening.url as string;
    port = Number(new URL(url).port);
    clients = await startClients(url, opts.slowClientMs ?? 400);
    for (const phase of schedule) {
      const hit = await child.waitFor(phaseLine(phase), 120_000);
      await child.kill();
      kills.push({ phase, round: hit.round });
      child = spawnCoordinator(args());
      children.push(child);
      await child.waitFor((l) => l.event === 'listening', 60_000);
    }
    await child.waitFor((l) => l.event === 'done', 180_000);
    await clients.stop();
    clients = undefined;
    await child.kill();
    const restartLogs = children.reduce((n, c) => n + c.lines.filter((l) => l.msg === 'resumed from database: the model comes from the database').length, 0);
    if (children.some((c) => c.lines.some((l) => JSON.stringify(l).includes(':flock@')))) throw new Error('a coordinator logged the database password');
    const fdb = opts.postgres ? await openPostgresStore(opts.postgres) : openFederationDatabase(db);
    try {
      const stored = (await fdb.storedModel())!;
      const { store: models } = await fdb.openModels({ federationId: 'crash-test', config: {}, model: stored });
      const history: CrashRunResult['versions'] = (await models.history()).map(({ version, round, hash }) => ({ version, round, hash }));
      return { initialHash: history[0]!.hash, finalHash: stored.hash, kills, versions: history, rounds: await fdb.rounds.all(), restartLogs };
    } finally {
      await fdb.close();
    }
  } finally {
    await clients?.stop();
    for (const c of children) await c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every check on a crash run's durable history: no lost or doubled commit, consecutive versions. */
export function checkHistory(r: CrashRunResult, rounds: number): string[] {
  const problems: string[] = [];
  const versions = r.versions.map((v) => v.version);
  if (JSON.stringify(versions) !== JSON.stringify(Array.from({ length: rounds + 1 }, (_, i) => i))) problems.push(`model versions are not 0..${rounds}: ${versions.join(',')}`);
  const committed = r.rounds.filter((x) => x.status === 'committed');
  const byVersion = new Map<number, number>();
  for (const c of committed) byVersion.set(c.committedVersion!, (byVersion.get(c.committedVersion!) ?? 0) + 1);
  for (let v = 1; v <= rounds; v++) if (byVersion.get(v) !== 1) problems.push(`version ${v} was committed by ${byVersion.get(v) ?? 0} rounds`);
  if (committed.length !== rounds) problems.push(`${committed.length} committed rounds, expected ${rounds}`);
  for (const c of committed) {
    const v = r.versions.find((x) => x.version === c.committedVersion);
    if (!v || v.round !== c.round) problems.push(`round ${c.round} committed version ${c.committedVersion}, which records round ${v?.round}`);
    if (c.modelVersion !== c.committedVersion! - 1) problems.push(`round ${c.round} trained version ${c.modelVersion} but committed ${c.committedVersion}`);
  }
  if (r.rounds.some((x) => x.status === 'running')) problems.push('a round is still running after a clean finish');
  for (const a of r.rounds.filter((x) => x.status === 'abandoned')) {
    if (a.reason?.code !== 'ROUND_ABANDONED' || (a.reason.details as { reason?: unknown } | undefined)?.reason !== 'coordinator-restarted') problems.push(`round ${a.round} abandoned for ${JSON.stringify(a.reason)}`);
  }
  return problems;
}
