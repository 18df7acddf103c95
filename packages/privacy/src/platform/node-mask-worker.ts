// Node-only (imported by node.ts): one worker thread that helps apply SecAgg masks. The worker
// is plain JavaScript evaluated from a string, so it needs no TypeScript loader or bundler
// support; it uses node:crypto AES-256-CTR and the same WebAssembly SIMD kernel as the caller.
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ringSimdBytes } from '../secagg/ring-simd.js';
import type { MaskJob } from './types.js';

/**
 * The helper: for each job, joins (state[1] += 1), claims batches until none are left, and sums
 * its items tile by tile into WebAssembly memory. Replies { id, partial } (partial null when it
 * claimed nothing) or { id, error }. Without WebAssembly SIMD it never joins (the caller does all).
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const IV = new Uint8Array(16);
let mod = null;
try {
  if (WebAssembly.validate(workerData.wasm)) mod = new WebAssembly.Module(workerData.wasm);
} catch (e) {
  mod = null;
}
function run(job) {
  const { m, seeds, signs, state, batch, tileBytes } = job;
  const count = signs.length;
  const total = 4 * m;
  const zero = new Uint8Array(tileBytes);
  let u8 = null, add = null, sub = null, scratch = 0;
  Atomics.add(state, 1, 1);
  for (;;) {
    const start = Atomics.add(state, 0, batch);
    if (start >= count) break;
    const end = Math.min(count, start + batch);
    if (u8 === null) {
      scratch = Math.ceil(total / 64) * 64;
      const pages = Math.ceil((scratch + tileBytes) / 65536);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      const inst = new WebAssembly.Instance(mod, { env: { memory } });
      add = inst.exports.add;
      sub = inst.exports.sub;
      u8 = new Uint8Array(memory.buffer);
    }
    const ciphers = [];
    try {
      for (let i = start; i < end; i++) ciphers.push(createCipheriv('aes-256-ctr', seeds.subarray(32 * i, 32 * i + 32), IV));
      for (let off = 0; off < total; off += tileBytes) {
        const len = Math.min(tileBytes, total - off);
        const z = len === tileBytes ? zero : zero.subarray(0, len);
        for (let j = 0; j < ciphers.length; j++) {
          u8.set(ciphers[j].update(z), scratch);
          (signs[start + j] < 0 ? sub : add)(off, scratch, len >>> 2);
        }
      }
    } finally {
      for (const c of ciphers) c.final();
    }
  }
  if (u8 === null) return null;
  const partial = new Uint32Array(m);
  partial.set(new Uint32Array(u8.buffer, 0, m));
  u8.fill(0);
  return partial;
}
parentPort.on('message', (job) => {
  try {
    const partial = mod === null ? null : run(job);
    parentPort.postMessage({ id: job.id, partial }, partial ? [partial.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.message) || e) });
  } finally {
    job.seeds.fill(0);
  }
});
`;

interface Pending {
  resolve(partials: Uint32Array[]): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
let disabled = false;
let nextId = 1;
const pending = new Map<number, Pending>();

function helper(): Worker | undefined {
  if (worker || disabled) return worker;
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  if (cores < 2) {
    disabled = true;
    return undefined;
  }
  let w: Worker;
  try {
    w = new Worker(WORKER_SOURCE, { eval: true, workerData: { wasm: ringSimdBytes() } });
  } catch {
    disabled = true;
    return undefined;
  }
  w.unref(); // never keeps the process alive while idle
  w.on('message', (msg: { id: number; partial?: Uint32Array | null; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (pending.size === 0) w.unref();
    if (msg.error !== undefined) p.reject(new Error(`mask helper: ${msg.error}`));
    else p.resolve(msg.partial ? [msg.partial] : []);
  });
  const fail = (err: Error): void => {
    if (worker === w) worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`mask helper exited with code ${code}`)));
  worker = w;
  return w;
}

/** PlatformCrypto.maskHelpers on a worker thread (one helper; undefined on a single core). */
export function nodeMaskHelpers(job: MaskJob): Promise<Uint32Array[]> | undefined {
  const w = helper();
  if (!w) return undefined;
  const id = nextId++;
  const done = new Promise<Uint32Array[]>((resolve, reject) => pending.set(id, { resolve, reject }));
  w.ref(); // keep the process alive until the reply
  try {
    w.postMessage({ id, ...job }); // seeds are copied; state is shared
  } catch (e) {
    pending.delete(id);
    if (pending.size === 0) w.unref();
    return undefined;
  }
  return done;
}

/** Stops the helper thread (tests, orderly shutdown); a later job starts a new one. */
export async function stopNodeMaskHelpers(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (w) await w.terminate();
}
