import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { createPresetModel, selectBackend, type BackendPreference, type ModelPreset } from '@flock/model';
import { loadFashionMnist } from './data/index.js';
import { partition } from './partition/index.js';
import { toTensors } from './tensors.js';
import { clientIdOf, clientSeedOf } from './clients.js';
import { dropoutPlan } from './faults.js';
import { ClientDelays, DelayPlan } from './delays.js';
import { nodePlatform } from '@flock/privacy/node';

/** What the parent sends a client worker. */
export interface ClientWorkerInit {
  entry: string;
  url: string;
  dataDir?: string;
  trainLimit?: number;
  partition: string;
  seed: number;
  numClients: number;
  /** Enrollment token of every client, by index. */
  tokens: string[];
  /** Which clients (by index) this worker runs. */
  indices: number[];
  model: ModelPreset;
  backend: BackendPreference;
  secure: boolean;
  dropout: number;
  /** Straggler and bandwidth specs (delays.ts); every worker derives the same plan from the seed. */
  straggler?: string;
  bandwidth?: string;
}

export type ClientWorkerMessage = { type: 'ready'; backend: string } | { type: 'error'; message: string } | { type: 'stopped' };

async function main(): Promise<void> {
  const init = workerData as ClientWorkerInit;
  const port = parentPort!;
  const backend = await selectBackend(init.backend);
  // Every worker recomputes the same split from the seed: no data crosses threads.
  const train = await loadFashionMnist({ dir: init.dataDir, split: 'train', limit: init.trainLimit });
  const parts = partition(train.labels, init.numClients, init.partition, init.seed);
  const tensors = init.indices.map((i) => toTensors(train.images, train.labels, parts[i]!));
  const plan = init.straggler !== undefined || init.bandwidth !== undefined ? new DelayPlan({ seed: init.seed, numClients: init.numClients, ...(init.straggler !== undefined ? { straggler: init.straggler } : {}), ...(init.bandwidth !== undefined ? { bandwidth: init.bandwidth } : {}) }) : undefined;
  const delays = plan ? init.indices.map((i) => new ClientDelays(plan, i)) : [];
  const clients = init.indices.map((i, k) => {
    const slow = delays[k];
    const client = new FlockClient({
      url: init.url,
      clientId: clientIdOf(i),
      token: init.tokens[i]!,
      model: () => createPresetModel(init.model),
      data: tensors[k]!,
      seed: clientSeedOf(init.seed, i),
      reuseModel: init.numClients <= 64,
      crypto: nodePlatform,
      ...(slow ? { platform: slow.platform } : {}),
      ...(init.dropout || slow ? { faults: { ...(init.dropout ? { dropBefore: dropoutPlan(init.seed, i, init.dropout, init.secure) } : {}), ...(slow ? { delay: slow.delay } : {}) } } : {}),
    });
    slow?.attach(client);
    return client;
  });
  await Promise.all(clients.map((c) => c.start()));
  port.postMessage({ type: 'ready', backend: backend.name } satisfies ClientWorkerMessage);
  port.on('message', (m: { type: string }) => {
    if (m.type !== 'stop') return;
    for (const d of delays) d.abort();
    void Promise.all(clients.map((c) => c.stop())).then(() => {
      for (const t of tensors) tf.dispose([t.x, t.y]);
      port.postMessage({ type: 'stopped' } satisfies ClientWorkerMessage);
    });
  });
}

main().catch((err: unknown) => parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies ClientWorkerMessage));
