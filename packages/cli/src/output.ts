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

/** Prints an error the way a user should see it and returns the exit code. */
export function reportError(e: unknown): number {
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
