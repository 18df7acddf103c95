import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOADER = fileURLToPath(new URL('../../../scripts/source-loader.mjs', import.meta.url));

/** Runs an ES module (given as source) in a fresh Node process with @flock/* from src/. */
function runModule(source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', LOADER, '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// The emscripten glue of tfjs-backend-wasm starts with this; Node printed its 37 kB line above every uncaught error.
const GLUE = 'var Module=typeof WasmBackendModule';

// Fresh processes: the wasm backend instantiates (and its glue adds its process listeners) exactly as in an app.
describe('ready() and uncaught errors in an app', () => {
  it('ready() makes tensors usable, picks the backend once, and leaves no glue listener on process', async () => {
    const r = await runModule(`
      import * as tf from '@tensorflow/tfjs';
      import { ready } from '@flock/model';
      const [a, b] = await Promise.all([ready(), ready()]);
      const sum = tf.tidy(() => tf.add(tf.ones([2]), tf.ones([2])).dataSync());
      const glue = [...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')].filter((l) => /ExitStatus|throw reason/.test(String(l)));
      console.log(JSON.stringify({ a, same: a === b, backend: tf.getBackend(), sum: Array.from(sum), glue: glue.length }));
    `);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ a: { name: 'wasm', requested: 'auto', provider: '@tensorflow/tfjs-backend-wasm' }, same: true, backend: 'wasm', sum: [2, 2], glue: 0 });
  });

  it('an uncaught error after ready() prints the app error, not the minified wasm glue', async () => {
    const r = await runModule(`
      import { ready } from '@flock/model';
      await ready();
      setTimeout(() => { throw new Error('the app failed'); }, 1);
    `);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: the app failed');
    expect(r.stderr).not.toContain(GLUE);
    expect(r.stderr.length).toBeLessThan(4000);
  });

  it('a tensor created before ready() fails with the advice of tfjs, not the minified wasm glue', async () => {
    const r = await runModule(`
      import * as tf from '@tensorflow/tfjs';
      import '@flock/model';
      tf.zeros([2]);
    `);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("The highest priority backend 'wasm' has not yet been initialized");
    expect(r.stderr).not.toContain(GLUE);
  });
});
