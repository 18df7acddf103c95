import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import { lineChartSpec, plotFontFiles, pngRenderOptions, renderSvg, svgToPng, writeChart } from './plot.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flock-plot-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const curve = (name: string, top: number) => ({ name, points: Array.from({ length: 8 }, (_, i) => ({ round: i + 1, value: top * (1 - Math.exp(-(i + 1) / 3)) })) });
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('plots', () => {
  it('renders an SVG with the axis titles, legend and a line per series', async () => {
    const svg = await renderSvg(lineChartSpec({ series: [curve('run-a', 0.8), curve('run-b', 0.6)], yTitle: 'test accuracy', title: 'accuracy by round' }));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('test accuracy');
    expect(svg).toContain('>round<');
    expect(svg).toContain('run-a');
    expect(svg).toContain('run-b');
    expect(svg.match(/class="mark-line/g)?.length).toBe(2);
  });

  it('writes SVG and a real PNG, text rendered with a shipped font', async () => {
    expect(plotFontFiles().length).toBeGreaterThan(0);
    const files = await writeChart(lineChartSpec({ series: [curve('only', 0.9)], yTitle: 'test loss' }), join(dir, 'sub', 'chart.png'));
    expect(files).toEqual({ svg: join(dir, 'sub', 'chart.svg'), png: join(dir, 'sub', 'chart.png') });
    const png = await readFile(files.png);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.length).toBeGreaterThan(10_000);
    expect(png.readUInt32BE(16)).toBeGreaterThan(1000); // IHDR width at 2x scale
    expect(await readFile(files.svg, 'utf8')).toContain('test loss');
  });

  it('draws text with the configured fonts', () => {
    const text = (family: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="${family}" font-size="24">round 12</text></svg>`;
    const dark = (svg: string) => {
      const px = new Resvg(svg, pngRenderOptions(1)).render().pixels;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i]! < 128) n++;
      return n;
    };
    expect(dark(text('DejaVu Sans, sans-serif'))).toBeGreaterThan(200);
    expect(dark(text('sans-serif'))).toBeGreaterThan(200);
  });

  it('handles one round, empty series and rejects bad input', async () => {
    const svg = await renderSvg(lineChartSpec({ series: [{ name: 'one', points: [{ round: 1, value: 0.4 }] }, { name: 'none', points: [] }], yTitle: 'test accuracy' }));
    expect(svg).toContain('one');
    expect(() => lineChartSpec({ series: [curve('d', 1), curve('d', 1)], yTitle: 'y' })).toThrow(/two series are named 'd'/);
    expect(() => lineChartSpec({ series: 'x' as never, yTitle: 'y' })).toThrow(TypeError);
    expect(() => svgToPng('not svg')).toThrow(TypeError);
  });
});
