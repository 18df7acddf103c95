/**
 * The child processes of `flock bench fleet` (nodes, load generators, transport peers): each
 * under its own open-files limit, talking to the parent over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Starts bench entry `entry` (a file next to this one) as a child under `ulimit -n nofile`, sends it `init`. */
export function child<I, M extends { type: string }>(entry: string, nofile: number, init: I, onMessage: (m: M) => void): ChildProcess {
  // From src/ (a checkout) through the repository's source loader; from dist/, the .js entry.
  const fromSource = import.meta.url.endsWith('.ts');
  const file = new URL(`./${entry}${fromSource ? '.ts' : '.js'}`, import.meta.url).pathname;
  const loader = fromSource ? `--import ${JSON.stringify(new URL('../../../../scripts/source-loader.mjs', import.meta.url).pathname)} ` : '';
  // exec keeps the IPC channel (its fd and NODE_CHANNEL_FD pass through bash).
  // FLOCK_FLEET_NODE_FLAGS: extra V8/Node flags for the coordinator nodes only (e.g. --trace-gc), to study them.
  const extra = entry === 'fleet-node' ? `${process.env.FLOCK_FLEET_NODE_FLAGS ?? ''} ` : '';
  const cmd = `ulimit -n ${nofile} 2>/dev/null; exec ${JSON.stringify(process.execPath)} --max-old-space-size=4096 ${extra}${loader}${JSON.stringify(file)}`;
  const p = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  p.on('message', (m) => { if (process.env.FLOCK_FLEET_DEBUG) console.error(entry, JSON.stringify(m).slice(0, 300)); onMessage(m as M); });
  p.send(init as object);
  return p;
}

export function waitForMessage<M extends { type: string }>(p: ChildProcess, pred: (m: M) => boolean, what: string, timeoutMs: number): Promise<M> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fleet bench: timed out after ${timeoutMs / 1000} s waiting for ${what}`)), timeoutMs);
    const onMessage = (m: M): void => {
      if (m.type === 'error') return done(new Error(`fleet bench: ${what}: ${(m as unknown as { message: string }).message}`));
      if (pred(m)) done(undefined, m);
    };
    const onExit = (code: number | null): void => done(new Error(`fleet bench: a child exited with ${code} before ${what}`));
    const done = (err?: Error, m?: M): void => {
      clearTimeout(t);
      p.off('message', onMessage as never);
      p.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    p.on('message', onMessage as never);
    p.once('exit', onExit);
  });
}
