// The SDK in a real browser: esbuild bundles test/browser/page.ts (the SDK, tfjs, wasm), a page
// server on http://localhost serves it, a coordinator listens on http://127.0.0.1 (another
// origin: every request is cross-origin), and Debian's Chromium, headless through puppeteer-core,
// runs the pages. Scenarios (issue #13): (a) a page and a Node client in sealed rounds, the page
// reloaded as the same client without its token; (b) two pages and a Node client with secure
// aggregation; (c) a page hidden when its round starts; (d) the served model loaded with
// tf.loadLayersModel in the page. Each checks GET /v1/rounds for the pages' committed updates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { FlockClient } from '@flock/client';
import type { Coordinator } from '@flock/coordinator';
import { loadFashionMnist } from '@flock/sim';
import { fashionSlices, startCoordinator } from './helpers.js';

const CHROMIUM = process.env.FLOCK_CHROMIUM ?? '/usr/bin/chromium';
const WASM_DIR = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

let browser: Browser;
let pageServer: Server;
let pageOrigin: string;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

interface PublicRound {
  round: number;
  status: string;
  reporters: string[];
}

async function rounds(url: string): Promise<PublicRound[]> {
  return ((await (await fetch(`${url}/v1/rounds`)).json()) as { rounds: PublicRound[] }).rounds;
}

/** Polls GET /v1/rounds until `n` rounds are committed; returns them. */
async function waitCommitted(url: string, n: number): Promise<PublicRound[]> {
  const t0 = Date.now();
  for (;;) {
    const list = await rounds(url);
    const done = list.filter((r) => r.status === 'committed');
    if (done.length >= n) return done;
    if (Date.now() - t0 > 60_000) throw new Error(`only ${done.length} of ${n} rounds committed: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A fresh browser context (its own IndexedDB: another device) with the test page loaded. */
async function openPage(options: { hidden?: boolean } = {}): Promise<Page> {
  const context = await browser.createBrowserContext();
  cleanups.push(() => context.close());
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  if (options.hidden) {
    // A background tab: the page is hidden and gets no animation frames (Chromium stops
    // requestAnimationFrame in hidden tabs), installed before any script of the page runs.
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { get: () => true });
      window.requestAnimationFrame = () => 0;
    });
  }
  await page.goto(`${pageOrigin}/`);
  await page.waitForFunction(() => document.title === 'flock test page ready');
  return page;
}

function startPage(page: Page, o: { url: string; token?: string; offset: number; count: number }): Promise<{ clientId: string; backend: string; hidden: boolean }> {
  return page.evaluate((opts) => (globalThis as never as { flockTest: { start(o: unknown): Promise<{ clientId: string; backend: string; hidden: boolean }> } }).flockTest.start(opts), { ...o, wasmPaths: `${pageOrigin}/wasm/` });
}

function pageReports(page: Page): Promise<Array<{ round: number; accepted: boolean; error?: string; hidden: boolean }>> {
  return page.evaluate(() => (globalThis as never as { flockTest: { reports(): never } }).flockTest.reports());
}

async function nodeClient(url: string, token: string | undefined, slice: { x: tf.Tensor4D; y: tf.Tensor2D }): Promise<FlockClient> {
  const c = new FlockClient({ url, ...(token ? { token } : {}), data: slice, backend: 'wasm' });
  cleanups.push(() => c.stop());
  c.on('error', () => undefined);
  await c.start();
  return c;
}

async function coordinatorFor(settings: Parameters<typeof startCoordinator>[0]): Promise<{ coordinator: Coordinator; url: string }> {
  const fed = await startCoordinator(settings);
  cleanups.push(() => fed.coordinator.close());
  return fed;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set FLOCK_CHROMIUM to a Chromium/Chrome binary`);
  const [bundle, data] = await Promise.all([
    build({ entryPoints: { page: path.join(import.meta.dirname, 'browser/page.ts'), worker: path.join(import.meta.dirname, 'browser/worker.ts') }, outdir: 'out', bundle: true, format: 'esm', platform: 'browser', conditions: ['@flock/source'], write: false, target: 'chrome120', define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'error' }),
    loadFashionMnist({ split: 'train', limit: 512 }),
  ]);
  const scripts = new Map(bundle.outputFiles.map((f) => [`/${path.basename(f.path)}`, f.contents]));
  pageServer = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    if (u.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/page.js"></script>');
    } else if (scripts.has(u.pathname)) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(scripts.get(u.pathname));
    } else if (/^\/wasm\/tfjs-backend-wasm[a-z-]*\.wasm$/.test(u.pathname)) {
      res.writeHead(200, { 'content-type': 'application/wasm' });
      res.end(readFileSync(path.join(WASM_DIR, path.basename(u.pathname))));
    } else if (u.pathname === '/data') {
      // Rows [offset, offset + count) of the Fashion-MNIST slice: count*784 pixels (0-255), then count labels.
      const offset = Number(u.searchParams.get('offset'));
      const count = Number(u.searchParams.get('count'));
      const out = new Uint8Array(count * 785);
      for (let i = 0; i < count * 784; i++) out[i] = Math.round(data.images[offset * 784 + i]! * 255);
      out.set(data.labels.subarray(offset, offset + count), count * 784);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(out);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  // localhost (a secure context, as WebCrypto needs) while the coordinator is 127.0.0.1: another origin.
  pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await browser?.close();
  await new Promise((r) => pageServer?.close(r));
});

describe('the SDK in Chromium, cross-origin', () => {
  it('(a)+(d) a page and a Node client in sealed rounds (AES-256-GCM suite only: the page seals with WebCrypto); the reloaded page is the same client without its token; the page loads the served model', async () => {
    // The coordinator accepts only x25519-hkdf-sha256-aes-256-gcm: a page that sealed otherwise would be refused.
    const { coordinator, url } = await coordinatorFor({ auth: 'tokens', minClients: 2, rounds: 2, roundTimeoutMs: 60_000, uploads: { sealSuites: ['x25519-hkdf-sha256-aes-256-gcm'] } });
    const [slice] = await fashionSlices(1, 64);
    cleanups.push(() => tf.dispose([slice!.x, slice!.y]));
    const page = await openPage();
    const started = await startPage(page, { url, token: coordinator.auth.mintToken({ label: 'page' }).token, offset: 0, count: 64 });
    expect(started.backend).toBe('wasm');
    expect(started.clientId).toMatch(/^c-[0-9a-f]{16}$/);
    const node = await nodeClient(url, coordinator.auth.mintToken({ label: 'node' }).token, slice!);
    coordinator.start();
    const committed = await waitCommitted(url, 2);
    for (const r of committed) expect(r.reporters.sort()).toEqual([node.clientId, started.clientId].sort());
    const reports = await pageReports(page);
    expect(reports.map((r) => [r.round, r.accepted])).toEqual([[1, true], [2, true]]);

    // Reload: IndexedDB gives the page its identity back; no token is needed (or sent) again.
    await page.evaluate(() => (globalThis as never as { flockTest: { stop(): Promise<void> } }).flockTest.stop());
    await page.reload();
    await page.waitForFunction(() => document.title === 'flock test page ready');
    const again = await startPage(page, { url, offset: 0, count: 64 });
    expect(again.clientId).toBe(started.clientId);
    expect(coordinator.connectedClients).toContain(started.clientId);

    // (d) The served model, loaded cross-origin with tf.loadLayersModel, is the committed one.
    const served = await page.evaluate((u) => (globalThis as never as { flockTest: { loadServedModel(u: string): Promise<{ version: number; hashMatches: boolean; outputShape: number[]; sums: number[] }> } }).flockTest.loadServedModel(u), url);
    expect(served.version).toBe(2);
    expect(served.hashMatches).toBe(true);
    expect(served.outputShape).toEqual([4, 10]);
    for (const s of served.sums) expect(s).toBeCloseTo(1, 4); // softmax rows
  });

  it('(b) two pages and a Node client with secure aggregation', async () => {
    const { coordinator, url } = await coordinatorFor({ minClients: 3, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true } });
    const [slice] = await fashionSlices(1, 64);
    cleanups.push(() => tf.dispose([slice!.x, slice!.y]));
    const pages = await Promise.all([openPage(), openPage()]);
    const ids = await Promise.all(pages.map((p, i) => startPage(p, { url, offset: 64 * (i + 1), count: 64 })));
    const node = await nodeClient(url, undefined, slice!);
    coordinator.start();
    const [r] = await waitCommitted(url, 1);
    expect(r!.reporters.sort()).toEqual([node.clientId, ...ids.map((i) => i.clientId)].sort());
    for (const p of pages) expect((await pageReports(p)).map((x) => x.accepted)).toEqual([true]);
  });

  it('(c) a page that is hidden (no animation frames) when its round starts still trains and reports', async () => {
    // Long enough that tfjs' fit yields (it does every 125 ms): 64 small batches.
    const { coordinator, url } = await coordinatorFor({ minClients: 2, rounds: 1, roundTimeoutMs: 60_000, train: { epochs: 2, batchSize: 8, learningRate: 0.05 } });
    const [slice] = await fashionSlices(1, 64);
    cleanups.push(() => tf.dispose([slice!.x, slice!.y]));
    const hidden = await openPage({ hidden: true });
    const started = await startPage(hidden, { url, offset: 192, count: 256 });
    expect(started.hidden).toBe(true);
    // And really in the background: another tab in front.
    const front = await openPage();
    await front.bringToFront();
    const node = await nodeClient(url, undefined, slice!);
    coordinator.start();
    const [r] = await waitCommitted(url, 1);
    expect(r!.reporters.sort()).toEqual([node.clientId, started.clientId].sort());
    const reports = await pageReports(hidden);
    expect(reports).toEqual([{ round: 1, accepted: true, hidden: true, numExamples: 256 }]);
  });

  it('(e) a page that trains in a Web Worker (@flock/client/worker) takes part like any client (AES-256-GCM suite only)', async () => {
    const { coordinator, url } = await coordinatorFor({ minClients: 2, rounds: 1, roundTimeoutMs: 60_000, uploads: { sealSuites: ['x25519-hkdf-sha256-aes-256-gcm'] } });
    const [slice] = await fashionSlices(1, 64);
    cleanups.push(() => tf.dispose([slice!.x, slice!.y]));
    const page = await openPage();
    const started = await page.evaluate((o) => (globalThis as never as { flockTest: { startInWorker(o: unknown): Promise<{ clientId: string; backend: string }> } }).flockTest.startInWorker(o), { url, offset: 448, count: 64, wasmPaths: `${pageOrigin}/wasm/` });
    expect(started.backend).toBe('wasm');
    const node = await nodeClient(url, undefined, slice!);
    coordinator.start();
    const [r] = await waitCommitted(url, 1);
    expect(r!.reporters.sort()).toEqual([node.clientId, started.clientId].sort());
    expect((await pageReports(page)).map((x) => [x.round, x.accepted])).toEqual([[1, true]]);
  });
});
