import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RoundSummary } from '../round/commit.js';

/** What the metrics read from the running coordinator (coordinator.ts wires it). */
export interface MetricsSource {
  clientsConnected(): number;
  traffic: { up: number; down: number };
  servingVersion(): number;
  latestVersion(): number;
  /** Federation epsilon at the configured delta (differential privacy), if any. */
  epsilon?(): number;
  /** Largest per-client epsilon of the privacy ledger, if any. */
  maxClientEpsilon?(): number;
}

const DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];
const PREDICT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The coordinator's Prometheus metrics (prom-client), in two registries: `open` holds what the
 * public endpoints already publish (round outcomes and durations, clients online, model
 * versions, epsilon, inference, process metrics); `cohort` holds per-round participation
 * figures (selected, reported, rejects, bytes up and down, SecAgg dropouts and stage timings,
 * per-client epsilon). Under confidential rounds (differential privacy) only the operator
 * token sees `cohort` (confidential.ts): those figures would tell who took part.
 */
export class CoordinatorMetrics {
  readonly open = new Registry();
  readonly cohort = new Registry();
  private readonly rounds: Counter<'kind' | 'status'>;
  private readonly roundSeconds: Histogram<'kind'>;
  private readonly selected: Counter;
  private readonly reported: Counter;
  private readonly lastSelected: Gauge;
  private readonly lastReported: Gauge;
  private readonly rejects: Counter<'code'>;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly dropouts: Counter<'stage'>;
  private readonly predictSeconds: Histogram<'target'>;
  private readonly predictRequests: Counter<'target' | 'status' | 'code'>;
  private readonly predictRows: Counter<'target'>;

  constructor(src: MetricsSource) {
    const open = [this.open];
    const cohort = [this.cohort];
    this.rounds = new Counter({ name: 'flock_rounds_total', help: 'Finished rounds by kind and status (committed, abandoned, completed).', labelNames: ['kind', 'status'], registers: open });
    this.roundSeconds = new Histogram({ name: 'flock_round_duration_seconds', help: 'Round duration from start to end.', labelNames: ['kind'], buckets: DURATION_BUCKETS, registers: open });
    new Gauge({ name: 'flock_clients_connected', help: 'Clients with a live session.', registers: open, collect() { this.set(src.clientsConnected()); } });
    new Gauge({ name: 'flock_model_serving_version', help: 'The model version /v1/models/serving names.', registers: open, collect() { this.set(src.servingVersion()); } });
    new Gauge({ name: 'flock_model_latest_version', help: 'The latest committed model version.', registers: open, collect() { this.set(src.latestVersion()); } });
    if (src.epsilon) {
      const eps = src.epsilon.bind(src);
      new Gauge({ name: 'flock_dp_epsilon_spent', help: 'Differential privacy: the federation epsilon spent so far (at the configured delta).', registers: open, collect() { this.set(eps()); } });
    }
    this.predictSeconds = new Histogram({ name: 'flock_predict_duration_seconds', help: 'Predict request latency (validation, queueing, inference).', labelNames: ['target'], buckets: PREDICT_BUCKETS, registers: open });
    this.predictRequests = new Counter({ name: 'flock_predict_requests_total', help: 'Predict requests by target (latest, serving, version), HTTP status and error code.', labelNames: ['target', 'status', 'code'], registers: open });
    this.predictRows = new Counter({ name: 'flock_predict_instances_total', help: 'Instances predicted.', labelNames: ['target'], registers: open });
    collectDefaultMetrics({ register: this.open });

    this.selected = new Counter({ name: 'flock_clients_selected_total', help: 'Cohort members selected, summed over rounds.', registers: cohort });
    this.reported = new Counter({ name: 'flock_clients_reported_total', help: 'Accepted reports, summed over rounds.', registers: cohort });
    this.lastSelected = new Gauge({ name: 'flock_round_clients_selected', help: 'Cohort size of the last finished round.', registers: cohort });
    this.lastReported = new Gauge({ name: 'flock_round_clients_reported', help: 'Reports accepted in the last finished round.', registers: cohort });
    this.rejects = new Counter({ name: 'flock_rejects_total', help: 'Client messages refused, by error code.', labelNames: ['code'], registers: cohort });
    let down = 0;
    // Downloads during a round count its cohort (confidential.ts lists bytesDown with the counts).
    new Counter({ name: 'flock_bytes_down_total', help: 'Model weight bytes served over HTTP.', registers: cohort, collect() { this.inc(src.traffic.down - down); down = src.traffic.down; } });
    let up = 0;
    new Counter({ name: 'flock_bytes_up_total', help: 'Update payload bytes received.', registers: cohort, collect() { this.inc(src.traffic.up - up); up = src.traffic.up; } });
    this.stageSeconds = new Histogram({ name: 'flock_secagg_stage_duration_seconds', help: 'Secure aggregation: time each stage waited for its members.', labelNames: ['stage'], buckets: DURATION_BUCKETS, registers: cohort });
    this.dropouts = new Counter({ name: 'flock_secagg_dropouts_total', help: 'Secure aggregation: members that did not answer a stage.', labelNames: ['stage'], registers: cohort });
    if (src.maxClientEpsilon) {
      const max = src.maxClientEpsilon.bind(src);
      new Gauge({ name: 'flock_dp_client_epsilon_max', help: 'Differential privacy: the largest epsilon any one client has spent.', registers: cohort, collect() { this.set(max()); } });
    }
  }

  round(s: RoundSummary): void {
    this.rounds.inc({ kind: s.kind, status: s.status });
    this.roundSeconds.observe({ kind: s.kind }, s.seconds);
    this.selected.inc(s.selected.length);
    this.reported.inc(s.reporters.length);
    this.lastSelected.set(s.selected.length);
    this.lastReported.set(s.reporters.length);
  }

  rejected(code: string): void {
    this.rejects.inc({ code });
  }

  secagg(stages: ReadonlyArray<{ stage: string; seconds: number; expected: number; received: number }>): void {
    for (const st of stages) {
      this.stageSeconds.observe({ stage: st.stage }, st.seconds);
      this.dropouts.inc({ stage: st.stage }, Math.max(0, st.expected - st.received));
    }
  }

  predict(o: { target: string; status: number; code?: string; seconds: number; rows: number }): void {
    this.predictSeconds.observe({ target: o.target }, o.seconds);
    this.predictRequests.inc({ target: o.target, status: String(o.status), code: o.code ?? '' });
    if (o.status === 200) this.predictRows.inc({ target: o.target }, o.rows);
  }

  /** The exposition text; `cohort` adds the participation figures. */
  async text(withCohort: boolean): Promise<string> {
    const open = await this.open.metrics();
    return withCohort ? open + (await this.cohort.metrics()) : open;
  }

  get contentType(): string {
    return this.open.contentType;
  }
}
