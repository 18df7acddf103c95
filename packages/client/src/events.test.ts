import { describe, expect, expectTypeOf, it } from 'vitest';
import type { FederationDone, FlockError, RoundEnd, Welcome } from '@flock/protocol';
import { FlockClient, type FlockClientEvents, type RoundReport } from './index.js';

// A FlockClient does not connect before start(): these tests touch only its emitter.
const client = (): FlockClient => new FlockClient({ url: 'http://127.0.0.1:9', data: { x: null, y: null } as never });

describe('FlockClient events', () => {
  it('are typed: a misspelled event name or a mismatched handler does not type-check (npm run typecheck)', () => {
    const c = client();
    // @ts-expect-error 'round:reprot' is not an event
    expect(() => c.on('round:reprot', () => undefined)).toThrow(TypeError);
    // @ts-expect-error 'finished' is not an event (it is called 'done')
    expect(() => c.once('finished', () => undefined)).toThrow(TypeError);
    // @ts-expect-error a round report has no 'rounds' field
    c.on('round:report', (r) => r.rounds);
    c.on('done', (d) => expectTypeOf(d).toEqualTypeOf<FederationDone>());
    c.on('round:report', (r) => expectTypeOf(r).toEqualTypeOf<RoundReport>());
    c.on('round:end', (e) => expectTypeOf(e).toEqualTypeOf<RoundEnd>());
    c.on('welcome', (w) => expectTypeOf(w).toEqualTypeOf<Welcome>());
    c.on('error', (e) => expectTypeOf(e).toEqualTypeOf<FlockError>());
    expectTypeOf<keyof FlockClientEvents>().toEqualTypeOf<'backend' | 'welcome' | 'round:start' | 'round:report' | 'round:end' | 'done' | 'receipt' | 'update' | 'error' | 'connect' | 'disconnect'>();
  });

  it('refuse an unknown event name or a non-function handler at run time, naming the events (plain JavaScript callers)', () => {
    const c = client();
    expect(() => c.on('round:reprot' as keyof FlockClientEvents, () => undefined)).toThrow(/event must be one of welcome, round:start, round:report, round:end, done, .*; got 'round:reprot'/);
    expect(() => c.on('done', 'exit' as never)).toThrow(new TypeError('handler must be a function; got string'));
    const off = c.on('done', () => undefined);
    expect(typeof off).toBe('function');
    off();
  });
});
