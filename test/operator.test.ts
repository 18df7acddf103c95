// What an operator meets when running `flock coordinator` and `flock client` by hand: the
// refusals, hints and exit codes must be the ones the docs promise (docs/reference/errors.md).
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { flock, type Proc } from './flock-process.js';

const procs: Proc[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function run(args: string[]): Proc {
  const p = flock(args);
  procs.push(p);
  return p;
}

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'flock-op-'));

describe('operating a coordinator', () => {
  it('a second coordinator on the same data directory is refused with STORE_LOCKED; the first keeps running', async () => {
    const dataDir = tmp();
    const first = run(['coordinator', '--port', '0', '--data-dir', dataDir, '--rounds', '1']);
    const listening = await first.waitFor((l) => l.event === 'listening', 60_000);
    const second = run(['coordinator', '--port', '0', '--data-dir', dataDir, '--rounds', '1']);
    expect(await second.exited()).toBe(1);
    const message = second.stderr.join('\n');
    expect(message).toContain('STORE_LOCKED');
    expect(message).toContain(`pid ${first.child.pid}`);
    // The first coordinator still answers and its database was not touched by the second.
    const health = (await (await fetch(`${listening.url as string}/v1/health`)).json()) as { ok: boolean; round: number };
    expect(health).toMatchObject({ ok: true, round: 0 });
  });

  it('with --db :memory: the enrollment hint names a command that mints a token the coordinator accepts', async () => {
    const dataDir = tmp();
    const coord = run(['coordinator', '--port', '0', '--data-dir', dataDir, '--db', ':memory:', '--min-clients', '1', '--rounds', '1', '--timeout', '60']);
    const url = (await coord.waitFor((l) => l.event === 'listening', 60_000)).url as string;
    const hint = await coord.waitForStderr(/clients need an enrollment token/, 10_000);
    expect(hint).not.toContain('--data-dir'); // minting into ./flock-data would never reach an in-memory registry
    const command = /flock token create (--url \S+ --operator-token-file \S+)/.exec(hint);
    expect(command, hint).not.toBeNull();
    const minter = run(['token', 'create', ...command![1]!.split(' '), '--json']);
    const token = (await minter.waitFor((l) => typeof l.token === 'string', 60_000)).token as string;
    const client = run(['client', '--url', url, '--token', token, '--limit', '64', '--model', 'mlp', '--exit-after', '1']);
    const joined = await client.waitFor((l) => l.event === 'joined', 60_000);
    expect(joined.clientId).toBeTypeOf('string');
    expect(await client.exited()).toBe(0);
  });

  it('resuming a finished federation says how many rounds are done and how to train more', async () => {
    const dataDir = tmp();
    const coord = run(['coordinator', '--port', '0', '--data-dir', dataDir, '--open', '--min-clients', '1', '--rounds', '1', '--timeout', '60']);
    const url = (await coord.waitFor((l) => l.event === 'listening', 60_000)).url as string;
    run(['client', '--url', url, '--limit', '64', '--model', 'mlp', '--exit-after', '1']);
    await coord.waitFor((l) => l.event === 'done', 120_000);
    coord.child.kill('SIGTERM');
    expect(await coord.exited()).toBe(0);
    const again = run(['coordinator', '--port', '0', '--data-dir', dataDir, '--open', '--rounds', '1']);
    const listening = await again.waitFor((l) => l.event === 'listening', 60_000);
    expect(listening.resumed).toBe(true);
    await again.waitFor((l) => l.event === 'done', 30_000);
    await again.waitForStderr(/1\/1 training rounds already done in .*; serving model version 1\. Raise --rounds to train more, or use a new --data-dir/, 10_000);
    // Ctrl-C: a clean stop, then the conventional exit code of an interrupted command.
    again.child.kill('SIGINT');
    expect(await again.exited()).toBe(130);
  });

  it('config file mistakes are usage errors that point at the place: line:column, or the key with a suggestion', async () => {
    const dir = tmp();
    const syntax = path.join(dir, 'syntax.json');
    writeFileSync(syntax, '{\n  "rounds": 2,\n  "minClients": 3,,\n}\n');
    const a = run(['coordinator', '--config', syntax, '--db', ':memory:']);
    expect(await a.exited()).toBe(2);
    expect(a.stderr.join('\n')).toContain(`${syntax}:3:19: invalid JSON`);
    const keys = path.join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ minClinets: 3, train: { epoch: 2 } }));
    const b = run(['coordinator', '--config', keys, '--db', ':memory:']);
    expect(await b.exited()).toBe(2);
    const text = b.stderr.join('\n');
    expect(text).toContain('unknown key "minClinets" (did you mean "minClients"?)');
    expect(text).toContain('unknown key "epoch" in "train" (did you mean "epochs"?)');
  });
});

describe('flock client against the wrong address', () => {
  it('exits with NOT_A_COORDINATOR when another HTTP server answers, instead of retrying forever', async () => {
    const other = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html>not here</html>');
    });
    servers.push(other);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const client = run(['client', '--url', url, '--limit', '64', '--model', 'mlp']);
    expect(await client.exited()).toBe(1);
    expect(client.stderr.join('\n')).toMatch(/NOT_A_COORDINATOR: .* answers, but it is not a Flock coordinator/);
  });

  it('--give-up-after ends the retries against a port where nothing listens with UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const client = run(['client', '--url', `http://127.0.0.1:${port}`, '--limit', '64', '--model', 'mlp', '--give-up-after', '2']);
    expect(await client.exited()).toBe(1);
    expect(client.stderr.join('\n')).toMatch(/UNREACHABLE: no coordinator answered at http:\/\/127\.0\.0\.1:\d+ within 2 s/);
  });

  it('the demo gives no URL of a coordinator that is already gone (only --serve keeps one)', async () => {
    const json = run(['demo', '--rounds', '1', '--clients', '2', '--train-limit', '400', '--test-limit', '200', '--json']);
    expect(await json.exited()).toBe(0);
    expect(json.lines).toHaveLength(1);
    expect(json.lines[0]).toMatchObject({ rounds: 1, modelVersion: 1 });
    expect(json.lines[0]).not.toHaveProperty('url');
    const human = run(['demo', '--rounds', '1', '--clients', '2', '--train-limit', '400', '--test-limit', '200']);
    expect(await human.exited()).toBe(0);
    const text = human.lines.map((l) => String(l.raw ?? JSON.stringify(l))).join('\n');
    expect(text).toContain('test accuracy');
    expect(text).not.toMatch(/served at|http:\/\//);
  });
});
