import { FlockError } from '@flock/protocol';

/** Where the CLI writes: results to stdout, progress and logs to stderr. */
export const out = (line: string): void => {
  process.stdout.write(line + '\n');
};
export const err = (line: string): void => {
  process.stderr.write(line + '\n');
};

/** A usage error: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Ctrl-C ended a command after its graceful stop: exit code 130 (128 + SIGINT), as a shell reports it. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

/**
 * Resolves on the first SIGINT or SIGTERM. A long-running command awaits it, stops cleanly,
 * then calls {@link exitAfterSignal}: Ctrl-C exits 130 like any interrupted command, SIGTERM
 * (a supervisor's stop request) exits 0.
 */
export function stopSignal(): Promise<'SIGINT' | 'SIGTERM'> {
  return new Promise((resolve) => {
    const on = (s: 'SIGINT' | 'SIGTERM') => () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      resolve(s);
    };
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
  });
}

export function exitAfterSignal(signal: 'SIGINT' | 'SIGTERM' | undefined): void {
  if (signal === 'SIGINT') throw new Interrupted('interrupted');
}

/** Prints an error the way a user should see it and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof Interrupted) return 130;
  if (e instanceof UsageError) {
    err(`flock: ${e.message}`);
    return 2;
  }
  if (e instanceof FlockError) {
    err(`flock: ${e.code}: ${e.message}`);
    return 1;
  }
  const code = (e as { code?: unknown })?.code;
  if (e instanceof Error && (e instanceof RangeError || e instanceof TypeError || typeof code === 'string')) {
    err(`flock: ${typeof code === 'string' ? code + ': ' : ''}${e.message}`);
    return 1;
  }
  err(`flock: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
}
