import { Command } from 'commander';
import { runSimulation } from '@flock/sim';
import { err, exitAfterSignal, out, stopSignal } from '../output.js';
import { addSimOptions, simOptionsFrom, type SimFlags } from './sim.js';
import { simulationProgress } from '../progress.js';

/** `npm start`: a small federation on Fashion-MNIST that finishes in about a minute. */
export function demoCommand(): Command {
  return addSimOptions(new Command('demo').description('run a small federation on Fashion-MNIST and print the accuracy and the served model URL'), {
    clients: 5,
    rounds: 5,
    partition: 'iid',
    epochs: 1,
    lr: 0.1,
    workers: 1,
  })
    .option('--serve', 'keep the coordinator serving the model after the last round (Ctrl-C to stop)')
    .action(async (f: SimFlags & { serve?: boolean }) => {
      const stopped = f.serve ? stopSignal() : undefined;
      const progress = simulationProgress(f.rounds, f.quiet === true);
      const result = await runSimulation({ ...simOptionsFrom(f), keepServing: f.serve === true, onProgress: progress.onProgress });
      progress.stop();
      const s = result.summary;
      const modelUrl = `${s.url}/v1/models/${s.modelVersion}/model.json`;
      if (f.json) {
        // The url names a coordinator that is gone once the run ends, unless --serve keeps it.
        const { url, ...rest } = s;
        out(JSON.stringify(f.serve ? { ...rest, url, modelUrl } : rest));
      } else {
        out(`Flock demo: ${s.clients} clients, ${s.rounds} rounds of ${s.strategy} on Fashion-MNIST (${s.partition}, backend ${s.backend})`);
        out(`test accuracy ${s.accuracy.toFixed(4)}, loss ${s.loss.toFixed(4)}, ${s.wallSeconds}s`);
        out(`model v${s.modelVersion} (sha256 ${s.modelHash})`);
        // The coordinator is gone once the run ends unless --serve keeps it: only then is there a URL to give.
        if (!f.serve) out('run `npm start -- --serve` to keep serving the model over HTTP');
      }
      if (result.coordinator) {
        out(`served at ${modelUrl}`);
        err(`flock: serving ${modelUrl}; load it with tf.loadLayersModel('${modelUrl}'). Ctrl-C to stop.`);
        const signal = await stopped;
        await result.coordinator.close();
        exitAfterSignal(signal);
      }
    });
}
