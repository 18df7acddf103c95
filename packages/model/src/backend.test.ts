import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKEND_PREFERENCES, currentBackend, selectBackend } from './backend.js';
import { FLOCK_WASM_KERNELS, flockWasmKernelsRegistered, registerFlockWasmKernels } from './kernels/index.js';

describe('selectBackend', () => {
  // First in this file (fresh process): the kernels are registered before the wasm backend initializes.
  it('wasm: selects wasm and registers the Flock kernels, which then train', async () => {
    const info = await selectBackend('wasm');
    expect(info).toEqual({ name: 'wasm', requested: 'wasm', provider: '@tensorflow/tfjs-backend-wasm' });
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toEqual(info);
    expect(flockWasmKernelsRegistered()).toBe(true);
    expect(registerFlockWasmKernels()).toEqual([]);
    for (const k of FLOCK_WASM_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
    // A replaced kernel (BatchMatMul, whose stock setup ran through our config) and an added one (Conv2DBackpropFilter) work.
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tf.ones([4, 4, 4, 1]);
    const y = tf.zeros([4, 2]);
    const first = (await model.trainOnBatch(x, y)) as number;
    let last = first;
    for (let i = 0; i < 5; i++) last = (await model.trainOnBatch(x, y)) as number;
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    const m = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1, 0], [0, 1]]), true, false);
    expect(Array.from(m.dataSync())).toEqual([1, 3, 2, 4]);
    tf.dispose([x, y, m]);
    model.dispose();
  });

  it('wasm twice is idempotent', async () => {
    await selectBackend('wasm');
    await selectBackend('wasm');
    expect(flockWasmKernelsRegistered()).toBe(true);
  });

  it('cpu', async () => {
    const info = await selectBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('auto picks a native backend when installed, else wasm (with Flock kernels)', async () => {
    const info = await selectBackend('auto');
    expect(info.requested).toBe('auto');
    expect(['tensorflow', 'wasm']).toContain(info.name);
    if (info.name === 'wasm') expect(flockWasmKernelsRegistered()).toBe(true);
  });

  it('a missing native backend is a clear error', async () => {
    let nativeInstalled = true;
    try {
      const pkg = '@tensorflow/tfjs-node-gpu';
      await import(/* @vite-ignore */ pkg);
    } catch {
      nativeInstalled = false;
    }
    if (!nativeInstalled) await expect(selectBackend('tensorflow-gpu')).rejects.toThrow(/not available/);
  });

  it('rejects unknown preferences', async () => {
    expect(BACKEND_PREFERENCES).toContain('auto');
    await expect(selectBackend('gpu' as never)).rejects.toThrow(RangeError);
  });
});

describe('selectBackend outside a browser', () => {
  it('refuses the browser-only backends with the reason, and a malformed wasmPaths with a TypeError', async () => {
    const before = tf.getBackend();
    await expect(selectBackend('webgl')).rejects.toThrow(/backend 'webgl' is not available \(webgl: only in a browser\)/);
    await expect(selectBackend('webgpu')).rejects.toThrow(/webgpu: (no WebGPU|only in a browser)/);
    await expect(selectBackend('wasm', { wasmPaths: 5 as never })).rejects.toThrow(TypeError);
    expect(tf.getBackend()).toBe(before);
  });
});
