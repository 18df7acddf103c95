import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { trainConfigSchema } from '@flock/protocol';
import { parseJsonConfig } from '@flock/sim';
import { createPresetModel, flatModelFromArtifacts, flatModelOf, MODEL_PRESETS, selectBackend, type FlatModel, type ModelPreset } from '@flock/model';
import { openFederationDatabase, openPostgresStore, type FederationStore } from '@flock/coordinator';
import { loadOrCreateSigningKey, resolveDataDir } from '../security.js';
import { Coordinator, coordinatorSettingsFields, coordinatorSettingsSchema, createStrategy, DifferentiallyPrivate, FleetMember, fleetStrategy, type FleetEvent, type Logger, type Strategy } from '@flock/coordinator';
import { err, exitAfterSignal, out, stopSignal, UsageError } from '../output.js';
import { int, num, oneOf } from '../parse.js';
import { loadEvalData } from '../eval-data.js';
import { attachHumanOutput, humanLogger, jsonLogger, LOG_MODES, resolveLogMode, type LogMode } from '../coordinator-output.js';
import { addSecurityOptions, setUpSecurity, type SecurityFlags } from './coordinator-security.js';

/** Loads the initial model: a preset name, or a TensorFlow.js model.json with its weight files. */
export async function loadInitialModel(model: string, seed: number): Promise<FlatModel> {
  if ((MODEL_PRESETS as readonly string[]).includes(model)) {
    await selectBackend('cpu');
    const m = createPresetModel(model as ModelPreset, { seed });
    try {
      return await flatModelOf(m);
    } finally {
      m.dispose();
    }
  }
  if (!model.endsWith('.json')) throw new UsageError(`--model must be one of ${MODEL_PRESETS.join(', ')} or a path to a TensorFlow.js model.json; got '${model}'`);
  let doc: { weightsManifest?: Array<{ paths: string[] }> };
  // Relative model paths in a config file are resolved by the caller against the file's directory.
  try {
    doc = JSON.parse(await readFile(model, 'utf8')) as typeof doc;
  } catch (e) {
    throw new UsageError(`cannot read ${model}: ${(e as Error).message}`);
  }
  const files = (doc.weightsManifest ?? []).flatMap((g) => g.paths);
  const bytes = await Promise.all(files.map(async (p) => new Uint8Array(await readFile(path.resolve(path.dirname(model), p)))));
  return flatModelFromArtifacts(doc, bytes);
}

const configFileSchema = coordinatorSettingsFields.partial().extend({
  // A partial train block is merged over the defaults; unknown keys in it are errors.
  train: z.strictObject(trainConfigSchema.shape).partial().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().optional(),
  model: z.string().optional(),
  seed: z.number().int().optional(),
  strategy: z.string().optional(),
  /** Sum updates in client-id order (reproducible runs; holds a round's updates until it ends). */
  deterministicOrder: z.boolean().optional(),
  /** PostgreSQL instead of the SQLite file: a URL, or {url, schema, poolSize} (docs/how-to/postgres.md). */
  postgres: z
    .union([z.string().min(1), z.object({ url: z.string().min(1), schema: z.string().optional(), poolSize: z.number().int().min(2).optional() }).strict()])
    .optional(),
  /** Fleet membership (docs/how-to/scale-out.md): this node joins the fleet on this Redis. */
  fleet: z
    .object({
      redis: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
      nodeId: z.string().min(1).max(64).regex(/^[^:\s]+$/, 'no ":" or spaces').optional(),
      leaseMs: z.number().int().min(500).max(600_000).optional(),
      /** Smallest group a node runs secure aggregation with (default 100; docs/explanation/fleet.md). */
      minGroupSize: z.number().int().min(3).max(2 ** 20).optional(),
    })
    .strict()
    .optional(),
  /** Differential privacy (DP-FedAvg wrapper around the strategy); sampling becomes Poisson with q = fraction. */
  dp: z
    .object({
      mode: z.enum(['central', 'local', 'distributed']),
      noiseMultiplier: z.number().positive(),
      clip: z.number().positive(),
      delta: z.number().gt(0).lt(1).default(1e-5),
      clientEpsilonBudget: z.number().positive().optional(),
    })
    .strict()
    .optional(),
}).strict();

/** The flag a top-level config key stands for (shown next to the key in config errors). */
const CONFIG_FLAGS: Record<string, string> = {
  port: '--port',
  host: '--host',
  model: '--model',
  seed: '--seed',
  minClients: '--min-clients',
  fraction: '--fraction',
  rounds: '--rounds',
  roundTimeoutMs: '--timeout (seconds)',
  roundIntervalMs: '--round-interval (seconds)',
  evaluateEvery: '--evaluate-every',
  corsOrigins: '--cors-origin',
  strategy: '--strategy',
  deterministicOrder: '--deterministic',
  dp: '--dp',
  postgres: '--postgres',
  fleet: '--redis',
};

/** JSON-lines logger on stderr (kept here for existing importers). */
export { jsonLogger };

interface CoordinatorFlags extends SecurityFlags {
  config?: string;
  port?: number;
  host?: string;
  model?: string;
  seed?: number;
  minClients?: number;
  fraction?: number;
  rounds?: number;
  timeout?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  evaluateEvery?: number;
  corsOrigin?: string[];
  strategy?: string;
  roundInterval?: number;
  dp?: 'central' | 'local' | 'distributed';
  noiseMultiplier?: number;
  clip?: number;
  delta?: number;
  clientBudget?: number;
  deterministic?: boolean;
  servingPolicy?: 'always' | 'manual' | 'evaluated';
  servingMetric?: string;
  servingTolerance?: number;
  evalData?: string;
  log?: LogMode;
  postgres?: string;
  redis?: string;
  nodeId?: string;
  lease?: number;
  minGroupSize?: number;
}

export function coordinatorCommand(): Command {
  return addSecurityOptions(new Command('coordinator'))
    .description('run a coordinator: socket.io rounds plus the model over HTTP')
    .option('--config <file>', 'JSON config file (flags override it); keys as in docs/reference/coordinator-config.md')
    .option('--port <port>', 'TCP port (0 = any free port)', int(0, 65535))
    .option('--host <host>', 'interface to bind (default 127.0.0.1; 0.0.0.0 for all)')
    .option('--model <preset|model.json>', `initial model: ${MODEL_PRESETS.join(', ')} or a TensorFlow.js model.json`)
    .option('--seed <n>', 'seed for the initial preset weights', int(0))
    .option('--min-clients <n>', 'clients needed to start and to commit a round', int(1))
    .option('--fraction <f>', 'fraction of connected clients selected per round', num(0, 1, true))
    .option('--rounds <n>', 'training rounds to run, then keep serving', int(1))
    .option('--timeout <seconds>', 'round deadline', num(1))
    .option('--epochs <n>', 'client local epochs', int(1, 1000))
    .option('--batch-size <n>', 'client batch size', int(1, 65536))
    .option('--lr <rate>', 'client learning rate', num(0, Infinity, true))
    .option('--strategy <spec>', 'aggregation strategy, e.g. fedavg, fedadam:eta=0.01, fedprox:mu=0.01, median (see docs/how-to/strategies.md)')
    .option('--round-interval <seconds>', 'pause between rounds', num(0))
    .option('--dp <mode>', 'differential privacy: central, local or distributed (needs secureAggregation)', oneOf(['central', 'local', 'distributed'] as const))
    .option('--noise-multiplier <sigma>', 'DP noise stddev / clip', num(0, Infinity, true))
    .option('--clip <c>', 'DP: L2 norm each client update is clipped to', num(0, Infinity, true))
    .option('--delta <d>', 'DP delta (default 1e-5)', num(0, 1, true, true))
    .option('--client-budget <epsilon>', 'DP: clients whose own epsilon would exceed this are no longer selected', num(0, Infinity, true))
    .option('--db <path>', 'SQLite database of the coordinator state (default <data-dir>/coordinator.db; :memory: = nothing persists); an existing one is resumed')
    .option('--postgres <url>', 'PostgreSQL database of the coordinator state instead of --db (postgres://user@host:port/db; the password from the URL, $PGPASSWORD or ~/.pgpass); for fleets')
    .option('--deterministic', 'sum updates in client-id order, for reproducible runs (with selectionSeed and seeded clients)')
    .option('--cors-origin <origin>', 'origin whose web pages may join and load models, e.g. https://app.example (repeatable; default: any origin, "*")', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--evaluate-every <n>', 'federated evaluation round after every N training rounds (0 = never)', int(0))
    .option('--serving-policy <policy>', 'how the serving version follows training: always, manual (admin API) or evaluated', oneOf(['always', 'manual', 'evaluated'] as const))
    .option('--serving-metric <name>', 'metric the evaluated policy compares (default eval_accuracy; server_accuracy with --eval-data)')
    .option('--serving-tolerance <x>', 'evaluated policy: how much worse the metric may get and still be promoted (default 0.01)', num(0))
    .option('--eval-data <spec>', 'held-out set evaluated on every committed version: fashion-mnist[:N] or a JSON file {"x": [[...]], "labels": [...]}')
    .option('--redis <url>', 'join a fleet of coordinator nodes on this Redis (redis://host:port; see docs/how-to/scale-out.md)')
    .option('--node-id <id>', 'this node\'s name in the fleet (default: random)')
    .option('--lease <seconds>', 'fleet: leader lease and node liveness time (default 5)', num(0.5, 600))
    .option('--min-group-size <n>', 'fleet with secure aggregation: smallest group of clients a node runs SecAgg+ with (default 100, at least 3)', int(3, 2 ** 20))
    .option('--log <mode>', 'terminal output: human (a progress bar and one line per round), json (JSON lines), auto (human on a TTY)', oneOf(LOG_MODES))
    .action(async (f: CoordinatorFlags) => {
      let file: z.infer<typeof configFileSchema> = {};
      if (f.config) {
        let text: string;
        try {
          text = await readFile(f.config, 'utf8');
        } catch (e) {
          throw new UsageError(`--config ${f.config}: ${(e as Error).message}`);
        }
        // Line:column for syntax errors, "did you mean" for misspelt keys at any depth (as flock sim).
        file = parseJsonConfig(text, f.config, configFileSchema, {
          example: '{"rounds": 5, "minClients": 2}',
          flagOf: (key) => CONFIG_FLAGS[key],
          error: (message) => new UsageError(message),
        });
      }
      const { port: filePort, host: fileHost, model: fileModel, seed: fileSeed, strategy: fileStrategy, dp: fileDp, deterministicOrder: fileDeterministic, postgres: filePostgres, fleet: fileFleet, ...fileSettings } = file;
      const postgres = f.postgres !== undefined ? { url: f.postgres } : typeof filePostgres === 'string' ? { url: filePostgres } : filePostgres;
      if (postgres && f.db !== undefined) throw new UsageError('--postgres and --db name two different stores: give one of them');
      let strategy: Strategy;
      try {
        strategy = createStrategy(f.strategy ?? fileStrategy ?? 'fedavg');
      } catch (e) {
        throw new UsageError(`--strategy: ${(e as Error).message}`);
      }
      const mode = f.dp ?? fileDp?.mode;
      if (mode) {
        const noiseMultiplier = f.noiseMultiplier ?? fileDp?.noiseMultiplier;
        const clip = f.clip ?? fileDp?.clip;
        if (noiseMultiplier === undefined || clip === undefined) throw new UsageError('--dp needs --noise-multiplier and --clip (or dp.noiseMultiplier and dp.clip in the config file)');
        const fraction = f.fraction ?? fileSettings.fraction ?? 1;
        const budget = f.clientBudget ?? fileDp?.clientEpsilonBudget;
        strategy = new DifferentiallyPrivate(strategy, { mode, noiseMultiplier, clip, delta: f.delta ?? fileDp?.delta ?? 1e-5, samplingRate: fraction, ...(budget ? { clientEpsilonBudget: budget } : {}) });
      }
      const train = { ...coordinatorSettingsSchema.parse({}).train, ...fileSettings.train };
      if (f.epochs !== undefined) train.epochs = f.epochs;
      if (f.batchSize !== undefined) train.batchSize = f.batchSize;
      if (f.lr !== undefined) train.learningRate = f.lr;
      const settings = {
        ...fileSettings,
        ...(f.minClients !== undefined ? { minClients: f.minClients } : {}),
        ...(f.fraction !== undefined ? { fraction: f.fraction } : {}),
        ...(f.rounds !== undefined ? { rounds: f.rounds } : {}),
        ...(f.timeout !== undefined ? { roundTimeoutMs: Math.round(f.timeout * 1000) } : {}),
        ...(f.evaluateEvery !== undefined ? { evaluateEvery: f.evaluateEvery } : {}),
        ...(f.corsOrigin !== undefined ? { corsOrigins: f.corsOrigin } : {}),
        ...(f.roundInterval !== undefined ? { roundIntervalMs: Math.round(f.roundInterval * 1000) } : {}),
        // Under DP, clients are Poisson-sampled with q = fraction (the accountant's assumption).
        ...(mode ? { sampling: 'poisson' as const } : {}),
        train,
        serving: {
          ...fileSettings.serving,
          ...(f.servingPolicy !== undefined ? { policy: f.servingPolicy } : {}),
          ...(f.servingMetric !== undefined ? { metric: f.servingMetric } : f.evalData !== undefined && fileSettings.serving?.metric === undefined ? { metric: 'server_accuracy' } : {}),
          ...(f.servingTolerance !== undefined ? { tolerance: f.servingTolerance } : {}),
        },
      };
      const evalData = f.evalData !== undefined ? await loadEvalData(f.evalData) : undefined;
      // A model path in the config file is relative to the file, not to the working directory.
      const modelFromFile = fileModel && fileModel.endsWith('.json') && f.config ? path.resolve(path.dirname(f.config), fileModel) : fileModel;
      const logMode = resolveLogMode(f.log ?? 'auto', process.stdout.isTTY === true);
      const logger = logMode === 'human' ? humanLogger() : jsonLogger();
      // Durable state (docs/explanation/durability.md): --db, default <data-dir>/coordinator.db,
      // data dir from --data-dir, $FLOCK_HOME or ./flock-data (created if missing).
      f.dataDir = resolveDataDir(f.dataDir);
      // Owner-only files: the database holds the client registry, the data directory the
      // operator token, the audit log and the signing key.
      process.umask(0o077);
      let database: FederationStore;
      let signing: ReturnType<typeof loadOrCreateSigningKey>;
      if (postgres) {
        // PostgreSQL (fleets): the state lives in the server; the signing key in the data dir.
        // Only the URL without its password is ever logged (database.location).
        database = await openPostgresStore({ ...postgres, onError: (e) => logger.warn({ error: (e as Error).message }, 'PostgreSQL: a background write or idle connection failed') });
        mkdirSync(f.dataDir, { recursive: true, mode: 0o700 });
        signing = loadOrCreateSigningKey(path.join(f.dataDir, 'coordinator.db'));
      } else {
        f.db ??= path.join(f.dataDir, 'coordinator.db');
        if (f.db !== ':memory:') mkdirSync(path.dirname(path.resolve(f.db)), { recursive: true, mode: 0o700 });
        database = openFederationDatabase(f.db);
        signing = loadOrCreateSigningKey(f.db);
      }
      const where = database.location;
      const stored = await database.storedModel();
      if (stored) logger.info({ database: where, modelVersion: stored.version, modelHash: stored.hash }, 'existing database: the model comes from the database (--model and --seed are ignored)');
      const model = stored ?? (await loadInitialModel(f.model ?? modelFromFile ?? 'mlp', f.seed ?? fileSeed ?? 0));
      // Authentication, operator token, audit log, TLS (coordinator-security.ts).
      // `"auth": "open"` in the config file counts as --open (and warns the same way).
      const security = await setUpSecurity({ ...f, open: f.open === true || settings.auth === 'open' }, database.registry);
      if ((f.redis ?? fileFleet?.redis) !== undefined) {
        // Before the member opens its Redis connection: a refused strategy must not leave one open.
        // Grouped SecAgg+ merges group sums in float64: not the exact sum deterministic mode needs.
        if ((f.deterministic ?? fileDeterministic) === true && settings.secureAggregation?.enabled === true) {
          throw new UsageError('--redis --deterministic: a fleet runs deterministic mode without secure aggregation only (group sums are merged in float64, not on the exact grid); see docs/explanation/fleet.md');
        }
        try {
          strategy = fleetStrategy(strategy, { exact: (f.deterministic ?? fileDeterministic) === true });
        } catch (e) {
          throw new UsageError(`--redis: ${(e as Error).message}`);
        }
      }
      const fleet = fleetMemberOf(f, fileFleet, settings.federationId ?? 'default');
      let coordinator: Coordinator;
      try {
        coordinator = await Coordinator.open({ model, settings: { ...settings, auth: security.auth }, logger, strategy, ...security.options, database, signingKey: signing.key, ...(evalData ? { evalData } : {}), ...(fleet ? { fleet } : {}) });
      } catch (e) {
        // The member's Redis connection would keep the process alive (it reconnects forever).
        await fleet?.close();
        if (fleet && e instanceof RangeError) throw new UsageError(`--redis: ${e.message}`);
        throw e;
      }
      if (f.deterministic ?? fileDeterministic) coordinator.deterministicOrder = true;
      // Handlers first: a Ctrl-C from here on (even one racing the first output lines) stops cleanly.
      const stopped = stopSignal();
      const url = await coordinator.listen(f.port ?? filePort ?? 8080, f.host ?? fileHost ?? '127.0.0.1');
      let stopOutput = (): void => undefined;
      if (logMode === 'json') {
        // The first stdout line is machine-readable so scripts and tests can find the port.
        out(JSON.stringify({ event: 'listening', url, modelVersion: coordinator.store.latest().version, numParams: coordinator.numParams, auth: security.auth, database: where, resumed: stored !== undefined, coordinatorKey: Buffer.from(signing.key.publicKey).toString('hex') }));
        coordinator.on('round', (s: { round: number; kind: string; status: string; modelVersion: number; reporters: string[] }) =>
          out(JSON.stringify({ event: 'round', round: s.round, kind: s.kind, status: s.status, modelVersion: s.modelVersion, reporters: s.reporters.length })),
        );
        coordinator.on('done', () => out(JSON.stringify({ event: 'done', modelVersion: coordinator.store.latest().version, url: `${url}/v1/models/latest/model.json` })));
        coordinator.on('fleet', (e: FleetEvent) => out(JSON.stringify({ ...e, event: 'fleet' })));
      } else stopOutput = attachHumanOutput(coordinator, url);
      security.announce(url);
      const committed = Number(coordinator.status().trainRoundsCommitted);
      if (stored && committed >= coordinator.settings.rounds) {
        // Resuming a finished federation trains nothing: say why, and how to train more.
        err(`flock: ${committed}/${coordinator.settings.rounds} training rounds already done in ${where}; serving model version ${coordinator.store.latest().version}. Raise --rounds to train more, or use a new --data-dir (or --db) to start a new federation.`);
      }
      coordinator.start();
      const signal = await stopped;
      stopOutput();
      await coordinator.close();
      security.close();
      await database.close();
      exitAfterSignal(signal);
    });
}

/** The fleet membership asked for by --redis (or the config file's "fleet"), if any. */
function fleetMemberOf(f: CoordinatorFlags, file: { redis: string; nodeId?: string | undefined; leaseMs?: number | undefined; minGroupSize?: number | undefined } | undefined, federationId: string): FleetMember | undefined {
  const redisUrl = f.redis ?? file?.redis;
  if (redisUrl === undefined && f.minGroupSize !== undefined) throw new UsageError('--min-group-size needs --redis (it sizes the secure-aggregation groups of a fleet)');
  if (redisUrl === undefined) return undefined;
  if (!/^rediss?:\/\//.test(redisUrl)) throw new UsageError(`--redis must be a redis:// or rediss:// URL; got '${redisUrl}'`);
  const nodeId = f.nodeId ?? file?.nodeId;
  if (nodeId !== undefined && !/^[^:\s]{1,64}$/.test(nodeId)) throw new UsageError(`--node-id must be 1-64 characters without ":" or spaces; got '${nodeId}'`);
  const leaseMs = f.lease !== undefined ? Math.round(f.lease * 1000) : file?.leaseMs;
  const minGroupSize = f.minGroupSize ?? file?.minGroupSize;
  return new FleetMember({ redisUrl, federationId, ...(nodeId ? { nodeId } : {}), ...(leaseMs ? { leaseMs } : {}), ...(minGroupSize !== undefined ? { minGroupSize } : {}) });
}
