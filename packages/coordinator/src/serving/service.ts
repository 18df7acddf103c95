import { EventEmitter } from 'node:events';
import type { ModelStore } from '../model-store.js';
import type { AuditLog } from '../admin/audit.js';
import type { Logger } from '../logger.js';
import type { FederationStore } from '../store/types.js';
import { MemoryServingEvents, ServingLifecycle, type ServingEvent } from './lifecycle.js';
import { Predictor } from './predictor.js';
import type { ServingSettings } from './settings.js';

/** A held-out labelled set the operator provides (`--eval-data`): row-major inputs and class labels. */
export interface EvalData {
  x: Float32Array;
  labels: Int32Array;
}

/** What GET /v1/admin/serving answers. */
export interface ServingStatus {
  policy: ServingSettings['policy'];
  metric: string;
  tolerance: number;
  serving: number;
  latest: number;
  rollbackStack: number[];
  events: ServingEvent[];
}

/**
 * Model serving as a whole: the inference worker (predictor.ts), the serving version
 * (lifecycle.ts) and the optional server-side evaluation of every committed version on a
 * held-out set, recorded in the version's metrics as `server_accuracy` and `server_loss`.
 *
 * Events: 'evaluated' (version), after a server-side evaluation was recorded.
 */
export class ServingService extends EventEmitter {
  readonly predictor: Predictor;
  readonly lifecycle: ServingLifecycle;
  private evaluations = Promise.resolve();
  private started = false;
  private following: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: { store: ModelStore; settings: ServingSettings; audit: AuditLog; database: FederationStore | undefined; logger: Logger; evalData?: EvalData | undefined },
  ) {
    super();
    this.predictor = new Predictor({ topology: o.store.topology, spec: o.store.spec, backend: o.settings.backend, maxBatch: o.settings.maxBatch, batchWaitMs: o.settings.batchWaitMs });
    this.lifecycle = new ServingLifecycle({ store: o.store, log: o.database?.serving ?? new MemoryServingEvents(), settings: o.settings, audit: o.audit });
  }

  get serving(): number {
    return this.lifecycle.serving;
  }

  /** Evaluates the serving version once at start if it has no server-side metrics yet (the evaluated policy's baseline). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const v = this.o.store.get(this.serving);
    if (this.o.evalData && v && v.metrics.server_accuracy === undefined) this.evaluate(v.version);
  }

  /** A training round committed `version`: evaluate it (if there is a held-out set), then apply the policy. */
  committed(version: number): void {
    this.lifecycle.committed(version);
    if (this.o.evalData) this.evaluate(version);
  }

  /** A federated evaluation round annotated `version`. */
  evaluatedFederated(version: number): void {
    this.lifecycle.evaluated(version);
  }

  /** Runs the held-out evaluation of `version` in the worker (queued one after another); resolves when recorded. */
  evaluate(version: number): Promise<void> {
    const data = this.o.evalData;
    if (!data) return Promise.resolve();
    this.evaluations = this.evaluations.then(async () => {
      const v = this.o.store.get(version);
      if (!v) return;
      try {
        const r = await this.predictor.evaluate(v, data.x, data.labels);
        this.o.store.annotate(version, { server_accuracy: r.accuracy, server_loss: r.loss });
        this.o.logger.info({ modelVersion: version, server_accuracy: r.accuracy, server_loss: r.loss, examples: data.labels.length }, 'server-side evaluation');
        this.emit('evaluated', version);
        this.lifecycle.evaluated(version);
      } catch (err) {
        this.o.logger.warn({ err, modelVersion: version }, 'server-side evaluation failed');
      }
    });
    return this.evaluations;
  }

  /** Resolves when every queued server-side evaluation has finished. */
  settled(): Promise<void> {
    return this.evaluations;
  }

  status(): ServingStatus {
    const s = this.o.settings;
    return { policy: s.policy, metric: s.metric, tolerance: s.tolerance, serving: this.serving, latest: this.o.store.latest().version, rollbackStack: this.lifecycle.rollbackStack, events: this.lifecycle.recent(50) };
  }

  /**
   * Fleet nodes on one database: every `intervalMs`, adopt the serving changes other nodes
   * appended (an operator's promote or rollback on any node is served by all within about that).
   */
  followSharedLog(intervalMs: number): void {
    if (this.following) return;
    let busy = false;
    this.following = setInterval(() => {
      if (busy) return;
      busy = true;
      this.lifecycle
        .follow()
        .then((changed) => changed && this.o.logger.info({ serving: this.serving }, 'serving version changed by another node of the fleet'))
        .catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'cannot read the fleet\'s serving changes; retrying'))
        .finally(() => (busy = false));
    }, intervalMs);
    this.following.unref();
  }

  async close(): Promise<void> {
    if (this.following) clearInterval(this.following);
    await this.evaluations.catch(() => undefined);
    await this.predictor.close();
  }
}
