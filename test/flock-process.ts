import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The `flock` command of this checkout (runs the TypeScript sources). */
export const FLOCK = fileURLToPath(new URL('../packages/cli/bin/flock.mjs', import.meta.url));

export interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Resolves with the first stderr line matching `re` (stderr and stdout are separate pipes: read each). */
  waitForStderr(re: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal) once the output was read to the end. */
  exited(): Promise<number | null>;
}

/** Spawns `flock ...` and parses its JSON stdout lines. */
export function flock(args: string[], env: Record<string, string> = {}): Proc {
  return watch(spawn(process.execPath, [FLOCK, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOCK_DATA: '', ...env } }), args);
}

/** Runs one shell command line (bash -c), as a user would type it, and parses its JSON stdout lines. */
export function shell(command: string, env: Record<string, string> = {}): Proc {
  return watch(spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOCK_DATA: '', ...env } }), [command.slice(0, 60)]);
}

function watch(child: ChildProcess, args: string[]): Proc {
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ raw: l });
    }
    for (const w of waiters.splice(0)) w();
  });
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    lines,
    stderr,
    waitForStderr(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re} on stderr: ${stderr.join('\n').slice(-2000)}`)), timeoutMs);
        const check = (): void => {
          const hit = stderr.find((l) => re.test(l));
          if (hit !== undefined) {
            clearTimeout(timer);
            resolve(hit);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`flock ${args[0]} exited with ${child.exitCode} before ${re}: ${stderr.join('\n').slice(-2000)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    exited() {
      // 'close': the process exited and its stdout/stderr were read to the end.
      return closed;
    },
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout; stdout: ${JSON.stringify(lines).slice(-2000)}; stderr: ${stderr.join('\n').slice(-2000)}`)), timeoutMs);
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`flock ${args[0]} exited with ${child.exitCode}: ${stderr.join('\n').slice(-2000)}`));
          } else waiters.push(check);
        };
        child.once('exit', () => check());
        check();
      });
    },
  };
}

