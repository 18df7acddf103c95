import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { FlockClient, type RoundReport } from '@flock/client';
import { Coordinator } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { loadFashionMnist, toTensors } from '@flock/sim';
import { machineInfo } from './machine.js';

/**
 * `flock bench sdk`: what the SDK costs a web app.
 *
 * 1. Size: @flock/client bundled alone for the browser (esbuild, minified, code-split, tfjs
 *    external), raw and gzip (level 9) of what loads with the page (budget 60 KB gzip) and of
 *    what loads on demand (secure aggregation, the wasm kernels), for the main entry and the
 *    worker handle.
 * 2. Round times: one client in a federation of one, training the MLP and the simple CNN on
 *    wasm + Flock's kernels, in Node and in Chromium (puppeteer-core, FLOCK_CHROMIUM or
 *    /usr/bin/chromium): median seconds per round and per phase, first round (warm-up) excluded.
 */
export async function* benchSdk(opts: { quick?: boolean } = {}): AsyncGenerator<Record<string, unknown>> {
  const esbuild = await importOptional<typeof import('esbuild')>('esbuild');
  if (!esbuild) {
    yield { bench: 'sdk-size', skipped: 'esbuild is not installed (npm i -D esbuild)' };
    return;
  }
  for (const entry of ['.', './worker-handle'] as const) yield await bundleSize(esbuild, entry);
  const rounds = opts.quick ? 3 : 6;
  const count = opts.quick ? 500 : 1000;
  for (const model of ['mlp', 'simple-cnn'] as const) {
    yield await roundTimes('node', model, rounds, count, esbuild);
    yield await roundTimes('chromium', model, rounds, count, esbuild);
  }
}

async function importOptional<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(/* @vite-ignore */ name)) as T;
  } catch {
    return undefined;
  }
}

const BUDGET_GZIP_BYTES = 60 * 1024;

async function bundleSize(esbuild: typeof import('esbuild'), entry: '.' | './worker-handle'): Promise<Record<string, unknown>> {
  const spec = entry === '.' ? '@flock/client' : '@flock/client/worker-handle';
  const r = await esbuild.build({
    stdin: { contents: `export * from '${spec}';`, resolveDir: path.dirname(fileURLToPath(import.meta.url)), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    // Code split as an app's bundler does: what loads later (secure aggregation) is its own chunk.
    splitting: true,
    outdir: 'out',
    external: ['@tensorflow/*'],
    logLevel: 'error',
  });
  // Loaded with the page: the entry and the chunks it imports statically; the rest loads on demand.
  const outputs = r.metafile.outputs;
  const entryName = Object.keys(outputs).find((k) => outputs[k]!.entryPoint !== undefined)!;
  const initial = new Set<string>();
  const visit = (name: string): void => {
    if (initial.has(name)) return;
    initial.add(name);
    for (const i of outputs[name]!.imports) if (i.kind === 'import-statement' && outputs[i.path]) visit(i.path);
  };
  visit(entryName);
  const files = new Map(r.outputFiles.map((f) => [path.relative(process.cwd(), f.path), f.contents]));
  const sizeOf = (names: string[]) => {
    const parts = names.map((n) => files.get(n)!);
    return { min: parts.reduce((a, b) => a + b.length, 0), gzip: parts.reduce((a, b) => a + gzipSync(b, { level: 9 }).length, 0) };
  };
  const first = sizeOf([...initial]);
  const later = sizeOf(Object.keys(outputs).filter((n) => !initial.has(n) && n.endsWith('.js')));
  const code = { length: first.min };
  const gzip = first.gzip;
  const byPackage: Record<string, number> = {};
  for (const out of Object.values(r.metafile.outputs)) {
    for (const [file, v] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file) ?? /packages\/([^/]+)\//.exec(file);
      const key = m ? (m[1]!.includes('/') || file.includes('node_modules') ? m[1]! : `@flock/${m[1]}`) : file;
      byPackage[key] = (byPackage[key] ?? 0) + v.bytesInOutput;
    }
  }
  return {
    bench: 'sdk-size',
    entry: spec,
    tfjs: 'external',
    minifiedBytes: code.length,
    gzipBytes: gzip,
    gzipKB: Math.round((gzip / 1024) * 10) / 10,
    lazyMinifiedBytes: later.min,
    lazyGzipKB: Math.round((later.gzip / 1024) * 10) / 10,
    lazy: 'secure aggregation and the wasm kernels (each loaded on first use)',
    budgetKB: BUDGET_GZIP_BYTES / 1024,
    withinBudget: gzip <= BUDGET_GZIP_BYTES,
    minifiedBytesByPackage: Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1])),
    machine: machineInfo(),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarize(where: string, model: string, count: number, reports: RoundReport[]): Record<string, unknown> {
  const ok = reports.filter((r) => r.accepted).slice(1); // round 1 warms up (model build, wasm, first download)
  const phase = (k: keyof RoundReport['phases']) => Math.round(median(ok.map((r) => r.phases[k])) * 1000) / 1000;
  return {
    bench: 'sdk-round',
    client: where,
    model,
    backend: 'wasm',
    kernels: 'flock',
    examples: count,
    epochs: 1,
    batchSize: 32,
    rounds: ok.length,
    secondsPerRound: Math.round(median(ok.map((r) => r.seconds)) * 1000) / 1000,
    phases: { download: phase('download'), prepare: phase('prepare'), fit: phase('fit'), delta: phase('delta'), send: phase('send') },
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    machine: machineInfo(),
  };
}

async function roundTimes(where: 'node' | 'chromium', model: 'mlp' | 'simple-cnn', rounds: number, count: number, esbuild: typeof import('esbuild')): Promise<Record<string, unknown>> {
  await selectBackend('wasm');
  const m = createPresetModel(model, { seed: 1 });
  const flat = await flatModelOf(m);
  m.dispose();
  const coordinator = new Coordinator({ model: flat, settings: { auth: 'open', minClients: 1, rounds, roundTimeoutMs: 300_000, train: { epochs: 1, batchSize: 32, learningRate: 0.05 } } });
  const url = await coordinator.listen(0, '127.0.0.1');
  const train = await loadFashionMnist({ split: 'train', limit: count });
  try {
    if (where === 'node') {
      const data = toTensors(train.images, train.labels, undefined);
      const client = new FlockClient({ url, data, backend: 'wasm' });
      const reports: RoundReport[] = [];
      client.on('round:report', (r) => reports.push(r));
      const done = new Promise<void>((resolve) => client.on('done', () => resolve()));
      await client.start();
      coordinator.start();
      await done;
      await client.stop();
      tf.dispose([data.x, data.y]);
      return summarize('node', model, count, reports);
    }
    return await inChromium(url, coordinator, model, count, train, esbuild);
  } finally {
    await coordinator.close();
  }
}

async function inChromium(url: string, coordinator: Coordinator, model: string, count: number, train: { images: Float32Array; labels: Uint8Array }, esbuild: typeof import('esbuild')): Promise<Record<string, unknown>> {
  const chromium = process.env.FLOCK_CHROMIUM ?? '/usr/bin/chromium';
  const puppeteer = await importOptional<typeof import('puppeteer-core')>('puppeteer-core');
  if (!puppeteer || !existsSync(chromium)) return { bench: 'sdk-round', client: 'chromium', model, skipped: !puppeteer ? 'puppeteer-core is not installed' : `no Chromium at ${chromium} (set FLOCK_CHROMIUM)` };
  const here = path.dirname(fileURLToPath(import.meta.url));
  const pageEntry = [path.join(here, 'sdk-page.ts'), path.join(here, 'sdk-page.js')].find(existsSync)!;
  const bundle = await esbuild.build({ entryPoints: [pageEntry], bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', minify: true, write: false, conditions: pageEntry.endsWith('.ts') ? ['@flock/source'] : [], define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'error' });
  const wasmDir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  const data = new Uint8Array(count * 785);
  for (let i = 0; i < count * 784; i++) data[i] = Math.round(train.images[i]! * 255);
  data.set(train.labels.subarray(0, count), count * 784);
  const server = createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (p === '/') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>loading</title><script type="module" src="/page.js"></script>');
    else if (p === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.outputFiles[0]!.contents);
    else if (p === '/data') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data);
    else if (/^\/wasm\/tfjs-backend-wasm[a-z-]*\.wasm$/.test(p)) res.writeHead(200, { 'content-type': 'application/wasm' }).end(readFileSync(path.join(wasmDir, path.basename(p))));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  const browser = await puppeteer.default.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.title === 'ready');
    const running = page.evaluate((o) => (globalThis as never as { flockBench: { run(o: unknown): Promise<RoundReport[]> } }).flockBench.run(o), { url, count, wasmPaths: `${origin}/wasm/` });
    await new Promise((r) => setTimeout(r, 200));
    coordinator.start();
    const result = summarize('chromium', model, count, await running);
    return { ...result, browser: await browser.version() };
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
}
