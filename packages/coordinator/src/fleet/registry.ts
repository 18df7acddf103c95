import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { FleetKeys } from './keys.js';

const nodeRecordSchema = z.object({ clients: z.array(z.string().min(1).max(256)), leader: z.boolean(), at: z.number(), key: z.string().max(128) }).strict();

/**
 * Where every client is: each node writes its connected client ids under its own key, which
 * expires after `ttlMs` unless rewritten (liveness), and reads everyone else's. A node whose key
 * expired is gone (kill -9, partition): `onLost` names it once.
 */
export class NodeRegistry {
  /** client id -> node id, for the other nodes' clients. */
  private remote = new Map<string, string>();
  private alive = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  private readonly mismatched = new Set<string>();

  constructor(
    private readonly o: {
      redis: Redis;
      keys: FleetKeys;
      nodeId: string;
      ttlMs: number;
      intervalMs: number;
      /** This node's coordinator public key (hex): every node of a fleet must sign with the same one. */
      coordinatorKey: string;
      /** Another node signs with another key (reported once per node). */
      onKeyMismatch(nodeId: string, key: string): void;
      localClients(): string[];
      isLeader(): boolean;
      /** The registry changed (clients moved, a node joined or left). */
      onChange(): void;
      onLost(nodeId: string): void;
      onError(err: Error): void;
    },
  ) {}

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      await this.o.redis.del(this.o.keys.node(this.o.nodeId));
      await this.o.redis.srem(this.o.keys.nodes, this.o.nodeId);
    } catch {
      // It expires on its own.
    }
  }

  /** The node a client is connected to, other than this one. */
  nodeOf(clientId: string): string | undefined {
    return this.remote.get(clientId);
  }

  remoteClients(): string[] {
    return [...this.remote.keys()];
  }

  /** Other live nodes. */
  nodes(): string[] {
    return [...this.alive];
  }

  /** Writes our record and reads everyone's now (also runs every intervalMs). */
  async tick(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    const { redis, keys, nodeId } = this.o;
    try {
      await redis
        .multi()
        .set(keys.node(nodeId), JSON.stringify({ clients: this.o.localClients(), leader: this.o.isLeader(), at: Date.now(), key: this.o.coordinatorKey }), 'PX', this.o.ttlMs)
        .sadd(keys.nodes, nodeId)
        .exec();
      const ids = (await redis.smembers(keys.nodes)).filter((n) => n !== nodeId).sort();
      const records = ids.length ? await redis.mget(...ids.map((n) => keys.node(n))) : [];
      const remote = new Map<string, string>();
      const seenAt = new Map<string, number>();
      const alive = new Set<string>();
      const gone: string[] = [];
      ids.forEach((n, i) => {
        const raw = records[i];
        if (raw === null || raw === undefined) return gone.push(n);
        let parsed: ReturnType<typeof nodeRecordSchema.safeParse>;
        try {
          parsed = nodeRecordSchema.safeParse(JSON.parse(raw));
        } catch {
          return;
        }
        if (!parsed.success) return;
        alive.add(n);
        if (parsed.data.key !== this.o.coordinatorKey && !this.mismatched.has(n)) {
          this.mismatched.add(n);
          this.o.onKeyMismatch(n, parsed.data.key);
        }
        // A client that moved is in its dead node's last record too, until that expires: the
        // newest record wins.
        for (const c of parsed.data.clients) {
          if ((seenAt.get(c) ?? -Infinity) > parsed.data.at) continue;
          remote.set(c, n);
          seenAt.set(c, parsed.data.at);
        }
      });
      if (gone.length) await redis.srem(keys.nodes, ...gone);
      const lost = [...this.alive].filter((n) => !alive.has(n));
      const changed = lost.length > 0 || alive.size !== this.alive.size || remote.size !== this.remote.size || [...remote].some(([c, n]) => this.remote.get(c) !== n);
      this.remote = remote;
      this.alive = alive;
      for (const n of lost) this.o.onLost(n);
      if (changed) this.o.onChange();
    } catch (err) {
      this.o.onError(err as Error);
    } finally {
      this.busy = false;
      if (!this.stopped) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.tick(), this.o.intervalMs);
        this.timer.unref?.();
      }
    }
  }
}
