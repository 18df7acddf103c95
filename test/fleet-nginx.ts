import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX, freePort } from './fleet-redis.js';

/** The documented balancer configuration (docs/how-to/scale-out.md). */
export const EXAMPLE_CONF = fileURLToPath(new URL('../examples/fleet/nginx.conf', import.meta.url));

/**
 * examples/fleet/nginx.conf, made runnable here: unprivileged in the foreground, our upstreams,
 * our port, paths under `prefix`. Every substitution must apply, so the file tested is the
 * file documented.
 */
export function nginxConf(o: { port: number; upstreams: string[]; prefix: string }): string {
  const tmp = (d: string): string => path.join(o.prefix, d);
  let conf = readFileSync(EXAMPLE_CONF, 'utf8');
  const sub = (from: RegExp, to: string): void => {
    if (!from.test(conf)) throw new Error(`examples/fleet/nginx.conf: ${from} not found`);
    conf = conf.replace(from, to);
  };
  sub(/^worker_processes auto;$/m, `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${tmp('nginx.pid')};\nerror_log ${tmp('error.log')} warn;`);
  sub(/^  access_log off;$/m, ['  access_log off;', ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${tmp(t)};`)].join('\n'));
  sub(/^(    server node\d:8080 .*\n)+/m, o.upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=2s;\n`).join(''));
  sub(/^    listen 80;$/m, `    listen 127.0.0.1:${o.port};`);
  return conf;
}

export interface NginxProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Debian's nginx, unprivileged, on a free loopback port, in front of `upstreams` (host:port). */
export async function spawnNginx(prefix: string, upstreams: string[]): Promise<NginxProcess> {
  mkdirSync(prefix, { recursive: true });
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConf({ port, upstreams, prefix }));
  const child = spawn(NGINX, ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const end = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${err}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > end) throw new Error(`nginx did not listen: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const dead = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await dead;
    },
  };
}
