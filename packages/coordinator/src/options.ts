import { z } from 'zod';
import { trainConfigSchema } from '@flock/protocol';

/** Settings of a federation, validated at start-up (from flags, a config file or code). */
/** The settings' fields (config files build on this); coordinatorSettingsSchema adds cross-field checks. */
export const coordinatorSettingsFields = z.object({
  federationId: z.string().min(1).max(128).default('default'),
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
  /** Pause between the end of a round and the start of the next one, ms (spaces out client work). */
  roundIntervalMs: z.number().int().nonnegative().max(86_400_000).default(0),
  /** Run a federated evaluation round after every N training rounds (0 = never). */
  evaluateEvery: z.number().int().nonnegative().default(0),
  /** Client training settings sent with each round. */
  train: trainConfigSchema.default({ epochs: 1, batchSize: 32, learningRate: 0.05 }),
  /** Cap on the weight (example count) one client's update carries. */
  maxExampleWeight: z.number().int().positive().default(1_000_000),
  /** Fixes cohort selection for reproducible simulations; leave unset in production (crypto randomness). */
  selectionSeed: z.number().int().optional(),
  /** Largest socket.io message accepted, in bytes; default: the model's size + 1 MiB. */
  maxHttpBufferSize: z.number().int().positive().optional(),
  /**
   * Secure aggregation (SecAgg+): the coordinator only ever sees the sum of the cohort's
   * masked, quantized updates. Needs cohorts of at least 3 and a strategy that works on
   * aggregates (not median / trimmed mean).
   */
  secureAggregation: z
    .object({
      enabled: z.boolean().default(false),
      /** Neighbourhood size (graph degree); default: the full graph for cohorts up to 256. */
      k: z.number().int().min(2).max(255).optional(),
      /** Shamir threshold; default ceil(2k/3). */
      t: z.number().int().min(2).max(255).optional(),
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
});

export const coordinatorSettingsSchema = coordinatorSettingsFields.refine((s) => s.maxClients >= s.minClients, { message: 'maxClients must be >= minClients', path: ['maxClients'] });

export type CoordinatorSettings = z.infer<typeof coordinatorSettingsSchema>;
export type CoordinatorSettingsInput = z.input<typeof coordinatorSettingsSchema>;
