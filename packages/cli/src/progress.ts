import cliProgress from 'cli-progress';
import type { SimulationEvent } from '@flock/sim';
import { err } from './output.js';

/** Per-round progress: a bar on a TTY, one plain line per round otherwise. */
export function simulationProgress(rounds: number, quiet: boolean): { onProgress: (e: SimulationEvent) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true && !quiet;
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress(e) {
      if (quiet) return;
      if (e.type === 'setup') {
        err(`flock: backend ${e.backend}; data ${e.dataSource} (${e.trainExamples} train / ${e.testExamples} test); coordinator ${e.url}`);
        if (tty) {
          bar = new cliProgress.SingleBar(
            { format: 'rounds {bar} {value}/{total} | accuracy {accuracy} | loss {loss} | {participants} clients | {seconds}s/round', stream: process.stderr, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(rounds, 0, { accuracy: '-', loss: '-', participants: 0, seconds: '-' });
        }
      } else if (bar) {
        bar.update(e.round, { accuracy: e.accuracy.toFixed(4), loss: e.loss.toFixed(4), participants: e.participants, seconds: e.seconds.toFixed(1) });
      } else {
        err(`round ${e.round}/${e.rounds}: accuracy ${e.accuracy.toFixed(4)} loss ${e.loss.toFixed(4)} clients ${e.participants} ${e.seconds.toFixed(1)}s`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
