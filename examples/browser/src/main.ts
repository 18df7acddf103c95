// The browser tutorial's app (README.md): join a federation from a web page and train in it.
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { loadSlice } from './fashion-mnist.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const log = (line: string): void => {
  const box = $<HTMLDivElement>('log');
  box.textContent += `${new Date().toLocaleTimeString()} ${line}\n`;
  box.scrollTop = box.scrollHeight;
};

$<HTMLFormElement>('join').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = new FormData(e.target as HTMLFormElement);
  (e.target as HTMLFormElement).querySelector('button')!.disabled = true;
  join(String(form.get('url')), String(form.get('token') ?? ''), Number(form.get('count'))).catch((err: unknown) => {
    status.textContent = `Stopped: ${String(err)}`;
    log(String(err));
  });
});

async function join(url: string, token: string, count: number): Promise<void> {
  status.textContent = 'Loading this page\'s data slice...';
  // Another slice per page: a random window of the 8,000 training images.
  const offset = Math.floor((crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32) * Math.max(1, 8000 - count));
  const client = new FlockClient({
    url,
    ...(token ? { token } : {}),
    data: await loadSlice('train', offset, count),
    // Where the wasm backend finds its .wasm files (vite.config.ts serves and copies them).
    wasmPaths: '/tfjs-wasm/',
  });
  client.on('backend', (b) => log(`backend ${b.name}${b.skipped ? ` (skipped: ${b.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`));
  client.on('welcome', (w) => log(`joined ${w.federationId} as ${client.clientId}, model version ${w.modelVersion}`));
  client.on('round:start', (s) => {
    status.textContent = `Round ${s.round}: training on ${count} images (${s.config.epochs} epoch(s))...`;
    progress.removeAttribute('value'); // indeterminate while training
  });
  client.on('round:report', (r) => {
    progress.value = 1;
    const m = Object.entries(r.metrics).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
    log(`round ${r.round}: ${r.accepted ? 'update sent' : `no update (${r.error?.message})`} in ${r.seconds.toFixed(2)} s${m ? `; local ${m}` : ''}`);
    status.textContent = `Round ${r.round} done; waiting for the next one.`;
  });
  client.on('round:end', (e) => log(`round ${e.round} ${e.status}: global model version ${e.modelVersion}`));
  client.on('error', (err) => log(`error ${err.code}: ${err.message}`));
  client.on('done', async (d) => {
    status.textContent = `Federation done after ${d.rounds} rounds. Evaluating the final model...`;
    await client.stop();
    // The served model, as any web app would load it (CORS allows it).
    const model = await tf.loadLayersModel(`${url}${d.modelPath}/model.json`);
    const test = await loadSlice('t10k', 0, 1000);
    const pred = tf.tidy(() => (model.predict(test.x) as tf.Tensor).argMax(-1).equal(test.y.argMax(-1)).mean().dataSync()[0]!);
    status.textContent = `Federation done. Final model: ${(pred * 100).toFixed(1)} % accuracy on 1,000 test images.`;
  });
  document.addEventListener('visibilitychange', () => log(`tab ${document.hidden ? 'hidden: training goes on' : 'visible'}`));
  status.textContent = 'Connecting...';
  await client.start();
  status.textContent = 'Connected; waiting for a round.';
}
