import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import puppeteer, { type Browser } from 'puppeteer-core';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { fashionSlices } from './helpers.js';

// The operator dashboard in a real Chromium (Debian's, through puppeteer-core; FLOCK_CHROMIUM
// overrides the path): log in with the operator token, watch a real 3-round federation advance
// over the operator socket.io namespace, click "Roll back", and see the serving version change.

const CHROMIUM = process.env.FLOCK_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'operator-token-for-the-dashboard-test';
const OUT = path.resolve('test/output/dashboard');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('dashboard (Chromium)', () => {
  it('logs in, watches 3 rounds advance live, rolls back the serving version', async () => {
    expect(statSync(CHROMIUM, { throwIfNoEntry: false }), `no Chromium at ${CHROMIUM} (apt-get install chromium, or set FLOCK_CHROMIUM)`).toBeDefined();
    await selectBackend('auto');
    const m = createPresetModel('logreg', { seed: 5 });
    const flat = await flatModelOf(m);
    m.dispose();
    const c = new Coordinator({ model: flat, operatorToken: TOKEN, settings: { auth: 'open', minClients: 2, rounds: 3, roundTimeoutMs: 60_000, roundIntervalMs: 300 } });
    const url = await c.listen();
    cleanups.push(() => c.close());
    const data = await fashionSlices(2, 60);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `dash-${i}`, model: () => createPresetModel('logreg'), data: d, seed: i }));
    cleanups.push(async () => {
      await Promise.all(clients.map((x) => x.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    await Promise.all(clients.map((x) => x.start()));

    const browser: Browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1400 });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${url}/dashboard`);

    // A wrong token is refused by the namespace; the right one shows the dashboard.
    await page.type('#token', 'not-the-token');
    await page.click('#login');
    await page.waitForFunction(() => document.getElementById('login-error')!.textContent!.includes('wrong operator token'));
    await page.$eval('#token', (e) => ((e as HTMLInputElement).value = ''));
    await page.type('#token', TOKEN);
    await page.click('#login');
    await page.waitForSelector('#main-view:not([hidden])');
    expect(await page.$eval('#serving-version', (e) => e.textContent)).toBe('0');

    // Record every round number the page shows while the federation runs.
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { seen: string[] }).seen = []);
      const el = document.getElementById('round-number')!;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
    });
    c.start();
    await page.waitForFunction(() => document.getElementById('rounds-committed')!.textContent === '3', { timeout: 90_000 });
    await c.whenDone();
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect([...new Set(seen)]).toEqual(['1', '2', '3']);
    await page.waitForFunction(() => document.getElementById('serving-version')!.textContent === '3');
    expect(await page.$$eval('#versions tr', (rows) => rows.map((r) => r.getAttribute('data-version')))).toEqual(['3', '2', '1', '0']);
    expect(await page.$$eval('#acc-chart canvas', (cs) => cs.length)).toBeGreaterThan(0);

    await page.click('#rollback');
    await page.waitForFunction(() => document.getElementById('serving-version')!.textContent === '2');
    expect(c.servingVersion).toBe(2);
    await page.waitForFunction(() => document.getElementById('audit')!.textContent!.includes('serving.rollback'));

    mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, 'dashboard.png');
    const png = await page.screenshot({ fullPage: true, encoding: 'base64' });
    writeFileSync(file, Buffer.from(png, 'base64'));
    // Not blank: decode it in a blank page and count colours and non-background pixels.
    const blank = await browser.newPage();
    const stats = await blank.evaluate(async (b64: string) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, img.width, img.height).data;
      const colours = new Set<number>();
      let ink = 0;
      for (let i = 0; i < d.length; i += 4 * 7) {
        colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        if (d[i]! + d[i + 1]! + d[i + 2]! < 600) ink++;
      }
      return { width: img.width, height: img.height, colours: colours.size, inkFraction: ink / (d.length / (4 * 7)) };
    }, png);
    expect(stats.width).toBe(1280);
    expect(stats.colours).toBeGreaterThan(20);
    expect(stats.inkFraction).toBeGreaterThan(0.02);
    expect(statSync(file).size).toBeGreaterThan(10_000);
    expect(pageErrors).toEqual([]);
  });
});
