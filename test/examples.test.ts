// The examples run exactly as their READMEs say (a fresh Node process, the documented command).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startCoordinator } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples', () => {
  it('quickstart/predict.ts loads the served model with tf.loadLayersModel and prints its test accuracy', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 1, rounds: 1 });
    try {
      // The command of examples/quickstart/README.md and docs/tutorials/quickstart.md.
      const r = await run(['--import', './scripts/source-loader.mjs', 'examples/quickstart/predict.ts', url]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^accuracy 0\.\d{4} on \d+ test images; the first one is a [A-Z][\w/ -]+\n$/);
    } finally {
      await coordinator.close();
    }
  });
});
