import { z } from 'zod';

/** Inference endpoint and serving-version settings (`serving` in the coordinator settings). */
export const servingSettingsSchema = z
  .object({
    /**
     * How the serving version follows training: `always` (every commit is served), `manual`
     * (only the admin API promotes or rolls back), `evaluated` (a version is promoted when its
     * evaluation metric is not worse than the serving version's by more than `tolerance`).
     */
    policy: z.enum(['always', 'manual', 'evaluated']).default('always'),
    /** The metric the `evaluated` policy compares: a key of the version's metrics (server_accuracy with --eval-data, eval_accuracy from federated evaluation rounds, train_loss...). */
    metric: z.string().min(1).max(64).default('eval_accuracy'),
    /** How much worse (absolute) the metric may get and still be promoted. Metrics named *loss* count lower as better. */
    tolerance: z.number().nonnegative().max(1e9).default(0.01),
    /** Most instances in one predict request and in one micro-batch. */
    maxBatch: z.number().int().positive().max(65_536).default(256),
    /** Largest JSON predict body in bytes (binary bodies: maxBatch x input size x 4). */
    maxBodyBytes: z.number().int().positive().max(1 << 30).default(32 * 1024 * 1024),
    /** How long an idle inference worker waits for more requests to batch, ms (0: start at once; busy workers batch anyway). */
    batchWaitMs: z.number().int().nonnegative().max(1000).default(0),
    /** tfjs backend of the inference worker. */
    backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  })
  .default({ policy: 'always', metric: 'eval_accuracy', tolerance: 0.01, maxBatch: 256, maxBodyBytes: 32 * 1024 * 1024, batchWaitMs: 0, backend: 'auto' });

export type ServingSettings = z.infer<typeof servingSettingsSchema>;
