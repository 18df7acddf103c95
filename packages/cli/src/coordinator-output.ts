import cliProgress from 'cli-progress';
import type { Coordinator, Logger, RoundSummary } from '@flock/coordinator';
import { err, out } from './output.js';

// What `flock coordinator` prints: JSON lines (stdout events, stderr logs) for machines, or a
// human terminal view when stdout is a TTY (`--log auto|human|json`).

export type LogMode = 'auto' | 'human' | 'json';
export const LOG_MODES: readonly LogMode[] = ['auto', 'human', 'json'];

/** `auto`: human on a TTY, JSON otherwise. */
export function resolveLogMode(mode: LogMode, isTTY: boolean): 'human' | 'json' {
  if (!LOG_MODES.includes(mode)) throw new RangeError(`--log must be one of ${LOG_MODES.join(', ')}; got '${String(mode)}'`);
  return mode === 'auto' ? (isTTY ? 'human' : 'json') : mode;
}

/** JSON-lines logger on stderr (one object per line; pipe it anywhere). */
export function jsonLogger(): Logger {
  const line = (level: string) => (obj: unknown, msg?: string) => {
    const o = obj instanceof Error ? { err: obj.message } : (obj as Record<string, unknown>);
    const fields = o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Error ? v.message : v])) : { value: o };
    err(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

/** Round phases and progress ticks: the human view shows them as the bar and the round line instead. */
const quiet = (msg: string): boolean => msg === 'round phase' || msg === 'round started' || msg === 'round ended' || /^round \d+: \d+\/\d+ reported/.test(msg);

function fieldText(v: unknown): string {
  if (v instanceof Error) return v.message;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Short log lines on stderr: `12:00:01 warn message key=value ...`. */
export function humanLogger(): Logger {
  const line = (level: string) => (obj: unknown, msg?: string) => {
    if (level === 'info' && msg && quiet(msg)) return;
    const fields = obj && typeof obj === 'object' && !(obj instanceof Error) ? Object.entries(obj as Record<string, unknown>).map(([k, v]) => `${k}=${fieldText(v)}`) : obj === undefined ? [] : [fieldText(obj)];
    err(`${new Date().toISOString().slice(11, 19)} ${level === 'info' ? '' : level + ' '}${msg ?? ''}${fields.length ? ' ' + fields.join(' ') : ''}`);
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

const fmt = (x: number | undefined): string | undefined => (x === undefined ? undefined : x.toFixed(4));

/** One line per round: `round 3 train committed -> v3 | 5/6 reported | accuracy 0.8123 loss 0.5210 | 4.2s`. */
export function formatRoundLine(s: Pick<RoundSummary, 'round' | 'kind' | 'status' | 'modelVersion' | 'selected' | 'reporters' | 'metrics' | 'seconds' | 'reason'>): string {
  const acc = s.metrics.eval_accuracy ?? s.metrics.train_accuracy ?? s.metrics.accuracy;
  const loss = s.metrics.eval_loss ?? s.metrics.train_loss ?? s.metrics.loss;
  const parts = [
    `round ${s.round} ${s.kind} ${s.status}${s.status === 'committed' ? ` -> v${s.modelVersion}` : ''}`,
    `${s.reporters.length}/${s.selected.length} reported`,
    acc !== undefined || loss !== undefined ? [acc !== undefined ? `accuracy ${fmt(acc)}` : '', loss !== undefined ? `loss ${fmt(loss)}` : ''].filter(Boolean).join(' ') : '',
    s.metrics.epsilon !== undefined ? `epsilon ${fmt(s.metrics.epsilon)}` : '',
    `${s.seconds.toFixed(1)}s`,
    s.reason ? `${s.reason.code}: ${s.reason.message}` : '',
  ];
  return parts.filter(Boolean).join(' | ');
}

/**
 * The human view: a progress bar while a round collects (reported / selected, read from the
 * coordinator in this process), then one line per round; serving-version changes and the
 * end of training. Returns a stop function.
 */
export function attachHumanOutput(coordinator: Coordinator, url: string): () => void {
  out(`flock coordinator on ${url}: model v${coordinator.store.latest().version}, ${coordinator.numParams.toLocaleString('en')} parameters, ${coordinator.settings.rounds} rounds, serving policy ${coordinator.settings.serving.policy}`);
  out(`  dashboard ${url}/dashboard  metrics ${url}/metrics  API ${url}/v1/openapi.json`);
  let bar: cliProgress.SingleBar | undefined;
  let barRound = -1;
  const tick = setInterval(() => {
    const a = coordinator.status().activeRound as { round: number; kind: string; selected?: number; reported?: number } | null;
    if (!a) return;
    if (a.round !== barRound) {
      bar?.stop();
      barRound = a.round;
      bar = new cliProgress.SingleBar({ format: `round ${a.round} ${a.kind} {bar} {value}/{total} reported | {seconds}s`, stream: process.stdout, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
      bar.start(Math.max(1, a.selected ?? 1), a.reported ?? 0, { seconds: '0' });
      (bar as unknown as { startedAt: number }).startedAt = Date.now();
    }
    bar?.setTotal(Math.max(1, a.selected ?? 1));
    bar?.update(a.reported ?? 0, { seconds: ((Date.now() - (bar as unknown as { startedAt: number }).startedAt) / 1000).toFixed(0) });
  }, 200);
  tick.unref();
  const onRound = (s: RoundSummary): void => {
    bar?.stop();
    bar = undefined;
    out(formatRoundLine(s));
  };
  const onServing = (e: { action: string; version: number; serving: number; reason: string }): void => {
    if (e.action !== 'initial' && !(e.action === 'promote' && coordinator.settings.serving.policy === 'always')) out(`serving v${e.serving} (${e.action} v${e.version}: ${e.reason})`);
  };
  const onDone = (): void => out(`done: ${coordinator.settings.rounds} training rounds; latest v${coordinator.store.latest().version}, serving v${coordinator.servingVersion} at ${url}/v1/models/serving:predict`);
  coordinator.on('round', onRound);
  coordinator.on('done', onDone);
  coordinator.serving.lifecycle.on('change', onServing);
  return () => {
    clearInterval(tick);
    bar?.stop();
    coordinator.off('round', onRound);
    coordinator.off('done', onDone);
    coordinator.serving.lifecycle.off('change', onServing);
  };
}
