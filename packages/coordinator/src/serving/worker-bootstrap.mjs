// In a checkout the predict worker runs predict-worker.ts: worker threads don't inherit the
// parent's TypeScript loader, so load the repository's source loader (tsx + the "@flock/source"
// export condition), then the entry. Installed from npm, dist/serving/predict-worker.js starts directly.
import { workerData } from 'node:worker_threads';

await import(new URL('../../../../scripts/source-loader.mjs', import.meta.url).href);
await import(workerData.entry);
