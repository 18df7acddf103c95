// Runs docs/tutorials/operate-a-federation.md as written: every command is taken from the
// tutorial's sh blocks (only the port and the scratch directory change), so the tutorial
// cannot drift from what the CLI does.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLOCK, shell, type Proc } from './flock-process.js';

const TUTORIAL = fileURLToPath(new URL('../docs/tutorials/operate-a-federation.md', import.meta.url));

/** The command lines of the tutorial's sh blocks, in order. */
function tutorialCommands(): string[] {
  const text = readFileSync(TUTORIAL, 'utf8');
  const out: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) out.push(...block[1]!.split('\n').filter((l) => l.trim() !== ''));
  return out;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const procs: Proc[] = [];
afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

describe('tutorial: operate a federation', () => {
  it('runs every command of the tutorial as written, with the outcomes it describes', async () => {
    const cmds = tutorialCommands();
    let next = 0;
    /** The next tutorial command; `shape` guards against the tutorial being reordered. */
    const take = (shape: RegExp): string => {
      const c = cmds[next++];
      expect(c, `tutorial command ${next}`).toMatch(shape);
      return c!;
    };
    // The scratch directory and the ports are the test's own; `npx flock` is this checkout's CLI.
    expect(take(/^export FLOCK_TUTORIAL=/)).toBeTruthy();
    const scratch = mkdtempSync(path.join(tmpdir(), 'flock-tutorial-'));
    const bin = mkdtempSync(path.join(tmpdir(), 'flock-bin-'));
    writeFileSync(path.join(bin, 'npx'), `#!/bin/sh\n[ "$1" = flock ] || exit 127\nshift\nexec "${process.execPath}" "${FLOCK}" "$@"\n`);
    chmodSync(path.join(bin, 'npx'), 0o755);
    const port = await freePort();
    const env = { FLOCK_TUTORIAL: scratch, PATH: `${bin}:${process.env.PATH}` };
    const run = (cmd: string): Proc => {
      const p = shell(cmd.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`).replaceAll('--port 8080', `--port ${port}`).replaceAll('--port 8081', '--port 0'), env);
      procs.push(p);
      return p;
    };
    const ok = async (cmd: string): Promise<Proc> => {
      const p = run(cmd);
      expect(await p.exited(), `${cmd}\n${p.stderr.join('\n')}`).toBe(0);
      return p;
    };
    const json = (p: Proc): Record<string, unknown> => JSON.parse(String(p.lines[0]?.raw ?? JSON.stringify(p.lines[0]))) as Record<string, unknown>;

    // 1. The coordinator, and a second one on the same data directory that is refused.
    const startCoordinator = take(/^npx flock coordinator --data-dir \$FLOCK_TUTORIAL\/coordinator --port 8080 --min-clients 2 --rounds 3/);
    let coordinator = run(startCoordinator);
    await coordinator.waitFor((l) => l.event === 'listening', 60_000);
    const second = run(take(/--port 8081/));
    expect(await second.exited()).toBe(1);
    expect(second.stderr.join('\n')).toMatch(/STORE_LOCKED: another coordinator is running on .*coordinator\.db \(pid \d+/);

    // 2. Two tokens, two clients; three rounds, then federation:done and exit 0.
    await ok(take(/token create .* --label alice > \$FLOCK_TUTORIAL\/alice\.token$/));
    await ok(take(/token create .* --label bob > \$FLOCK_TUTORIAL\/bob\.token$/));
    const alice = run(take(/--id alice .*--token \$\(cat \$FLOCK_TUTORIAL\/alice\.token\)$/));
    const bob = run(take(/--id bob .*--token \$\(cat \$FLOCK_TUTORIAL\/bob\.token\)$/));
    await coordinator.waitFor((l) => l.event === 'done', 180_000);
    for (const c of [alice, bob]) {
      expect(await c.exited()).toBe(0);
      expect(c.lines.filter((l) => l.event === 'report' && l.accepted === true)).toHaveLength(3);
      expect(c.lines.at(-1)).toMatchObject({ event: 'done', modelVersion: 3 });
    }
    expect(coordinator.stderr.some((l) => /round \d+: 1\/2 reported/.test(l))).toBe(true);

    // 3. What the public and the operator see.
    expect(json(await ok(take(/^curl -s http:\/\/127\.0\.0\.1:8080\/v1\/models\/latest$/)))).toMatchObject({ version: 3 });
    const rounds = json(await ok(take(/\/v1\/admin\/rounds$/))) as { rounds: Array<{ status: string; selected: string[] }> };
    expect(rounds.rounds.map((r) => r.status)).toEqual(['committed', 'committed', 'committed']);
    expect(rounds.rounds[0]!.selected).toEqual(['alice', 'bob']);
    const clients = json(await ok(take(/\/v1\/admin\/clients$/))) as { clients: Array<{ clientId: string }> };
    expect(clients.clients.map((c) => c.clientId).sort()).toEqual(['alice', 'bob']);

    // 4. Pause, ask for two more rounds, restart the clients by identity alone, revoke bob, resume.
    expect(json(await ok(take(/\/v1\/admin\/rounds\/stop$/)))).toMatchObject({ roundsPaused: true });
    expect(json(await ok(take(/-d '\{"rounds":5\}' .*\/v1\/admin\/settings$/)))).toMatchObject({ settings: { rounds: 5 } });
    const alice2 = run(take(/--identity \$FLOCK_TUTORIAL\/alice\.key$/));
    const bob2 = run(take(/--identity \$FLOCK_TUTORIAL\/bob\.key$/));
    await Promise.all([alice2, bob2].map((c) => c.waitFor((l) => l.event === 'joined', 60_000)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(coordinator.stderr.some((l) => l.includes('"round":4'))).toBe(false); // paused: nothing started
    expect(json(await ok(take(/\/v1\/admin\/clients\/bob\/revoke$/)))).toMatchObject({ clientId: 'bob', revoked: true, disconnected: true });
    expect(await bob2.exited()).toBe(1);
    expect(bob2.stderr.join('\n')).toContain('CREDENTIAL_REVOKED');
    expect(json(await ok(take(/\/v1\/admin\/rounds\/start$/)))).toMatchObject({ roundsPaused: false });

    // 5. Carol joins; killed with SIGKILL while round 4 collects, the round ends long before its 60 s deadline.
    await ok(take(/token create .* --label carol > \$FLOCK_TUTORIAL\/carol\.token$/));
    const carol = run(take(/--id carol .*--token \$\(cat \$FLOCK_TUTORIAL\/carol\.token\)$/));
    await coordinator.waitForStderr(/"msg":"round started".*"round":4/, 60_000);
    carol.child.kill('SIGKILL');
    const round4 = await coordinator.waitFor((l) => l.event === 'round' && l.round === 4, 60_000);
    expect(['abandoned', 'committed']).toContain(round4.status); // abandoned unless carol had already reported
    const carol2 = run(take(/--identity \$FLOCK_TUTORIAL\/carol\.key$/));
    await coordinator.waitFor((l) => l.event === 'done' && l.modelVersion === 5, 180_000);
    for (const c of [alice2, carol2]) {
      expect(await c.exited()).toBe(0);
      expect(c.lines.at(-1)).toMatchObject({ event: 'done', modelVersion: 5 });
    }
    const operator = readFileSync(path.join(scratch, 'coordinator', 'operator-token'), 'utf8').trim();
    const history = (await (await fetch(`http://127.0.0.1:${port}/v1/admin/rounds`, { headers: { authorization: `Bearer ${operator}` } })).json()) as { rounds: Array<{ round: number; seconds: number; reason?: { code: string } }> };
    const r4 = history.rounds.find((r) => r.round === 4)!;
    expect(r4.seconds).toBeLessThan(30); // the deadline is 60 s
    if (round4.status === 'abandoned') expect(r4.reason?.code).toBe('TOO_FEW_REPORTS');

    // 6. Ctrl-C exits 130 after a clean stop; the same command resumes the finished federation and says so.
    coordinator.child.kill('SIGINT');
    expect(await coordinator.exited()).toBe(130);
    coordinator = run(take(/^npx flock coordinator --data-dir \$FLOCK_TUTORIAL\/coordinator --port 8080 --min-clients 2 --rounds 5/));
    expect(await coordinator.waitFor((l) => l.event === 'listening', 60_000)).toMatchObject({ resumed: true, modelVersion: 5 });
    await coordinator.waitForStderr(/5\/5 training rounds already done in .*coordinator\.db; serving model version 5\. Raise --rounds/, 30_000);
    coordinator.child.kill('SIGTERM');
    expect(await coordinator.exited()).toBe(0);
    expect(next, 'every command of the tutorial ran').toBe(cmds.length);
  });
});
