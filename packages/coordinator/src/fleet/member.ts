import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Server as IoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { EVENTS, FlockError, roundStartSchema, type RoundStart } from '@flock/protocol';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { ModelStore } from '../model-store.js';
import type { CoordinatorSettings } from '../options.js';
import type { CommitFence } from '../round/commit.js';
import type { Clock } from '../round/clock.js';
import { RoundMachine } from '../round/machine.js';
import type { Fleet, RoundRunner } from '../round/runner.js';
import type { Strategy } from '../strategy.js';
import type { FederationStore } from '../store/types.js';
import { publishedVersion } from './commit.js';
import { fleetKeys, type FleetKeys } from './keys.js';
import { FleetChallenges } from './challenges.js';
import type { Challenges } from '../auth/challenges.js';
import { Lease } from './lease.js';
import { ExactSumAggregator } from './exact-sum.js';
import { PartialSumAggregator } from './partial-sum.js';
import { PartialLedger, decodePartial, encodePartial, type MergeVerdict, type Partial } from './partials.js';
import { groupedSecure, leadGroupedRound, mergeGroup, startGroup, type GroupContext } from './grouped-round.js';
import type { CohortPrivacy } from './partial-sum.js';
import { DEFAULT_MIN_GROUP_SIZE, GROUP_TOO_SMALL, checkMinGroupSize, noContribution, type GroupContribution } from './secagg-group.js';
import { NodeRegistry } from './registry.js';
import { fleetStoreAdapter, type FleetStoreAdapter } from './store-adapter.js';
import { StreamFollower, appendEntry } from './stream.js';

/** What the coordinator hands its fleet member (coordinator.ts). */
export interface FleetNodeParts {
  runner: RoundRunner;
  store: ModelStore;
  /** The coordinator's durable store: PostgreSQL makes it one store shared by every node (shared-store.ts). */
  database?: FederationStore | undefined;
  io: IoServer;
  settings: CoordinatorSettings;
  strategy: Strategy;
  numParams: number;
  logger: Logger;
  clock: Clock;
  /** The public key this node signs receipts with (hex); clients pin it, so all nodes must share it. */
  coordinatorKey: string;
  /** The coordinator's deterministic mode (`--deterministic`): the strategy must then sum exactly. */
  deterministic?(): boolean;
  /** Secure aggregation: the node's SecAgg session and identity registry (grouped SecAgg, fleet/grouped-round.ts). */
  session?: string;
  trustIdentity?: (clientId: string, identityKey: Uint8Array) => boolean;
  emit(event: string, payload?: unknown): void;
  on(event: string, fn: (payload: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The coordinator's side of the contract: it calls these, the member does the rest. */
export interface FleetHooks {
  wrap(local: Fleet): Fleet;
  admit(roundId: string, clientId: string): void;
  fence: CommitFence;
  /** Handshake nonces every node accepts (fleet/challenges.ts); `secret`: the shared coordinator signing key. */
  challenges?(secret: Uint8Array): Challenges;
  attach(parts: FleetNodeParts): void;
  start(): void;
  close(): Promise<void>;
}

export interface FleetMemberOptions {
  /** redis://host:port (rediss:// for TLS). */
  redisUrl: string;
  federationId: string;
  /** Unique per node (default: random). */
  nodeId?: string;
  /** Lease and node-liveness time (default 5000 ms). */
  leaseMs?: number;
  /** Smallest group a node runs secure aggregation with (default 100; fleet/secagg-group.ts). */
  minGroupSize?: number;
}

/** One message of the leader to a node (its plan stream): what to send to which of its clients. */
const planEntrySchema = z
  .object({
    event: z.string().min(1).max(64),
    ids: z.array(z.string()).nullable(),
    token: z.number().int().min(1),
    msg: z.unknown(),
    /** Grouped SecAgg+ (present exactly then): the whole cohort every group plans its DP quantization and noise for. */
    whole: z.object({ cohort: z.number().int().min(1).max(2 ** 20), summands: z.number().int().min(1).max(2 ** 20) }).strict().optional(),
  })
  .strict();
type PlanEntry = z.infer<typeof planEntrySchema>;

/** Follower: the local share of the leader's round; `group` when it runs grouped SecAgg+. */
interface LocalRound {
  r: RoundMachine;
  token: number;
  sum: PartialSumAggregator | undefined;
  group?: Promise<GroupContribution>;
}

/** Events the member reports through the coordinator ('fleet'), for logs and tests. */
export type FleetEvent =
  | { type: 'leader'; nodeId: string; token: number }
  | { type: 'follower'; nodeId: string; reason: string }
  | { type: 'partial-shipped'; nodeId: string; roundId: string; reporters: number }
  | { type: 'partial'; nodeId: string; from: string; roundId: string; verdict: MergeVerdict | 'refused'; reporters: number }
  | { type: 'node-lost'; nodeId: string; lost: string; members: number }
  | { type: 'synced'; nodeId: string; version: number }
  | { type: 'key-mismatch'; nodeId: string; other: string };

/**
 * A coordinator node's membership in a fleet (docs/explanation/fleet.md): contends for the
 * lease, leads rounds across the fleet when it holds it (cluster-wide Fleet, plans to nodes,
 * partials merged once, fenced commits), and otherwise collects its own clients' reports for
 * the leader's rounds and follows the committed versions.
 */
export class FleetMember implements FleetHooks {
  readonly nodeId: string;
  readonly keys: FleetKeys;
  private readonly redis: Redis;
  private adapterRedis: Redis | undefined;
  private readonly lease: Lease;
  private readonly leaseMs: number;
  private registry!: NodeRegistry;
  private followers: StreamFollower[] = [];
  private local!: Fleet;
  private parts!: FleetNodeParts;
  private store!: FleetStoreAdapter;
  /** Leader: the round in flight, who may send partials, and where each member counts. */
  private ledger: PartialLedger | undefined;
  private assignment = new Map<string, string>();
  /** Leader, grouped SecAgg+ under DP: what the round's merged sum is released with. */
  private privacy: CohortPrivacy | undefined;
  /** Follower: the local share of the leader's round. */
  private localRound: LocalRound | undefined;
  readonly minGroupSize: number;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private leading = false;

  constructor(o: FleetMemberOptions) {
    if (typeof o.redisUrl !== 'string' || !/^rediss?:\/\//.test(o.redisUrl)) throw new TypeError('redisUrl must be a redis:// or rediss:// URL');
    this.nodeId = o.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    this.leaseMs = o.leaseMs ?? 5000;
    this.minGroupSize = o.minGroupSize === undefined ? DEFAULT_MIN_GROUP_SIZE : checkMinGroupSize(o.minGroupSize);
    this.keys = fleetKeys(o.federationId);
    this.redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(1000, 50 * n) });
    this.redis.on('error', () => undefined); // reconnects on its own; failures surface where a command fails
    this.lease = new Lease({ redis: this.redis, key: this.keys.lease, fenceKey: this.keys.fence, nodeId: this.nodeId, leaseMs: this.leaseMs });
  }

  get isLeader(): boolean {
    return this.leading && this.lease.holds();
  }

  private event(e: FleetEvent): void {
    this.parts?.emit('fleet', e);
  }

  /** The cluster-wide Fleet the round runner selects from and sends through. */
  wrap(local: Fleet): Fleet {
    this.local = local;
    const fleet: Fleet = {
      eligible: () => {
        const ids = new Set(local.eligible());
        for (const c of this.registry?.remoteClients() ?? []) if (this.parts.strategy.eligible?.(c) ?? true) ids.add(c);
        return [...ids].sort();
      },
      waitFor: async (n, signal) => {
        while (!signal.aborted && fleet.eligible().length < n) await new Promise((r) => setTimeout(r, 50));
      },
      send: (ids, event, msg) => this.send(ids, event, msg),
      connected: (id) => local.connected(id) || this.registry?.nodeOf(id) !== undefined,
      broadcast: (event, msg) => {
        local.broadcast(event, msg);
        for (const n of this.registry?.nodes() ?? []) void this.post(n, { event, ids: null, token: this.lease.token ?? 1, msg });
      },
    };
    return fleet;
  }

  /** Leader: a member counts only through the node it was assigned to (no double counting). */
  admit(roundId: string, clientId: string): void {
    if (!this.ledger || this.ledger.roundId !== roundId) return;
    const node = this.assignment.get(clientId);
    if (node !== this.nodeId) throw new FlockError('NOT_SELECTED', `client ${clientId} counts through fleet node ${node ?? '(none)'} in this round; it reconnected to another node`);
  }

  readonly fence: CommitFence = (next) => this.store.fence(next);

  challenges(secret: Uint8Array): Challenges {
    return new FleetChallenges({ redis: this.redis, keys: this.keys, secret });
  }

  attach(parts: FleetNodeParts): void {
    if (parts.strategy.confidentialRounds && !parts.settings.secureAggregation.enabled) throw new RangeError('a fleet runs differential privacy only under secure aggregation (grouped SecAgg+, docs/explanation/fleet.md): enable secureAggregation');
    // The accountant must outlive the leader: with a store per node, a node that takes the lease
    // would go on from its own (empty or stale) accountant and publish too small an epsilon.
    if (parts.strategy.confidentialRounds && parts.database?.backend !== 'postgres') {
      throw new RangeError('a fleet runs differential privacy with one shared PostgreSQL database only (--postgres): the privacy accountant must survive a change of leader, and with a store per node a new leader would account from its own stale copy and report too small an epsilon');
    }
    if (!(parts.strategy.createAggregator(1) instanceof PartialSumAggregator)) throw new RangeError(`strategy ${parts.strategy.name} does not aggregate by partial sums: wrap it with fleetStrategy() (FedAvg-family strategies only)`);
    this.parts = parts;
    const { store, database, strategy, logger, numParams } = parts;
    this.store = fleetStoreAdapter({ redis: this.redis, keys: this.keys, numParams, store, database, strategy, logger, leaseValue: () => (this.leading ? this.lease.value : undefined) });
    // Socket.IO broadcasts fan out to every node's sockets.
    // Its own connection: the coordinator closes socket.io after the member (close()), and the
    // adapter still talks to Redis while it closes.
    this.adapterRedis = this.redis.duplicate();
    this.adapterRedis.on('error', () => undefined);
    parts.io.adapter(createAdapter(this.adapterRedis, { streamName: this.keys.adapter }));
    this.registry = new NodeRegistry({
      redis: this.redis,
      keys: this.keys,
      nodeId: this.nodeId,
      ttlMs: this.leaseMs,
      intervalMs: Math.max(50, Math.floor(this.leaseMs / 5)),
      coordinatorKey: parts.coordinatorKey,
      onKeyMismatch: (other, key) => {
        parts.logger.error({ node: other, key, ours: parts.coordinatorKey }, 'fleet: another node signs with another coordinator key; clients that reconnect between them will refuse it (give every node the same coordinator-key.json)');
        this.event({ type: 'key-mismatch', nodeId: this.nodeId, other });
      },
      localClients: () => this.local.eligible(),
      isLeader: () => this.isLeader,
      onChange: () => {
        this.settleMoved();
        parts.runner.active?.membershipChanged();
      },
      onLost: (n) => this.nodeLost(n),
      onError: (err) => parts.logger.warn({ err: err.message }, 'fleet: node registry'),
    });
    this.lease.on('acquired', ({ token }) => void this.becomeLeader(token));
    this.lease.on('lost', ({ reason }) => this.stepDown(reason));
    this.lease.on('error', (err) => parts.logger.warn({ err: err.message }, 'fleet: lease'));
  }

  start(): void {
    if (this.parts.deterministic?.() && !(this.parts.strategy.createAggregator(1) instanceof ExactSumAggregator)) {
      throw new RangeError('a fleet in deterministic mode needs exact sums: wrap the strategy with fleetStrategy(strategy, { exact: true }) (docs/explanation/fleet.md)');
    }
    if (this.parts.deterministic?.() && this.parts.settings.secureAggregation.enabled) {
      throw new RangeError('a fleet runs deterministic mode without secure aggregation only: group sums are merged in float64, not on the exact grid (docs/explanation/fleet.md)');
    }
    void this.startAsync().catch((err: unknown) => {
      this.parts.logger.error({ err }, 'fleet: start failed');
      this.parts.emit('error', err);
    });
  }

  private async startAsync(): Promise<void> {
    const onError = (err: Error): void => this.parts.logger.warn({ err: err.message }, 'fleet: stream');
    const connection = (): Redis => {
      const c = this.redis.duplicate();
      c.on('error', () => undefined); // reconnects on its own; XREAD failures are reported by the follower
      return c;
    };
    const follow = (key: string, fn: (fields: Map<string, Buffer>) => void | Promise<void>): StreamFollower => new StreamFollower(connection(), key, ({ fields }) => fn(fields), onError);
    this.followers = [
      follow(this.keys.plan(this.nodeId), (f) => this.onPlan(f.get('m')?.toString() ?? '')),
      follow(this.keys.partials, (f) => this.onPartial(f.get('p'))),
      follow(this.keys.versions, (f) => {
        // The leader's own store is where its versions come from: nothing to follow.
        if (!this.leading) void this.sync(Number(f.get('version')?.toString()));
      }),
    ];
    for (const f of this.followers) await f.start();
    // Versions committed before this node started.
    const v = await publishedVersion(this.redis, this.keys);
    if (v !== undefined) this.sync(v);
    await this.chain;
    await this.registry.tick();
    this.registry.start();
    this.lease.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lease.stop();
    await this.registry?.stop();
    await Promise.all(this.followers.map((f) => f.stop()));
    this.redis.disconnect();
    // After socket.io has closed (the coordinator closes it right after this).
    const adapterRedis = this.adapterRedis;
    if (adapterRedis) setTimeout(() => adapterRedis.disconnect(), 1000).unref();
  }

  /** Catches the local store up to `version` (serialized: one application at a time). */
  private sync(version: number): Promise<unknown> {
    if (!Number.isSafeInteger(version)) return this.chain;
    this.chain = this.chain.then(async () => {
      if (this.store.latest().version >= version) return;
      try {
        for (const v of await this.store.follow(version)) {
          this.parts.emit('commit', this.parts.store.get(v.version));
          this.event({ type: 'synced', nodeId: this.nodeId, version: v.version });
        }
      } catch (err) {
        this.parts.logger.error({ err: (err as Error).message, version }, 'fleet: cannot follow the committed versions');
      }
    });
    return this.chain;
  }

  private async becomeLeader(token: number): Promise<void> {
    const { runner, logger } = this.parts;
    try {
      const published = await publishedVersion(this.redis, this.keys);
      if (published !== undefined) await this.sync(published);
      const value = this.lease.value;
      if (value === undefined) return;
      const at = await this.store.lead(token, value);
      runner.roundCounter = Math.max(runner.roundCounter, at.round);
      runner.trainRoundsCommitted = Math.max(runner.trainRoundsCommitted, at.committed);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'fleet: cannot lead; releasing the lease');
      await this.lease.stop();
      this.lease.start();
      return;
    }
    this.leading = true;
    logger.info({ nodeId: this.nodeId, token }, 'fleet: this node leads');
    this.event({ type: 'leader', nodeId: this.nodeId, token });
    void this.registry.tick();
    runner.start();
    runner.resume();
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    const { runner, logger } = this.parts;
    runner.pause();
    // The round in flight cannot commit any more (the fence refuses it): end it now.
    if (this.ledger && runner.active?.roundId === this.ledger.roundId) runner.active.finish();
    this.ledger = undefined;
    logger.warn({ nodeId: this.nodeId, reason }, 'fleet: lease lost; following');
    this.event({ type: 'follower', nodeId: this.nodeId, reason });
  }

  /** Leader: routes a message to the node each client is on; a round:start becomes the round's plan. */
  private send(ids: readonly string[], event: string, msg: unknown): void {
    const mine: string[] = [];
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      if (this.local.connected(id)) mine.push(id);
      else {
        const n = this.registry.nodeOf(id);
        if (n !== undefined) byNode.set(n, [...(byNode.get(n) ?? []), id]);
      }
    }
    const token = this.lease.token;
    if (event === EVENTS.roundStart) {
      if (token === undefined || !this.leading) return; // deposed between selection and start: nobody hears of it
      const start = msg as RoundStart;
      this.privacy = undefined;
      if (groupedSecure(this.parts.settings, start.kind)) return this.sendGrouped(start, token, mine, byNode);
      this.ledger = new PartialLedger(start.roundId, token, byNode);
      this.assignment = new Map([...mine.map((id) => [id, this.nodeId] as const), ...[...byNode].flatMap(([n, cs]) => cs.map((c) => [c, n] as const))]);
      void this.redis.set(this.keys.round, String(start.round)).catch(() => undefined);
    }
    this.local.send(mine, event, msg);
    for (const [n, cs] of byNode) {
      void this.post(n, { event, ids: cs, token: token ?? 1, msg }).then((ok) => {
        // A node that never heard of the round cannot report for it: do not wait for its members.
        if (!ok && event === EVENTS.roundStart) this.nodeLost(n);
      });
    }
  }

  private async post(nodeId: string, entry: PlanEntry): Promise<boolean> {
    try {
      await appendEntry(this.redis, this.keys.plan(nodeId), { m: JSON.stringify(entry) }, 1000);
      return true;
    } catch (err) {
      this.parts.logger.warn({ err: (err as Error).message, nodeId, event: entry.event }, 'fleet: cannot reach a node');
      return false;
    }
  }

  /** Follower: a message of the leader for some of this node's clients. */
  private async onPlan(raw: string): Promise<void> {
    const parsed = planEntrySchema.safeParse(JSON.parse(raw));
    if (!parsed.success) throw new Error(`fleet: bad plan entry: ${parsed.error.message}`);
    const { event, ids, token, msg, whole } = parsed.data;
    if (ids === null) return this.local.broadcast(event, msg);
    if (event === EVENTS.roundStart) {
      const start = roundStartSchema.parse(msg);
      // Only the current lease holder's plans: a deposed leader's late plan is dropped.
      const holder = await this.redis.get(this.keys.lease);
      if (holder?.split(':')[0] !== String(token) || this.isLeader) return;
      await this.sync(start.modelVersion);
      const out = this.collect(start, ids, token, whole);
      if (out) this.local.send(ids, event, out === start ? msg : out);
      return;
    } else if (event === EVENTS.roundEnd) {
      const end = msg as { roundId?: unknown };
      if (this.localRound && this.localRound.r.roundId === end.roundId) this.localRound.r.finish();
    }
    this.local.send(ids, event, msg);
  }

  /** Follower: collects this node's share of the leader's round, then ships one partial. */
  private collect(start: RoundStart, ids: string[], token: number, whole?: { cohort: number; summands: number }): RoundStart | undefined {
    const { settings, numParams, runner, clock } = this.parts;
    this.localRound?.r.finish();
    // Ship before the leader's deadline: the partial must reach it while the round still collects.
    const margin = this.margin();
    const grouped = groupedSecure(settings, start.kind);
    // A group below this node's own minGroupSize never runs SecAgg+, whatever the leader planned;
    // nor does a node without secure aggregation collect a round the leader runs securely.
    const refusal = grouped && ids.length < this.minGroupSize ? GROUP_TOO_SMALL : !grouped && whole ? 'SECAGG_UNAVAILABLE' : undefined;
    if (refusal) {
      if (refusal !== GROUP_TOO_SMALL) this.parts.logger.error({ roundId: start.roundId }, 'fleet: the leader runs this round under secure aggregation and this node has it off; give every node the same config');
      void this.append({ roundId: start.roundId, round: start.round, nodeId: this.nodeId, token, ...noContribution(ids, refusal), metrics: {} });
      return undefined;
    }
    // The strategy's aggregator: exact sums in deterministic mode (fleetStrategy checked the type).
    const sum = start.kind === 'train' && !grouped ? (this.parts.strategy.createAggregator(numParams) as PartialSumAggregator) : undefined;
    const r = new RoundMachine(
      { roundId: start.roundId, round: start.round, kind: start.kind, modelVersion: start.modelVersion, cohort: ids, deadline: start.deadline - margin },
      {
        clock,
        numParams,
        maxExampleWeight: settings.maxExampleWeight,
        sealRequired: settings.uploads.sealRequired,
        aggregator: sum,
        deterministicOrder: () => false,
        presence: { connected: (id) => this.local.connected(id), minClients: 0, graceMs: settings.reconnectGraceMs },
      },
    );
    r.start = start;
    const lr: LocalRound = { r, token, sum };
    // Grouped SecAgg+: the group's unmasked sum is this node's partial (fleet/grouped-round.ts).
    const group = grouped ? startGroup(this.groupContext(), r, start, ids, margin, whole) : undefined;
    if (group) lr.group = group.done.then((c) => (r.finish(), c));
    this.localRound = lr;
    runner.adopt(r);
    const cancel = clock.after(Math.max(0, r.deadline - clock.now()), r.finish);
    void r.finished.then(async () => {
      cancel();
      r.collecting = false;
      if (runner.active === r) runner.adopt(undefined);
      if (this.localRound === lr) this.localRound = undefined;
      await this.ship(lr);
      r.release();
    });
    return group ? group.start : start;
  }

  private margin(): number {
    return Math.min(1000, Math.floor(this.parts.settings.roundTimeoutMs / 10));
  }

  private groupContext(): GroupContext {
    const { settings, numParams, clock, session, trustIdentity } = this.parts;
    return { settings, numParams, clock, minGroupSize: this.minGroupSize, session: session ?? `${this.keys.lease}:${this.nodeId}`, trustIdentity, connected: (id) => this.local.connected(id), send: (ids, e, m) => this.local.send(ids, e, m) };
  }

  /** Leader, grouped SecAgg+ (fleet/grouped-round.ts): plans go to the groups that take part. */
  private sendGrouped(start: RoundStart, token: number, mine: string[], byNode: Map<string, string[]>): void {
    const { kept, whole, privacy } = leadGroupedRound({ ctx: this.groupContext(), r: this.parts.runner.active, start, mine, byNode, margin: this.margin(), logger: this.parts.logger });
    this.privacy = privacy;
    this.ledger = new PartialLedger(start.roundId, token, kept);
    this.assignment = new Map([...mine.map((id) => [id, this.nodeId] as const), ...[...byNode].flatMap(([n, cs]) => cs.map((c) => [c, n] as const))]);
    void this.redis.set(this.keys.round, String(start.round)).catch(() => undefined);
    for (const [n, cs] of kept) {
      void this.post(n, { event: EVENTS.roundStart, ids: cs, token, msg: start, whole }).then((ok) => {
        if (!ok) this.nodeLost(n);
      });
    }
  }

  private async ship(lr: LocalRound): Promise<void> {
    const { r, sum } = lr;
    const c = await lr.group;
    if (c) {
      if (c.error) this.parts.logger.warn({ roundId: r.roundId, err: c.error.message, code: c.error.code }, 'fleet: secure group added no sum');
      return this.append({ roundId: r.roundId, round: r.round, nodeId: this.nodeId, token: lr.token, reporters: c.reporters, rejected: c.rejected, numExamples: c.numExamples, weightTotal: c.weightTotal, count: c.count, metrics: {}, sum: c.sum });
    }
    const agg = sum?.partial();
    // This partial is the node's last word on its share: members it heard nothing from
    // (disconnected, or moved to another node where they cannot count) settle as NO_REPORT, so
    // the leader need not wait for them until its deadline.
    const silent = [...r.cohort].filter((id) => !r.settled.has(id)).map((clientId) => ({ clientId, code: 'NO_REPORT' }));
    const p: Partial = {
      roundId: r.roundId,
      round: r.round,
      nodeId: this.nodeId,
      token: lr.token,
      reporters: [...r.reporters],
      rejected: [...r.rejected, ...silent],
      numExamples: r.numExamples,
      weightTotal: agg?.weightTotal ?? 0,
      count: agg?.count ?? 0,
      metrics: r.metricTotals(),
      sum: agg && agg.count > 0 ? agg.sum : undefined,
    };
    return this.append(p);
  }

  private async append(p: Partial): Promise<void> {
    const bytes = encodePartial(p);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await appendEntry(this.redis, this.keys.partials, { p: bytes }, 1000);
        this.event({ type: 'partial-shipped', nodeId: this.nodeId, roundId: p.roundId, reporters: p.reporters.length });
        return;
      } catch (err) {
        this.parts.logger.warn({ err: (err as Error).message, roundId: p.roundId }, 'fleet: cannot ship the partial; retrying');
        await new Promise((res) => setTimeout(res, 200 * (attempt + 1)));
      }
    }
  }

  /** Leader: one node's partial, merged once into the round in flight. */
  private onPartial(bytes: Buffer | undefined): void {
    if (!bytes || !this.isLeader) return;
    const p = decodePartial(bytes);
    const r = this.parts.runner.active;
    let verdict: MergeVerdict | 'refused' = this.ledger && r && r.roundId === this.ledger.roundId ? this.ledger.accept(p) : 'stale-round';
    if (verdict === 'merged') {
      let ok = false;
      try {
        ok = mergeGroup(r!, p, this.privacy);
      } catch (err) {
        // Another summing mode (one node without --deterministic) or SUM_OVERFLOW: nothing was added.
        this.parts.logger.error({ from: p.nodeId, roundId: p.roundId, err: (err as Error).message }, 'fleet: partial refused');
      }
      if (!ok) verdict = 'refused';
    }
    if (verdict !== 'merged') this.parts.logger.warn({ from: p.nodeId, roundId: p.roundId, verdict }, 'fleet: partial not merged');
    this.event({ type: 'partial', nodeId: this.nodeId, from: p.nodeId, roundId: p.roundId, verdict, reporters: p.reporters.length });
  }

  /**
   * Leader: members assigned to this node that left it and reconnected to another node can no
   * longer count this round (they count only through their assigned node): they settle as
   * NO_REPORT instead of holding the round until its deadline.
   */
  private settleMoved(): void {
    const r = this.parts.runner.active;
    if (!this.isLeader || !this.ledger || !r || r.roundId !== this.ledger.roundId || !r.collecting) return;
    const moved = [...this.assignment].filter(([id, n]) => n === this.nodeId && r.awaits(id) && !this.local.connected(id) && this.registry.nodeOf(id) !== undefined).map(([id]) => id);
    if (moved.length) r.mergePartial({ reporters: [], rejected: moved.map((clientId) => ({ clientId, code: 'NO_REPORT' })), numExamples: 0, metrics: {} });
  }

  /** Leader: a node died before its partial came; its members settle as NODE_LOST. */
  private nodeLost(nodeId: string): void {
    const r = this.parts.runner.active;
    if (!this.isLeader || !this.ledger || !r || r.roundId !== this.ledger.roundId) return;
    const members = this.ledger.giveUp(nodeId).filter((id) => r.awaits(id));
    if (members.length) r.mergePartial({ reporters: [], rejected: members.map((clientId) => ({ clientId, code: 'NODE_LOST' })), numExamples: 0, metrics: {} });
    this.parts.logger.warn({ lost: nodeId, members: members.length }, 'fleet: node lost mid-round');
    this.event({ type: 'node-lost', nodeId: this.nodeId, lost: nodeId, members: members.length });
  }
}
