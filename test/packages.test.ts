// The packages as an app developer gets them: built, packed, installed from the tarballs into an
// empty app outside this repository, and used from plain JavaScript and from TypeScript against
// a coordinator over loopback (real socket.io, real training on the shipped Fashion-MNIST subset).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Coordinator, type RoundSummary } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
/** The Fashion-MNIST subset the repository ships (packages/sim/data/). */
const FASHION_MNIST_SUBSET = path.join(ROOT, 'packages/sim/data/fashion-mnist-subset');
const PACKAGES = ['protocol', 'privacy', 'model', 'coordinator', 'client', 'sim', 'cli'] as const;
/** What a client app installs: the SDK and what it depends on (not the coordinator's SQLite driver). */
const CLIENT_PACKAGES = ['protocol', 'privacy', 'model', 'client'] as const;

/** npm and node for a child, without the npm_* settings of an `npm test` that started us. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, ...extra };
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Runs `node file` in the app and collects its output; resolves when it exits. */
function node(file: string, args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first ```ts block of the README's SDK section, exactly as written. */
function readmeSnippet(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Join a federation from an app (the SDK)'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block in the SDK section');
  return m[1]!;
}

interface PackEntry {
  name: string;
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: Array<{ path: string; size: number }>;
}

const timings: Record<string, number> = {};
async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings[label] = Math.round(performance.now() - t0) / 1000;
  }
}

describe('the npm packages in an app outside the repository', () => {
  let work: string;
  let app: string;
  const packs = new Map<string, PackEntry>();

  beforeAll(async () => {
    work = realpathSync(mkdtempSync(path.join(tmpdir(), 'flock-packages-')));
    if (!path.relative(ROOT, work).startsWith('..')) throw new Error(`${work} is inside the repository`);
    app = path.join(work, 'app');
    mkdirSync(app);
    // Build what is packed now (incremental: only what changed since the last build).
    await timed('build', () => run(process.execPath, [TSC, '-b', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT }));
    await timed('pack', async () => {
      for (const p of PACKAGES) {
        // Built just above: skip each package's prepack build. The client app's packages are written out, the rest only listed.
        const write = (CLIENT_PACKAGES as readonly string[]).includes(p);
        const out = await npm(['pack', '--json', '--ignore-scripts', ...(write ? ['--pack-destination', work] : ['--dry-run'])], path.join(ROOT, 'packages', p));
        const [entry] = JSON.parse(out) as PackEntry[];
        packs.set(p, entry!);
      }
    });
    const tarball = (p: string): string => `file:${path.join(work, packs.get(p)!.filename)}`;
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'flock-app',
        private: true,
        type: 'module',
        dependencies: { ...Object.fromEntries(CLIENT_PACKAGES.map((p) => [`@flock/${p}`, tarball(p)])), '@tensorflow/tfjs': '^4.22.0' },
        devDependencies: { '@types/node': '^20.19.0' },
      }),
    );
    // Dependencies come from the npm cache that `npm ci` filled.
    await timed('install', () => npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app));
  }, 600_000);

  afterAll(() => {
    console.log(`packages test timings (s): ${JSON.stringify(timings)}`);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('each tarball holds dist/ (ESM .js, .d.ts, source maps), README and LICENSE, and no tests or TypeScript sources', () => {
    for (const p of PACKAGES) {
      const entry = packs.get(p)!;
      const files = entry.files.map((f) => f.path);
      expect(entry.name).toBe(`@flock/${p}`);
      expect(files, p).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map']));
      expect(files.filter((f) => /\.test\.|(^|\/)src\/|\.tsbuildinfo$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), p).toEqual([]);
      const manifest = JSON.parse(readFileSync(path.join(ROOT, 'packages', p, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
      // Every export condition points at a shipped file (the in-repo '@flock/source' one excepted).
      for (const [sub, conditions] of Object.entries(manifest.exports)) {
        if (typeof conditions === 'string') continue;
        for (const [condition, target] of Object.entries(conditions)) if (condition !== '@flock/source') expect(files, `${p} ${sub} ${condition}`).toContain(target.replace(/^\.\//, ''));
      }
    }
    expect(packs.get('sim')!.files.map((f) => f.path)).toContain('data/fashion-mnist-subset/train-images-idx3-ubyte.gz');
    expect(packs.get('cli')!.files.map((f) => f.path)).toContain('bin/flock.mjs');
    console.log(
      'tarballs: ' +
        PACKAGES.map((p) => {
          const e = packs.get(p)!;
          return `@flock/${p} ${e.entryCount} files, ${(e.size / 1024).toFixed(1)} kB packed, ${(e.unpackedSize / 1024).toFixed(1)} kB unpacked`;
        }).join('; '),
    );
  });

  it('a plain JavaScript app (node app.mjs) and the README snippet join a federation and get their updates committed; the snippet type-checks against the published types', async () => {
    // The app: examples/node-app/app.mjs as shipped, and the README's snippet compiled by tsc.
    copyFileSync(path.join(ROOT, 'examples/node-app/app.mjs'), path.join(app, 'app.mjs'));
    writeFileSync(path.join(app, 'snippet.ts'), readmeSnippet());
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: ['node'], outDir: 'out', rootDir: '.' }, files: ['snippet.ts'] }),
    );
    // The published .d.ts, resolved without the in-repo '@flock/source' condition (skipLibCheck as tfjs's own .d.ts need it under strict).
    await timed('typecheck', () => run(process.execPath, [TSC, '-p', path.join(app, 'tsconfig.json')], { cwd: app }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc in the app failed:\n${err.stdout ?? String(err)}`);
    }));

    await selectBackend('auto');
    const m = createPresetModel('mlp', { seed: 1 });
    const model = await flatModelOf(m);
    m.dispose();
    const coordinator = new Coordinator({ model, settings: { minClients: 2, rounds: 1, roundTimeoutMs: 120_000, train: { epochs: 1, batchSize: 32, learningRate: 0.1 } } });
    try {
      const url = await coordinator.listen(0, '127.0.0.1');
      const [appToken, snippetToken] = ['node-app', 'readme-snippet'].map((label) => coordinator.auth.mintToken({ label }).token);
      const round = new Promise<RoundSummary>((resolve) => coordinator.once('round', resolve));
      coordinator.start();
      const [plain, snippet] = await timed('federation', () =>
        Promise.all([
          node('app.mjs', [FASHION_MNIST_SUBSET], app, { FLOCK_URL: url, FLOCK_TOKEN: appToken!, FLOCK_CLIENT_ID: 'plain-js-app', FLOCK_EXAMPLES: '300' }),
          node('out/snippet.js', [], app, { FLOCK_URL: url, FLOCK_TOKEN: snippetToken! }),
        ]),
      );
      expect(plain.stderr).toBe('');
      expect(plain.code).toBe(0);
      expect(snippet.stderr).toBe('');
      expect(snippet.code).toBe(0);
      const lines = plain.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[0]).toMatchObject({ event: 'joined', clientId: 'plain-js-app', examples: 300 });
      expect(lines).toContainEqual(expect.objectContaining({ event: 'report', round: 1, accepted: true, numExamples: 300 }));
      expect(lines.at(-1)).toEqual({ event: 'done', clientId: 'plain-js-app', rounds: 1, modelVersion: 1, modelPath: '/v1/models/1' });
      expect(snippet.stdout).toBe('round 1: sent an update from 256 examples\n');
      expect((await round).status).toBe('committed');
      // The coordinator's record: round 1 committed both updates, the plain JS app's among them.
      const { rounds } = (await (await fetch(`${url}/v1/rounds`)).json()) as { rounds: RoundSummary[] };
      expect(rounds).toHaveLength(1);
      expect(rounds[0]).toMatchObject({ round: 1, kind: 'train', status: 'committed', modelVersion: 1, numExamples: 556 });
      expect(rounds[0]!.reporters).toHaveLength(2);
      expect(rounds[0]!.reporters).toContain('plain-js-app');
    } finally {
      await coordinator.close();
    }
  }, 300_000);
});
