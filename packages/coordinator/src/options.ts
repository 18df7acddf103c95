import { z } from 'zod';
import * as zm from 'zod/mini';
import { trainConfigSchema } from '@flock/protocol';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, SEAL_SUITE_IDS } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { FlockError, type HandshakeAuth } from '@flock/protocol';
import type { IdentityKeyPair } from '@flock/privacy';
import { rateLimitSettingsSchema } from './rate-limit.js';
import { servingSettingsSchema } from './serving/settings.js';
import type { Strategy } from './strategy.js';
import { assertSecAggCompatible } from './strategies/index.js';
import type { Logger } from './logger.js';
import type { FederationStore } from './store/types.js';
import type { ClientRegistry } from './auth/registry.js';
import type { AuditLog } from './admin/audit.js';
import type { EvalData } from './serving/service.js';
import type { FleetHooks } from './fleet/member.js';

/** Settings of a federation, validated at start-up (from flags, a config file or code). */
/** The settings' fields (config files build on this); coordinatorSettingsSchema adds cross-field checks. */
export const coordinatorSettingsFields = z.object({
  federationId: z.string().min(1).max(128).default('default'),
  /**
   * Client authentication: `tokens` (default) admits only clients that enrolled with an
   * operator's enrollment token and prove their identity key at every connection; `open`
   * admits anonymous clients (local experiments only). docs/how-to/authentication.md.
   */
  auth: z.enum(['tokens', 'open']).default('tokens'),
  /** A round starts only when at least this many clients are connected, and commits only with at least this many reports. */
  minClients: z.number().int().positive().default(2),
  /** Fraction of connected clients selected per round. */
  fraction: z.number().gt(0).max(1).default(1),
  /**
   * `fixed`: cohorts of ceil(fraction * connected) (within min/max); `poisson`: every eligible
   * client joins independently with probability `fraction` (what DP accounting assumes).
   */
  sampling: z.enum(['fixed', 'poisson']).default('fixed'),
  /** Upper bound on the cohort size. */
  maxClients: z.number().int().positive().default(1_000_000),
  /** Training rounds to run (then the coordinator idles and keeps serving the model). */
  rounds: z.number().int().positive().default(10),
  /** Milliseconds clients have to report, from round:start. */
  roundTimeoutMs: z.number().int().positive().max(2_147_483_647, 'at most 2^31-1 ms (about 24.8 days): the limit of timers').default(60_000),
  /**
   * A round whose remaining cohort members have all disconnected, or whose quorum (minClients)
   * can no longer be met by the members still connected, ends this many ms later instead of at
   * its deadline, unless a member reconnects in the meantime (a network blip). 0: at once.
   */
  reconnectGraceMs: z.number().int().nonnegative().max(2_147_483_647).default(5_000),
  /** Pause between the end of a round and the start of the next one, ms (spaces out client work). */
  roundIntervalMs: z.number().int().nonnegative().max(86_400_000).default(0),
  /** Run a federated evaluation round after every N training rounds (0 = never). */
  evaluateEvery: z.number().int().nonnegative().default(0),
  /** Client training settings sent with each round. */
  train: zm._default(trainConfigSchema, { epochs: 1, batchSize: 32, learningRate: 0.05 }),
  /** Cap on the weight (example count) one client's update carries. */
  maxExampleWeight: z.number().int().positive().default(1_000_000),
  /** Fixes cohort selection for reproducible simulations; leave unset in production (crypto randomness). */
  selectionSeed: z.number().int().optional(),
  /**
   * Largest socket.io message accepted, in bytes; default: one upload chunk + its envelope (with
   * secure aggregation: the masked vector + 1 MiB; with sealRequired false: the model's size + 1 MiB).
   */
  maxHttpBufferSize: z.number().int().positive().optional(),
  /**
   * Secure aggregation (SecAgg+): the coordinator only ever sees the sum of the cohort's
   * masked, quantized updates. Needs cohorts of at least 3 and a strategy that works on
   * aggregates (not median / trimmed mean).
   */
  secureAggregation: z
    .object({
      enabled: z.boolean().default(false),
      /**
       * Neighbourhood size (graph degree); default: derived per cohort from dropoutRate and
       * corruptionRate (Bell et al. 2020; docs/explanation/secure-aggregation.md, "Parameters").
       */
      k: z.number().int().min(2).max(255).optional(),
      /** Shamir threshold; default: derived likewise (a strict majority of the real degree). */
      t: z.number().int().min(2).max(255).optional(),
      /** Largest fraction of a cohort expected to drop out during a round (default 0.1). */
      dropoutRate: z.number().min(0).lt(0.5).optional(),
      /** Largest fraction of a cohort an adversary may control besides the coordinator (default 0.05). */
      corruptionRate: z.number().min(0).lt(0.5).optional(),
      /** Per-coordinate clip of each weighted delta before quantization. */
      clip: z.number().positive().finite().default(1),
      /** Cap on the example-count weight of one update. */
      weightCap: z.number().int().positive().max(2 ** 20).default(10_000),
      /** Deadline of each key stage (advertise, share keys, unmask), ms. */
      stageTimeoutMs: z.number().int().positive().default(30_000),
    })
    .default({ enabled: false, clip: 1, weightCap: 10_000, stageTimeoutMs: 30_000 }),
  /** How many model versions stay downloadable. */
  keepVersions: z.number().int().positive().default(1000),
  /**
   * Training uploads (protocol/v1.md 5.4a): updates arrive in chunks of at most `chunkBytes`
   * (plaintext), each acked before the next; outside secure aggregation they are sealed to
   * the coordinator's X25519 key. `sealRequired: false` also accepts plaintext uploads and
   * the single-frame `round:update` (tests and trusted networks only).
   */
  uploads: z
    .object({
      chunkBytes: z.number().int().min(MIN_CHUNK_BYTES).max(MAX_CHUNK_BYTES).default(DEFAULT_CHUNK_BYTES),
      sealRequired: z.boolean().default(true),
      /**
       * Sealing suites accepted, best first (protocol/v1.md 5.4a), announced in the welcome.
       * Leave out `x25519-xsalsa20-poly1305` to refuse the deprecated nacl.box suite (and with
       * it SDKs of Flock 0.1.0 and older).
       */
      sealSuites: z
        .array(z.enum([SEAL_SUITE_IDS.aead, SEAL_SUITE_IDS.legacy]))
        .min(1)
        .refine((a) => new Set(a).size === a.length, 'sealSuites must not repeat a suite')
        .default([SEAL_SUITE_IDS.aead, SEAL_SUITE_IDS.legacy]),
    })
    .default({ chunkBytes: DEFAULT_CHUNK_BYTES, sealRequired: true, sealSuites: [SEAL_SUITE_IDS.aead, SEAL_SUITE_IDS.legacy] }),
  /** Inference and the serving version (docs/how-to/serve-and-monitor.md). */
  serving: servingSettingsSchema,
  /**
   * Origins whose web pages may use the coordinator (CORS on /v1/, the Origin of socket.io
   * connections): `["*"]` (default) for any, else exact origins like `https://app.example`.
   * Clients outside browsers send no Origin and are not affected. docs/reference/coordinator-config.md.
   */
  corsOrigins: z
    .array(z.string().refine((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o), 'must be "*" or an origin: scheme://host[:port], no path or trailing slash'))
    .min(1)
    .max(256)
    .default(['*']),
  /** Token-bucket rate limits on events and connection attempts (rate-limit.ts). */
  rateLimits: rateLimitSettingsSchema,
  /**
   * Debugging and crash testing only: pause this long at each phase boundary of a round
   * (after the `selection` phase is logged, after collection ends before aggregating, and
   * right after a commit before round:end goes out), widening windows a test can kill the
   * process in. 0 (the default) in production. See docs/explanation/durability.md.
   */
  debugPhaseDelayMs: z.number().int().nonnegative().max(60_000).default(0),
});

export const coordinatorSettingsSchema = coordinatorSettingsFields.refine((s) => s.maxClients >= s.minClients, { message: 'maxClients must be >= minClients', path: ['maxClients'] });

export type CoordinatorSettings = z.infer<typeof coordinatorSettingsSchema>;
export type CoordinatorSettingsInput = z.input<typeof coordinatorSettingsSchema>;

/** What a Coordinator is built from (coordinator.ts). */
export interface CoordinatorOptions {
  /** The initial global model (topology + weights). */
  model: FlatModel;
  settings?: CoordinatorSettingsInput;
  strategy?: Strategy;
  /** Ed25519 key pair (tweetnacl layout) that signs privacy receipts; default: a fresh one per run. */
  signingKey?: IdentityKeyPair;
  /** Checks a handshake; throw a FlockError (e.g. UNAUTHORIZED) to refuse the connection. */
  authenticate?: (auth: HandshakeAuth) => void | Promise<void>;
  logger?: Logger;
  /**
   * Durable state (docs/explanation/durability.md): a SQLite file path (':memory:' for tests;
   * the coordinator opens it and closes it in close()) or an open FederationStore (SQLite's
   * FederationDatabase, or PostgreSQL's PgFederationStore with `await Coordinator.open()`; the
   * caller closes it). An existing database is resumed: its latest model, round counter and
   * strategy state win over `model`. Without it everything lives in memory.
   */
  database?: string | FederationStore;
  /** Enrollment tokens and client identities (settings.auth 'tokens'); default: in memory. */
  registry?: ClientRegistry;
  /** Audit log of admin actions, enrolments, revocations, refused handshakes and commits. */
  audit?: AuditLog;
  /** Bearer token of the operator admin API (/v1/admin/...); unset: the admin API is disabled. */
  operatorToken?: string;
  /** Model and round endpoints require a client session token or the operator token. */
  privateModels?: boolean;
  /** PEM certificate chain and key: serve https/wss instead of http/ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** GET /metrics without the operator token (participation figures still need it under DP). */
  publicMetrics?: boolean;
  /** Held-out labelled set for server-side evaluation of every committed version (`--eval-data`). */
  evalData?: EvalData;
  /** Makes this coordinator a node of a fleet (fleet/member.ts, docs/explanation/fleet.md). */
  fleet?: FleetHooks;
}

/** Refuses a strategy that cannot run under the secure-aggregation setting (SECAGG_UNAVAILABLE). */
export function checkStrategyFits(strategy: Strategy, settings: CoordinatorSettings): void {
  if (settings.secureAggregation.enabled) {
    try {
      assertSecAggCompatible(strategy);
    } catch (err) {
      throw new FlockError('SECAGG_UNAVAILABLE', (err as Error).message, { strategy: strategy.name });
    }
  }
  if ((strategy as { requiresSecureAggregation?: boolean }).requiresSecureAggregation && !settings.secureAggregation.enabled) {
    throw new FlockError('SECAGG_UNAVAILABLE', `strategy ${strategy.name} adds its noise inside secure aggregation: enable secureAggregation`);
  }
}
