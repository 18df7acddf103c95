import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
for (const entry of ['packages/client/src/index.ts', 'packages/client/src/worker-handle.ts']) {
const r = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', conditions: ['@flock/source'], write: false, minify: true, external: ['@tensorflow/*'], metafile: true, target: 'es2022', logLevel: 'error' });
const out = r.outputFiles[0].contents;
console.log(entry, out.length, gzipSync(out, { level: 9 }).length);
const byPkg = {};
for (const [k, v] of Object.entries(r.metafile.outputs[Object.keys(r.metafile.outputs)[0]].inputs)) {
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(k); const key = m ? m[1] : k.split('/').slice(0, 3).join('/');
  byPkg[key] = (byPkg[key] ?? 0) + v.bytesInOutput;
}
console.log(Object.entries(byPkg).sort((a, b) => b[1] - a[1]).slice(0, 15));
}
