// The test page's Web Worker: the SDK's worker entry, as an app's worker script uses it.
import { serveFlockWorker } from '@flock/client/worker';

serveFlockWorker();
