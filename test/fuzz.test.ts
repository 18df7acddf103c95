import { describe, expect, it } from 'vitest';
import { EVENTS } from '@flock/protocol';
import { cleanups, crashes, peers, runFuzz, sent, SIZES } from './fuzz-suite.js';
import { fuzzCoordinator } from './fuzz-harness.js';

describe('protocol fuzzing (fast-check, default size)', () => {
  runFuzz(SIZES, 20261125);

  it('sent at least 10,000 malformed messages in all', () => {
    console.log(`fuzz: ${sent.total} messages`);
    expect(sent.total).toBeGreaterThanOrEqual(10_000);
  });

  it('malformed socket.io packets (truncated binary, garbage frames) close only that connection', async () => {
    const { coordinator, url } = await fuzzCoordinator({ minClients: 1_000, rounds: 1 });
    cleanups.push(() => coordinator.close());
    const ps = await peers(url, 'fp', 4);
    const garbage = [
      '451-["round:chunk",{"_placeholder":true,"num":0}]', // announces an attachment, sends text instead
      '4' + '2["round:update",{"roundId":', // truncated JSON
      '49',
      '4' + '2' + '['.repeat(5000),
      '45' + '1'.repeat(30) + '-["x"]', // absurd attachment count
    ];
    for (let i = 0; i < garbage.length && i < 3; i++) {
      const p = ps[i]!;
      const closed = new Promise<void>((resolve) => p.socket.once('disconnect', () => resolve()));
      (p.socket.io.engine as unknown as { write(d: string): void }).write(garbage[i]!.slice(1));
      if (i === 0) (p.socket.io.engine as unknown as { write(d: string): void }).write('not binary');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3_000))]);
    }
    // The last peer never misbehaved: it is still connected and answered.
    const ok = await ps[3]!.socket.timeout(10_000).emitWithAck(EVENTS.roundDecline, { roundId: 'r', reason: 'still here' });
    expect(ok).toEqual({ ok: true });
    expect(ps[3]!.socket.connected).toBe(true);
    expect(crashes).toEqual([]);
  });
});
