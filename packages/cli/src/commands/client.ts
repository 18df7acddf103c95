import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { FlockClient } from '@flock/client';
import type { FederationDone, FlockError } from '@flock/protocol';
import { nodeClientPlatform } from '@flock/client/node';
import { loadIdentity, readPem } from '../security.js';
import { BACKEND_PREFERENCES, createPresetModel, MODEL_PRESETS, selectBackend, type BackendPreference, type ModelPreset } from '@flock/model';
import { loadCsvData, loadFashionMnist, toTensors } from '@flock/sim';
import { err, exitAfterSignal, out, stopSignal, UsageError } from '../output.js';
import { int, num, oneOf } from '../parse.js';

interface ClientFlags {
  url: string;
  data?: string;
  id?: string;
  coordinatorKey?: string;
  credential?: string;
  token?: string;
  identity?: string;
  ca?: string;
  model?: ModelPreset;
  shard?: string;
  limit?: number;
  seed?: number;
  backend: BackendPreference;
  exitAfter?: number;
  giveUpAfter?: number;
}

/** Loads local data: a Fashion-MNIST IDX directory or a CSV file (label,pixels...). */
async function loadLocalData(source: string | undefined, limit: number | undefined): Promise<{ images: Float32Array; labels: Uint8Array; count: number; description: string }> {
  if (source && /\.csv(\.gz)?$/.test(source)) {
    const csv = await loadCsvData(source, limit ? { limit } : {});
    return { images: csv.images, labels: csv.labels, count: csv.count, description: source };
  }
  if (source) {
    const s = await stat(source).catch(() => undefined);
    if (!s) throw new UsageError(`--data ${source} does not exist (give an IDX directory or a .csv file)`);
  }
  const d = await loadFashionMnist({ dir: source, split: 'train', limit });
  return { images: d.images, labels: d.labels, count: d.count, description: d.description };
}

function parseShard(s: string | undefined): { index: number; count: number } | undefined {
  if (!s) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard must look like I/N with 0 <= I < N (e.g. 0/3); got '${s}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function clientCommand(): Command {
  return new Command('client')
    .description('join a federation as a client, training on local data')
    .requiredOption('--url <url>', 'coordinator URL, e.g. http://127.0.0.1:8080')
    .option('--data <dir|file.csv>', 'local data: a Fashion-MNIST IDX directory or a CSV file (default: the Fashion-MNIST lookup of flock sim)')
    .option('--id <clientId>', 'client id (default: random)')
    .option('--token <token>', 'enrollment token from the operator (flock token create); needed at the first connection')
    .option('--credential <token>', 'same as --token (deprecated)')
    .option('--identity <file>', 'identity key file (client id + Ed25519 key, created 0600 if missing): lets a restarted client reconnect as the same enrolled client')
    .option('--coordinator-key <hex>', "pin the coordinator's Ed25519 key (the coordinatorKey of its listening line); default: trust the first key seen")
    .option('--ca <file>', 'PEM CA certificate to trust for an https coordinator with a self-signed certificate')
    .option('--model <preset>', `local model preset (default: the coordinator's model.json): ${MODEL_PRESETS.join(', ')}`, oneOf(MODEL_PRESETS))
    .option('--shard <I/N>', 'use only the I-th of N equal slices of the data (to give processes disjoint data)')
    .option('--limit <n>', 'use at most N examples', int(1))
    .option('--seed <n>', 'seed for local shuffling', int(0))
    .option('--backend <name>', `tfjs backend: ${BACKEND_PREFERENCES.join(', ')}`, oneOf(BACKEND_PREFERENCES), 'auto')
    .option('--exit-after <rounds>', 'exit after reporting for this many rounds (default: when the coordinator says its rounds are done)', int(1))
    .option('--give-up-after <seconds>', 'exit with UNREACHABLE if no coordinator answers within this time (default: keep retrying)', num(0, Infinity, true))
    .action(async (f: ClientFlags) => {
      if (f.coordinatorKey !== undefined && !/^[0-9a-f]{64}$/i.test(f.coordinatorKey)) throw new UsageError(`--coordinator-key must be 64 hex characters (an Ed25519 public key); got '${f.coordinatorKey}'`);
      if (!/^https?:\/\//.test(f.url)) throw new UsageError(`--url must start with http:// or https://; got '${f.url}'`);
      const shard = parseShard(f.shard);
      const backend = await selectBackend(f.backend);
      const data = await loadLocalData(f.data, shard ? undefined : f.limit);
      let indices: Uint32Array | undefined;
      if (shard) {
        const per = Math.floor(data.count / shard.count);
        const n = Math.min(per, f.limit ?? per);
        indices = new Uint32Array(n).map((_, i) => shard.index * per + i);
      }
      const tensors = toTensors(data.images, data.labels, indices);
      const id = f.identity ? loadIdentity(f.identity, f.id) : undefined;
      const ca = f.ca ? readPem('--ca', f.ca) : undefined;
      const token = f.token ?? f.credential;
      const client = new FlockClient({
        url: f.url,
        ...(id ? { clientId: id.clientId, identity: id.identity } : f.id ? { clientId: f.id } : {}),
        ...(token ? { token } : {}),
        ...(f.coordinatorKey ? { coordinatorKey: f.coordinatorKey } : {}),
        ...(ca ? { ca, platform: nodeClientPlatform({ ca }) } : {}),
        ...(f.model ? { model: () => createPresetModel(f.model!) } : {}),
        ...(f.seed !== undefined ? { seed: f.seed } : {}),
        ...(f.giveUpAfter !== undefined ? { giveUpAfterMs: Math.round(f.giveUpAfter * 1000) } : {}),
        data: tensors,
      });
      let reported = 0;
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      // A refusal that ends this identity's participation makes the process fail (exit 1), not finish.
      let fatal: FlockError | undefined;
      client.on('error', (e) => {
        err(JSON.stringify({ event: 'error', code: e.code, message: e.message }));
        if (e.code === 'CREDENTIAL_REVOKED' || e.code === 'SESSION_REPLACED' || e.code === 'COORDINATOR_KEY_CHANGED') fatal = e;
      });
      client.on('round:report', (r) => {
        out(JSON.stringify({ event: 'report', round: r.round, kind: r.kind, accepted: r.accepted, numExamples: r.numExamples, metrics: r.metrics, seconds: r.seconds, phases: r.phases }));
        if (r.accepted && ++reported >= (f.exitAfter ?? Infinity)) finish();
      });
      // The coordinator ran its configured rounds: nothing more will start, exit 0.
      let finished: FederationDone | undefined;
      client.on('done', (d) => {
        finished = d;
        finish();
      });
      client.on('disconnect', (reason) => {
        err(JSON.stringify({ event: 'disconnect', reason }));
        if (reason === 'io server disconnect') finish();
      });
      const stopped = stopSignal();
      // Tell the user while the coordinator is unreachable (the SDK keeps retrying).
      const waiting = setInterval(() => err(JSON.stringify({ event: 'waiting', message: `cannot reach ${f.url} yet; retrying (${f.giveUpAfter !== undefined ? `giving up after ${f.giveUpAfter} s; ` : ''}Ctrl-C to stop)` })), 5000);
      let welcome;
      try {
        welcome = await client.start();
      } finally {
        clearInterval(waiting);
      }
      out(JSON.stringify({ event: 'joined', clientId: client.clientId, federationId: welcome.federationId, modelVersion: welcome.modelVersion, examples: tensors.x.shape[0], backend: backend.name, data: data.description }));
      const signal = await Promise.race([done.then(() => undefined), stopped]);
      await client.stop();
      if (finished) out(JSON.stringify({ event: 'done', federationId: finished.federationId, rounds: finished.rounds, modelVersion: finished.modelVersion, modelHash: finished.modelHash, modelPath: finished.modelPath }));
      exitAfterSignal(signal);
      if (fatal && !finished) throw fatal;
    });
}
