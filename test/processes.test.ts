import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { flock, type Proc } from './flock-process.js';
import { tmpdir } from 'node:os';
import path from 'node:path';

const procs: Proc[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

describe('separate processes, as deployed', () => {
  it('flock coordinator and three flock client processes complete 3 rounds; the coordinator serves version 3', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'flock-proc-'));
    const coord = flock(['coordinator', '--port', '0', '--min-clients', '3', '--rounds', '3', '--timeout', '120', '--lr', '0.1', '--data-dir', dataDir]);
    procs.push(coord);
    const listening = await coord.waitFor((l) => l.event === 'listening', 60_000);
    const url = listening.url as string;
    expect(listening.auth).toBe('tokens');
    // Secure by default: each client enrolls with a token: one minted offline into the running
    // coordinator's database, one by `flock token create --url` (admin API), one over HTTP.
    const offline = flock(['token', 'create', '--data-dir', dataDir, '--label', 'proc-0', '--json']);
    procs.push(offline);
    const tokens = [(await offline.waitFor((l) => typeof l.token === 'string', 60_000)).token as string];
    const minter = flock(['token', 'create', '--url', url, '--data-dir', dataDir, '--label', 'proc-1', '--json']);
    procs.push(minter);
    tokens.push((await minter.waitFor((l) => typeof l.token === 'string', 60_000)).token as string);
    const operator = readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
    for (let i = 2; i < 3; i++) {
      const res = await fetch(`${url}/v1/admin/tokens`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify({ label: `proc-${i}` }) });
      tokens.push(((await res.json()) as { token: string }).token);
    }
    for (let i = 0; i < 3; i++) {
      const c = flock(['client', '--url', url, '--id', `proc-${i}`, '--token', tokens[i]!, '--shard', `${i}/3`, '--limit', '300', '--model', 'mlp', '--seed', String(i)]);
      procs.push(c);
    }
    await coord.waitFor((l) => l.event === 'done', 240_000);
    const info = (await (await fetch(`${url}/v1/models/latest`)).json()) as { version: number; metrics: Record<string, number> };
    expect(info.version).toBe(3);
    expect(info.metrics.clients).toBe(3);
    const rounds = coord.lines.filter((l) => l.event === 'round');
    expect(rounds.map((r) => r.status)).toEqual(['committed', 'committed', 'committed']);
    // Every client reported an accepted update for each round, then heard that the federation
    // is done (federation:done), printed it and exited 0 by itself.
    for (const c of procs.slice(3)) {
      const done = await c.waitFor((l) => l.event === 'done', 60_000);
      expect(done).toMatchObject({ federationId: 'default', rounds: 3, modelVersion: 3, modelPath: '/v1/models/3' });
      expect(c.lines.filter((l) => l.event === 'report' && l.accepted === true).length).toBe(3);
      const code = c.child.exitCode ?? (await new Promise<number | null>((r) => c.child.once('exit', r)));
      expect(code).toBe(0);
    }
    coord.child.kill('SIGTERM');
    await new Promise((r) => coord.child.once('exit', r));
    expect(coord.child.exitCode).toBe(0);
    // Every token minting is audited, offline ones included; the coordinator's files are owner-only.
    const audit = readFileSync(path.join(dataDir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { action: string; label?: string });
    expect(audit.filter((e) => e.action === 'cli.tokens.create').map((e) => e.label)).toEqual(['proc-0']);
    expect(audit.filter((e) => e.action === 'admin.tokens.create')).toHaveLength(2);
    for (const f of ['coordinator.db', 'audit.log', 'operator-token', 'coordinator-key.json']) expect(statSync(path.join(dataDir, f)).mode & 0o777, f).toBe(0o600);
  });

  it('a wrong flag is a usage error with exit code 2 and a message naming the flag', async () => {
    const p = flock(['sim', '--clients', 'lots']);
    procs.push(p);
    const code = await new Promise<number | null>((r) => p.child.once('exit', r));
    expect(code).toBe(2);
    expect(p.stderr.join('\n')).toContain('--clients');
    const q = flock(['sim', '--partition', 'dirichlet:-1']);
    procs.push(q);
    expect(await new Promise<number | null>((r) => q.child.once('exit', r))).toBe(2);
    expect(q.stderr.join('\n')).toMatch(/partition/);
  });
});
