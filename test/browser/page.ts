// The script of the test page (test/browser.test.ts bundles it with esbuild for Chromium): the
// Flock SDK as a web app uses it, driven through window.flockTest.
import * as tf from '@tensorflow/tfjs';
import { FlockClient, type RoundReport } from '@flock/client';
import { getFlatWeights, weightSpecOf } from '@flock/model';
import { hashModelAsync } from '@flock/protocol';
import { FlockWorkerClient } from '@flock/client/worker-handle';

interface StartOptions {
  url: string;
  token?: string;
  clientId?: string;
  /** Training rows from the page server's /data endpoint. */
  offset: number;
  count: number;
  wasmPaths: string;
}

const log: Array<{ event: string; data?: unknown }> = [];
let client: FlockClient | undefined;

async function loadData(offset: number, count: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor2D }> {
  const res = await fetch(`/data?offset=${offset}&count=${count}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[i]! / 255;
  const labels = Array.from(bytes.subarray(count * 784, count * 785));
  return { x: tf.tensor4d(pixels, [count, 28, 28, 1]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D };
}

const api = {
  log,
  async start(o: StartOptions): Promise<{ clientId: string; backend: string; hidden: boolean }> {
    const data = await loadData(o.offset, o.count);
    client = new FlockClient({ url: o.url, data, backend: 'wasm', wasmPaths: o.wasmPaths, ...(o.token ? { token: o.token } : {}), ...(o.clientId ? { clientId: o.clientId } : {}) });
    for (const e of ['welcome', 'round:start', 'round:end', 'done', 'error', 'backend'] as const) client.on(e, (d: unknown) => log.push({ event: e, data: e === 'error' ? String(d) : e === 'round:start' ? { round: (d as { round: number }).round, hidden: document.hidden } : undefined }));
    client.on('round:report', (r: RoundReport) => log.push({ event: 'round:report', data: { round: r.round, accepted: r.accepted, error: r.error?.message, hidden: document.hidden, numExamples: r.numExamples } }));
    await client.start();
    return { clientId: client.clientId, backend: client.backend!.name, hidden: document.hidden };
  },
  /** The same in a Web Worker (@flock/client/worker): the page holds only the handle. */
  async startInWorker(o: StartOptions): Promise<{ clientId: string; backend: string }> {
    const res = await fetch(`/data?offset=${o.offset}&count=${o.count}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const x = new Float32Array(o.count * 784);
    for (let i = 0; i < x.length; i++) x[i] = bytes[i]! / 255;
    const y = new Float32Array(o.count * 10);
    for (let i = 0; i < o.count; i++) y[i * 10 + bytes[o.count * 784 + i]!] = 1;
    const worker = new FlockWorkerClient(new Worker('/worker.js', { type: 'module' }), { url: o.url, backend: 'wasm', wasmPaths: o.wasmPaths, data: { x: { shape: [o.count, 28, 28, 1], values: x }, y: { shape: [o.count, 10], values: y } } });
    let backend = '';
    worker.on('backend', (b) => (backend = b.name));
    worker.on('round:report', (r) => log.push({ event: 'round:report', data: { round: r.round, accepted: r.accepted, error: r.error?.message, hidden: document.hidden, numExamples: r.numExamples } }));
    await worker.start();
    return { clientId: worker.clientId!, backend };
  },
  reports(): Array<{ round: number; accepted: boolean; error?: string; hidden: boolean }> {
    return log.filter((e) => e.event === 'round:report').map((e) => e.data as never);
  },
  async stop(): Promise<void> {
    await client?.stop();
  },
  /** Loads the coordinator's served model with tf.loadLayersModel (cross-origin) and checks it against the published hash. */
  async loadServedModel(url: string): Promise<{ version: number; hashMatches: boolean; outputShape: number[]; sums: number[] }> {
    const info = (await (await fetch(`${url}/v1/models/latest`)).json()) as { version: number; hash: string; modelJson: string };
    const model = await tf.loadLayersModel(`${url}${info.modelJson}`);
    const hash = await hashModelAsync(weightSpecOf(model), getFlatWeights(model));
    const { x } = await loadData(0, 4);
    const out = model.predict(x) as tf.Tensor2D;
    const sums = Array.from((await out.sum(1).data()) as Float32Array);
    const result = { version: info.version, hashMatches: hash === info.hash, outputShape: out.shape, sums };
    tf.dispose([x, out]);
    model.dispose();
    return result;
  },
};

(globalThis as unknown as { flockTest: typeof api }).flockTest = api;
document.title = 'flock test page ready';
