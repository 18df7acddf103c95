import type { Redis } from 'ioredis';

/** One stream entry: its id and its fields (values as bytes: binary payloads stay binary). */
export interface StreamEntry {
  id: string;
  fields: Map<string, Buffer>;
}

/** Appends an entry to a Redis stream, trimmed to about `maxLen` entries. */
export async function appendEntry(redis: Redis, key: string, fields: Record<string, string | Buffer>, maxLen = 10_000): Promise<string> {
  const args: Array<string | Buffer> = [];
  for (const [k, v] of Object.entries(fields)) args.push(k, v);
  const id = await redis.xadd(key, 'MAXLEN', '~', String(maxLen), '*', ...args);
  return String(id);
}

/**
 * Follows a Redis stream from the moment start() is called (entries appended before are
 * skipped), on its own connection (XREAD BLOCK holds it). Entries are handed to `onEntry` one
 * at a time, in order. A lost connection is retried; after a Redis restart the stream starts
 * empty and its new ids (time-based) still sort after the last one seen.
 */
export class StreamFollower {
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly onEntry: (entry: StreamEntry) => void | Promise<void>,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Resolves once the follower knows where the stream ends (entries after that are delivered). */
  async start(): Promise<void> {
    const last = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    this.loop = this.run(last);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    await this.loop;
  }

  private async run(from: string): Promise<void> {
    let last = from;
    while (!this.stopped) {
      let res: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      try {
        res = (await this.redis.xreadBuffer('COUNT', 16, 'BLOCK', 1000, 'STREAMS', this.key, last)) as typeof res;
      } catch (err) {
        if (this.stopped) return;
        this.onError(err as Error);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!res) continue;
      for (const [, entries] of res) {
        for (const [id, flat] of entries) {
          last = id.toString();
          const fields = new Map<string, Buffer>();
          for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
          try {
            await this.onEntry({ id: last, fields });
          } catch (err) {
            this.onError(err as Error);
          }
          if (this.stopped) return;
        }
      }
    }
  }
}
