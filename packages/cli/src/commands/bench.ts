import { Command } from 'commander';
import { out, UsageError } from '../output.js';

type Suite = (opts: { quick?: boolean; clients?: number[]; cohorts?: number[]; nodes?: number[]; redisUrl?: string }) => AsyncGenerator<Record<string, unknown>>;

/** Benchmark suites; each yields one JSON object per configuration, machine included. */
const SUITES: Record<string, () => Promise<Suite>> = {
  secagg: async () => (await import('../bench/secagg.js')).benchSecAgg,
  dp: async () => (await import('../bench/dp.js')).benchDp,
  fleet: async () => (await import('../bench/fleet.js')).benchFleet,
  serve: async () => (await import('../bench/serve.js')).benchServe,
  sdk: async () => (await import('../bench/sdk.js')).benchSdk,
  train: async () => {
    const [{ benchTrain }, { benchSdkOverhead, benchSimWorkers }] = await Promise.all([import('../bench/train.js'), import('../bench/sdk-overhead.js')]);
    return async function* (opts) {
      yield* benchTrain(opts);
      yield* benchSdkOverhead(opts);
      yield* benchSimWorkers(opts);
    };
  },
};

export function benchCommand(): Command {
  return new Command('bench')
    .description(`run a benchmark suite: ${Object.keys(SUITES).join(', ')}`)
    .argument('<suite>', `one of ${Object.keys(SUITES).join(', ')}`)
    .option('--json', 'one JSON line per result (the default output format too)')
    .option('--quick', 'a smaller grid for a fast look')
    .option('--clients <list>', 'fleet: comma-separated client counts (default 1000,5000,10000)', (v) => v.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`--clients: '${x}' is not a client count between 1 and 100000`);
      return n;
    }))
    .option('--sealing <suites>', 'fleet: sealing suites, comma-separated: aes (x25519-hkdf-sha256-aes-256-gcm, default), nacl (the deprecated x25519-xsalsa20-poly1305); one configuration each', (v) => v.split(',').map((x) => {
      if (x !== 'aes' && x !== 'nacl') throw new UsageError(`--sealing: '${x}' is not aes or nacl`);
      return x;
    }))
    .option('--params <n>', 'fleet: a synthetic model of n float32 parameters instead of the mlp preset (e.g. 100000)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100_000_000) throw new UsageError(`--params: '${v}' is not a parameter count between 1 and 100000000`);
      return n;
    })
    .option('--chunk-bytes <n>', 'fleet: the node\'s uploads.chunkBytes (default 1048576)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1024 || n > 16 * 1024 * 1024) throw new UsageError(`--chunk-bytes: '${v}' is not a chunk size between 1024 and 16777216`);
      return n;
    })
    .option('--rounds <n>', 'fleet: rounds per configuration (default 1); the line reports the last one (from the second on, each session\'s key record is already verified)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--rounds: '${v}' is not a round count between 1 and 100`);
      return n;
    })
    .option('--timeout <seconds>', 'fleet: how long connecting, and each round, may take (default 600)', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 1 || n > 86_400) throw new UsageError(`--timeout: '${v}' is not a number of seconds between 1 and 86400`);
      return n;
    })
    .option('--nodes <list>', 'fleet: comma-separated node counts, one configuration each (default 1); more than one runs a fleet on Redis (a private redis-server unless --redis)', (v) => v.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new UsageError(`--nodes: '${x}' is not a node count between 1 and 16`);
      return n;
    }))
    .option('--redis <url>', 'fleet: run multi-node configurations on this Redis instead of a private redis-server', (v) => {
      if (!/^rediss?:\/\//.test(v)) throw new UsageError(`--redis must be a redis:// or rediss:// URL; got '${v}'`);
      return v;
    })
    .option('--cohort <sizes>', 'secagg: only these cohort sizes, comma-separated (e.g. 1000)')
    .action(async (suite: string, f: { json?: boolean; quick?: boolean; clients?: number[]; cohort?: string; sealing?: Array<'aes' | 'nacl'>; params?: number; chunkBytes?: number; rounds?: number; timeout?: number; nodes?: number[]; redis?: string }) => {
      const load = SUITES[suite];
      if (!load) throw new UsageError(`unknown suite '${suite}'; choose one of ${Object.keys(SUITES).join(', ')}`);
      let cohorts: number[] | undefined;
      if (f.cohort !== undefined) {
        cohorts = f.cohort.split(',').map((v) => Number(v.trim()));
        if (cohorts.some((v) => !Number.isInteger(v) || v < 3)) throw new UsageError(`--cohort must list integers >= 3, got '${f.cohort}'`);
      }
      const run = await load();
      for await (const line of run({ quick: f.quick === true, ...(f.clients ? { clients: f.clients } : {}), ...(cohorts ? { cohorts } : {}), ...(f.sealing ? { sealing: f.sealing } : {}), ...(f.params ? { params: f.params } : {}), ...(f.chunkBytes ? { chunkBytes: f.chunkBytes } : {}), ...(f.rounds ? { rounds: f.rounds } : {}), ...(f.timeout ? { timeoutMs: f.timeout * 1000 } : {}), ...(f.nodes ? { nodes: f.nodes } : {}), ...(f.redis ? { redisUrl: f.redis } : {}) })) out(JSON.stringify({ suite, ...line }));
    });
}
