/**
 * Builds the Fashion-MNIST subset shipped in packages/sim/data/fashion-mnist-subset/:
 * the first 800 training and the first 200 test images of each class, in file order,
 * written as gzip IDX files (level 9, no timestamp: byte-identical on every run with the same Node zlib).
 *
 *   npx tsx packages/sim/scripts/make-subset.ts [SOURCE_DIR] [OUT_DIR]
 *   npx tsx packages/sim/scripts/make-subset.ts --check   # regenerate in memory, compare with the shipped files
 *
 * SOURCE_DIR defaults to /work/shared/datasets/fashion-mnist, then $FLOCK_DATA, then
 * /usr/share/datasets/fashion-mnist (anything with the four full-size files).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeIdx, readIdxImageSet } from '../src/data/idx.js';

const PER_CLASS = { train: 800, test: 200 } as const;
const NUM_CLASSES = 10;
const FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;
/** sha256 of the upstream files (as published by Zalando Research and packaged by Debian). */
const KNOWN_SOURCE_SHA256: Record<string, string> = {
  't10k-images-idx3-ubyte.gz': 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa',
  't10k-labels-idx1-ubyte.gz': '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05',
  'train-images-idx3-ubyte.gz': 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7',
  'train-labels-idx1-ubyte.gz': '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056',
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function pickSourceDir(arg: string | undefined): string {
  const candidates = [arg, '/work/shared/datasets/fashion-mnist', process.env.FLOCK_DATA, '/usr/share/datasets/fashion-mnist'].filter(
    (d): d is string => typeof d === 'string' && d !== '',
  );
  for (const d of candidates) {
    if (Object.values(FILES).every((f) => existsSync(join(d, f.images)) && existsSync(join(d, f.labels)))) return resolve(d);
  }
  throw new Error(`No full Fashion-MNIST files found in: ${candidates.join(', ')}. Pass the directory as the first argument.`);
}

async function buildSplit(src: string, split: 'train' | 'test') {
  const set = await readIdxImageSet(join(src, FILES[split].images), join(src, FILES[split].labels));
  const quota = PER_CLASS[split];
  const taken = new Array<number>(NUM_CLASSES).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < set.count && keep.length < quota * NUM_CLASSES; i++) {
    const y = set.labels[i]!;
    if (taken[y]! < quota) {
      taken[y]!++;
      keep.push(i);
    }
  }
  if (taken.some((t) => t !== quota)) throw new Error(`${split}: not enough examples per class (${taken.join(',')})`);
  const px = set.rows * set.cols;
  const pixels = new Uint8Array(keep.length * px);
  const labels = new Uint8Array(keep.length);
  keep.forEach((src, dst) => {
    pixels.set(set.pixels.subarray(src * px, (src + 1) * px), dst * px);
    labels[dst] = set.labels[src]!;
  });
  return {
    images: encodeIdx({ dims: [keep.length, set.rows, set.cols], data: pixels }, { gzip: true }),
    labels: encodeIdx({ dims: [keep.length], data: labels }, { gzip: true }),
    count: keep.length,
    lastSourceIndex: keep[keep.length - 1]!,
  };
}

function readme(sourceSha: Record<string, string>, outSha: Record<string, { sha: string; bytes: number }>, counts: Record<string, number>): string {
  const line = (name: string, sha: string) => `${sha}  ${name}`;
  return `# Fashion-MNIST subset (shipped with Flock)

A small, class-balanced subset of Fashion-MNIST so that a fresh clone of Flock runs its
demos, examples and tests offline. Flock uses it only when no full copy is found (see
\`resolveFashionMnistDir\` in packages/sim/src/data/fashion-mnist.ts: explicit directory, then
\`FLOCK_DATA\`, then /usr/share/datasets/fashion-mnist, then this directory).

| split | examples | per class | file |
|---|---|---|---|
| train | ${counts.train} | ${PER_CLASS.train} | train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz |
| test | ${counts.test} | ${PER_CLASS.test} | t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz |

Selection: the first ${PER_CLASS.train} training images of each class and the first ${PER_CLASS.test}
test images of each class, in the order of the original files (the kept examples stay in
file order, classes interleaved as in the source). Same IDX format, gzip (level 9).
Pixels and labels are unchanged. Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat,
5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

## Provenance and licence

Fashion-MNIST by Zalando Research, https://github.com/zalandoresearch/fashion-mnist
(Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
Learning Algorithms", arXiv:1708.07747, 2017).

Licence: MIT (upstream LICENSE file, reproduced as required):

> The MIT License (MIT) Copyright © 2017 Zalando SE, https://tech.zalando.com
>
> Permission is hereby granted, free of charge, to any person obtaining a copy of this
> software and associated documentation files (the "Software"), to deal in the Software
> without restriction, including without limitation the rights to use, copy, modify, merge,
> publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
> to whom the Software is furnished to do so, subject to the following conditions:
>
> The above copyright notice and this permission notice shall be included in all copies or
> substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
> INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
> PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
> FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
> OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
> DEALINGS IN THE SOFTWARE.

Source files (the upstream release; identical to Debian's \`dataset-fashion-mnist\` package), sha256:

\`\`\`
${Object.entries(sourceSha).map(([n, s]) => line(n, s)).join('\n')}
\`\`\`

Subset files, sha256 (size in bytes):

\`\`\`
${Object.entries(outSha).map(([n, s]) => `${line(n, s.sha)}  (${s.bytes})`).join('\n')}
\`\`\`

## Regenerate

\`\`\`
npx tsx packages/sim/scripts/make-subset.ts [SOURCE_DIR]   # SOURCE_DIR holds the four full .gz files
npx tsx packages/sim/scripts/make-subset.ts --check        # verify the shipped files
\`\`\`

The output is deterministic (gzip without timestamp); a different zlib version may compress
to different bytes, but the decompressed IDX contents are always the same.
`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const positional = args.filter((a) => !a.startsWith('--'));
  const src = pickSourceDir(positional[0]);
  const out = resolve(positional[1] ?? fileURLToPath(new URL('../data/fashion-mnist-subset/', import.meta.url)));

  const sourceSha: Record<string, string> = {};
  for (const f of Object.values(FILES).flatMap((s) => [s.images, s.labels]).sort()) {
    const sha = sha256(await readFile(join(src, f)));
    sourceSha[f] = sha;
    if (KNOWN_SOURCE_SHA256[f] !== sha) console.warn(`warning: ${f} sha256 ${sha} differs from the upstream release ${KNOWN_SOURCE_SHA256[f]}`);
  }

  const outputs: Record<string, Uint8Array> = {};
  const counts: Record<string, number> = {};
  for (const split of ['train', 'test'] as const) {
    const r = await buildSplit(src, split);
    outputs[FILES[split].images] = r.images;
    outputs[FILES[split].labels] = r.labels;
    counts[split] = r.count;
    console.log(`${split}: ${r.count} examples (source indices 0..${r.lastSourceIndex} scanned)`);
  }
  const outSha: Record<string, { sha: string; bytes: number }> = {};
  for (const name of Object.keys(outputs).sort()) outSha[name] = { sha: sha256(outputs[name]!), bytes: outputs[name]!.length };

  if (check) {
    let ok = true;
    for (const [name, bytes] of Object.entries(outputs)) {
      const p = join(out, name);
      const shipped = existsSync(p) ? sha256(await readFile(p)) : 'missing';
      const same = shipped === sha256(bytes);
      ok &&= same;
      console.log(`${same ? 'ok     ' : 'DIFFERS'} ${basename(p)}`);
    }
    process.exitCode = ok ? 0 : 1;
    return;
  }

  await mkdir(out, { recursive: true });
  let total = 0;
  for (const [name, bytes] of Object.entries(outputs)) {
    await writeFile(join(out, name), bytes);
    total += bytes.length;
    console.log(`wrote ${join(out, name)} (${bytes.length} bytes)`);
  }
  await writeFile(join(out, 'README.md'), readme(sourceSha, outSha, counts));
  console.log(`wrote ${join(out, 'README.md')}; total ${(total / 1e6).toFixed(2)} MB`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
