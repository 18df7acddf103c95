// Serves (dev) and copies (build) the two kinds of files the page fetches besides its code:
// tfjs' wasm binaries under /tfjs-wasm/ (the client's `wasmPaths`) and the Fashion-MNIST IDX
// files under /fashion-mnist/ (FMNIST_DIR, default the subset shipped in the Flock checkout).
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
const dataDir = process.env.FMNIST_DIR ?? path.resolve(here, '../../packages/sim/data/fashion-mnist-subset');
const folders: Record<string, { dir: string; match: RegExp; type: string }> = {
  '/tfjs-wasm/': { dir: wasmDir, match: /^tfjs-backend-wasm[a-z-]*\.wasm$/, type: 'application/wasm' },
  '/fashion-mnist/': { dir: dataDir, match: /^(train|t10k)-(images-idx3|labels-idx1)-ubyte\.gz$/, type: 'application/octet-stream' },
};

function staticFolders(): Plugin {
  return {
    name: 'flock-static-folders',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        for (const [prefix, f] of Object.entries(folders)) {
          const name = req.url?.startsWith(prefix) ? req.url.slice(prefix.length).split('?')[0]! : '';
          if (f.match.test(name)) {
            res.setHeader('content-type', f.type);
            createReadStream(path.join(f.dir, name)).pipe(res);
            return;
          }
        }
        next();
      });
    },
    generateBundle() {
      for (const [prefix, f] of Object.entries(folders)) {
        for (const name of readdirSync(f.dir).filter((n) => f.match.test(n))) this.emitFile({ type: 'asset', fileName: prefix.slice(1) + name, source: readFileSync(path.join(f.dir, name)) });
      }
    },
  };
}

export default defineConfig({
  plugins: [staticFolders()],
  // In the Flock checkout, use the packages' TypeScript sources (no build needed); an app that
  // installed @flock/client from npm can drop this line.
  resolve: { conditions: ['@flock/source', 'module', 'browser', 'development|production'] },
  server: { port: 5173 },
});
