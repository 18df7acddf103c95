/**
 * Time as the round code sees it: round/ and secure-collector.ts read the time and set timers
 * only through a Clock, so a test can drive a round on a fake one.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` on the next turn of the event loop, after pending I/O callbacks (acks already written). */
  defer(fn: () => void): void;
}

/** The real clock: Date.now, setTimeout, setImmediate. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  defer: (fn) => void setImmediate(fn),
};

/**
 * Wake-ups of everything that waits for the fleet to change: a client connected, rounds were
 * resumed, or the coordinator is closing. Each waiter is called once, by the next fire().
 */
export class Wakeups {
  private waiters: Array<() => void> = [];

  /** Calls `fn` at the next fire(). */
  once(fn: () => void): void {
    this.waiters.push(fn);
  }

  /** Resolves at the next fire(). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  fire(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
