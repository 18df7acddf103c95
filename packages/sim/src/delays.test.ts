import { describe, expect, it } from 'vitest';
import {
  ClientDelays,
  DelayPlan,
  formatBandwidthSpec,
  formatStragglerSpec,
  parseBandwidthSpec,
  parseRate,
  parseStragglerSpec,
  sampleDelayMs,
  summarizeRoundDelays,
  transferMs,
  type DelayDistribution,
} from './delays.js';
import { createRng } from './rng.js';

describe('parseStragglerSpec', () => {
  it('parses every distribution, positional or named, with units and frac', () => {
    expect(parseStragglerSpec('fixed:250')).toEqual({ dist: 'fixed', ms: 250, frac: 1 });
    expect(parseStragglerSpec('fixed:2s')).toEqual({ dist: 'fixed', ms: 2000, frac: 1 });
    expect(parseStragglerSpec('uniform:100ms,0.3s')).toEqual({ dist: 'uniform', minMs: 100, maxMs: 300, frac: 1 });
    expect(parseStragglerSpec('exponential:800')).toEqual({ dist: 'exponential', meanMs: 800, frac: 1 });
    expect(parseStragglerSpec('lognormal:800,0.5,frac=0.2')).toEqual({ dist: 'lognormal', medianMs: 800, sigma: 0.5, frac: 0.2 });
    expect(parseStragglerSpec(' LogNormal : sigma=0.5 , median=1.5s ')).toEqual({ dist: 'lognormal', medianMs: 1500, sigma: 0.5, frac: 1 });
    expect(parseStragglerSpec('lognormal:800,sigma=0.5')).toEqual({ dist: 'lognormal', medianMs: 800, sigma: 0.5, frac: 1 });
  });

  it('round-trips through its canonical form', () => {
    for (const s of ['fixed:250,frac=0.5', 'uniform:0,3s', 'exponential:800ms', 'lognormal:800,0.5,frac=0.2']) {
      const spec = parseStragglerSpec(s);
      expect(parseStragglerSpec(formatStragglerSpec(spec))).toEqual(spec);
    }
    expect(formatStragglerSpec(parseStragglerSpec('lognormal:800,0.5,frac=0.2'))).toBe('lognormal:median=800ms,sigma=0.5,frac=0.2');
  });

  it('rejects bad specs with messages that say what is wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['lognormal', /needs parameters after a colon/],
      ['gamma:3', /unknown distribution 'gamma'/],
      ['lognormal:800', /lognormal needs MEDIAN,SIGMA; missing sigma/],
      ['fixed:1,2', /too many parameters/],
      ['fixed:ms=1,2', /positional parameter '2' after a named one/],
      ['fixed:1,ms=2', /'ms' given twice/],
      ['exponential:mean=5,scale=2', /unknown parameter 'scale' for exponential; it takes mean, frac/],
      ['fixed:-5', />= 0 ms/],
      ['fixed:5min', /not a duration/],
      ['exponential:0', /mean must be > 0/],
      ['uniform:500,100', /max must be >= min/],
      ['lognormal:800,-1', /sigma must be >= 0/],
      ['fixed:100,frac=0', /frac must be > 0/],
      ['fixed:100,frac=1.5', /frac must be <= 1/],
      ['fixed:100,frac=x', /'x' is not a number/],
      ['fixed:,', /empty parameter/],
    ];
    for (const [spec, msg] of bad) {
      expect(() => parseStragglerSpec(spec), spec).toThrow(msg);
      expect(() => parseStragglerSpec(spec), spec).toThrow(/Valid forms/);
    }
    expect(() => parseStragglerSpec(5 as unknown as string)).toThrow(TypeError);
  });
});

describe('parseBandwidthSpec', () => {
  it('parses rates in bits per second', () => {
    expect(parseBandwidthSpec('up=1mbit,down=10mbit')).toEqual({ upBps: 1e6, downBps: 1e7, sigma: 0 });
    expect(parseBandwidthSpec('down=512kbit')).toEqual({ downBps: 512_000, sigma: 0 });
    expect(parseBandwidthSpec('UP=2Mbps, sigma=0.5')).toEqual({ upBps: 2e6, sigma: 0.5 });
    expect(parseRate('1.5gbit')).toBe(1.5e9);
    expect(parseRate('800bit')).toBe(800);
    expect(formatBandwidthSpec(parseBandwidthSpec('up=1mbit,down=10mbit,sigma=0.3'))).toBe('up=1mbit,down=10mbit,sigma=0.3');
  });

  it('rejects bad specs', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['1mbit', /is not KEY=VALUE/],
      ['up=10', /needs a unit/],
      ['up=10MB', /unknown unit 'MB'/],
      ['up=fast', /is not a rate/],
      ['up=0mbit', /up must be > 0/],
      ['sigma=0.5', /give up=RATE, down=RATE or both/],
      ['up=1mbit,up=2mbit', /given twice/],
      ['left=1mbit', /unknown key 'left'/],
      ['up=1mbit,sigma=-1', /sigma must be >= 0/],
    ];
    for (const [spec, msg] of bad) expect(() => parseBandwidthSpec(spec), spec).toThrow(msg);
  });
});

describe('delay distributions', () => {
  const draws = (d: DelayDistribution, n: number, seed = 1): number[] => {
    const rng = createRng(seed).fork('test');
    return Array.from({ length: n }, () => sampleDelayMs(d, rng));
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('lognormal: median MEDIAN, log-sd SIGMA', () => {
    const xs = draws({ dist: 'lognormal', medianMs: 800, sigma: 0.5 }, 20_000);
    expect(Math.abs(median(xs) / 800 - 1)).toBeLessThan(0.03);
    const logs = xs.map((x) => Math.log(x));
    const m = mean(logs);
    const sd = Math.sqrt(mean(logs.map((l) => (l - m) ** 2)));
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.02);
    expect(xs.every((x) => x > 0)).toBe(true);
  });

  it('exponential: mean MEAN, P(X > mean) = 1/e', () => {
    const xs = draws({ dist: 'exponential', meanMs: 500 }, 20_000);
    expect(Math.abs(mean(xs) / 500 - 1)).toBeLessThan(0.03);
    expect(Math.abs(xs.filter((x) => x > 500).length / xs.length - Math.exp(-1))).toBeLessThan(0.015);
    expect(xs.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
  });

  it('uniform stays within [min, max] with mean in the middle; fixed is constant', () => {
    const xs = draws({ dist: 'uniform', minMs: 100, maxMs: 300 }, 10_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...xs)).toBeLessThan(300);
    expect(Math.abs(mean(xs) - 200)).toBeLessThan(3);
    expect(new Set(draws({ dist: 'fixed', ms: 42 }, 100))).toEqual(new Set([42]));
  });

  it('is seeded: same seed, same draws; another seed, other draws', () => {
    const d: DelayDistribution = { dist: 'lognormal', medianMs: 800, sigma: 0.5 };
    expect(draws(d, 50, 7)).toEqual(draws(d, 50, 7));
    expect(draws(d, 50, 8)).not.toEqual(draws(d, 50, 7));
  });
});

describe('DelayPlan', () => {
  it('same seed -> same stragglers and delays, whatever order they are asked in', () => {
    const opts = { seed: 3, numClients: 20, straggler: 'lognormal:800,0.5,frac=0.2', bandwidth: 'up=1mbit,down=10mbit,sigma=0.3' };
    const a = new DelayPlan(opts);
    const b = new DelayPlan(opts);
    expect([...a.stragglers].sort()).toEqual([...b.stragglers].sort());
    expect(a.stragglers.size).toBe(4);
    const forward = [];
    for (let i = 0; i < 20; i++) for (let r = 1; r <= 5; r++) forward.push(a.at(i, r));
    const backward = [];
    for (let i = 19; i >= 0; i--) for (let r = 5; r >= 1; r--) backward.push(b.at(i, r));
    expect(backward.reverse()).toEqual(forward);
    const c = new DelayPlan({ ...opts, seed: 4 });
    expect(Array.from({ length: 20 }, (_, i) => c.at(i, 1))).not.toEqual(Array.from({ length: 20 }, (_, i) => a.at(i, 1)));
  });

  it('only stragglers get compute delays; rates follow the spec', () => {
    const plan = new DelayPlan({ seed: 1, numClients: 10, straggler: 'fixed:500,frac=0.3', bandwidth: 'up=1mbit' });
    expect(plan.stragglers.size).toBe(3);
    for (let i = 0; i < 10; i++) {
      const d = plan.at(i, 2);
      expect(d.computeMs).toBe(plan.stragglers.has(i) ? 500 : 0);
      expect(d.upBps).toBe(1e6);
      expect(d.downBps).toBe(Infinity);
    }
    // 125,000 bytes at 1 Mbit/s: one second.
    expect(transferMs(125_000, 1e6)).toBe(1000);
    expect(plan.totalMs([...plan.stragglers][0]!, 2, 1_000_000, 125_000)).toBe(1500);
    // A small frac still makes at least one straggler.
    expect(new DelayPlan({ seed: 1, numClients: 3, straggler: 'fixed:1,frac=0.01' }).stragglers.size).toBe(1);
  });

  it('limiting one direction does not change the other direction\'s rates', () => {
    const both = new DelayPlan({ seed: 9, numClients: 4, bandwidth: 'up=1mbit,down=10mbit,sigma=0.5' });
    const down = new DelayPlan({ seed: 9, numClients: 4, bandwidth: 'down=10mbit,sigma=0.5' });
    for (let i = 0; i < 4; i++) expect(down.at(i, 1).downBps).toBe(both.at(i, 1).downBps);
  });

  it('summarizes a round: stragglers, late clients, mean delay', () => {
    const plan = new DelayPlan({ seed: 1, numClients: 4, straggler: 'fixed:1000,frac=0.5' });
    const slow = [...plan.stragglers];
    const s = summarizeRoundDelays(plan, 1, [0, 1, 2, 3], new Set([0, 1, 2, 3].filter((i) => !plan.stragglers.has(i))), 0);
    expect(s).toEqual({ stragglers: 2, late: 2, meanDelayMs: 500 });
    expect(summarizeRoundDelays(plan, 1, [0, 1, 2, 3], new Set([0, 1, 2, 3]), 0).late).toBe(0);
    expect(summarizeRoundDelays(plan, 1, [0, 1, 2, 3], new Set(), 0, (i) => i === slow[0]).late).toBe(1);
  });
});

describe('ClientDelays', () => {
  it('counts downloads, ends a wait when its round ends or on abort', async () => {
    const plan = new DelayPlan({ seed: 1, numClients: 1, straggler: 'fixed:600000', bandwidth: 'down=8kbit' });
    const fetched: string[] = [];
    const base = { fetch: async (url: string) => (fetched.push(url), new Response(new Uint8Array(1000))), randomBytes: (n: number) => new Uint8Array(n), now: () => Date.now() };
    const d = new ClientDelays(plan, 0, base);
    const res = await d.platform.fetch('http://x/weights.bin');
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
    expect(fetched).toEqual(['http://x/weights.bin']);
    let handler: ((e: { round: number }) => void) | undefined;
    d.attach({ on: (_event: 'round:end', h: (e: { round: number }) => void) => (handler = h) });
    let done = false;
    const wait = d.delay({ round: 1, bytesUp: 0 }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    handler!({ round: 2 }); // another round: keeps waiting
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    handler!({ round: 1 });
    await wait;
    expect(done).toBe(true);
    // A round that already ended is not waited for at all.
    await d.delay({ round: 2, bytesUp: 0 });
    const later = d.delay({ round: 3, bytesUp: 0 });
    d.abort();
    await later;
  });
});
