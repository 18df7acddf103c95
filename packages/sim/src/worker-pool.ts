import { Worker } from 'node:worker_threads';
import type { ClientWorkerInit, ClientWorkerMessage } from './client-worker.js';

/** A set of worker threads, each running some of the simulated SDK clients. */
export class ClientWorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `count` workers and splits the clients round-robin among them; resolves when all clients joined. */
  static async start(count: number, init: Omit<ClientWorkerInit, 'entry' | 'indices'>): Promise<ClientWorkerPool> {
    // From src/ (a checkout): TypeScript through the repository's source loader; from dist/: plain JavaScript.
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(fromSource ? './client-worker.ts' : './client-worker.js', import.meta.url).href;
    const bootstrap = fromSource ? new URL('./worker-bootstrap.mjs', import.meta.url) : new URL(entry);
    const workers: Worker[] = [];
    const ready: Array<Promise<void>> = [];
    for (let w = 0; w < count; w++) {
      const indices: number[] = [];
      for (let i = w; i < init.numClients; i += count) indices.push(i);
      if (indices.length === 0) continue;
      const worker = new Worker(bootstrap, { workerData: { ...init, entry, indices } satisfies ClientWorkerInit });
      workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (m: ClientWorkerMessage) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') reject(new Error(`client worker ${w}: ${m.message}`));
          });
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`client worker ${w} exited with code ${code}`)));
        }),
      );
    }
    const pool = new ClientWorkerPool(workers);
    try {
      await Promise.all(ready);
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  /** Stops every client, then the threads. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 10_000);
            w.on('message', (m: ClientWorkerMessage) => {
              if (m.type === 'stopped') {
                clearTimeout(timer);
                void w.terminate().then(() => resolve());
              }
            });
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.postMessage({ type: 'stop' });
          }),
      ),
    );
  }
}
