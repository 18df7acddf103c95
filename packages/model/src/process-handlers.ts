/**
 * tfjs-backend-wasm's emscripten glue, when it instantiates in Node, adds two process listeners:
 * `uncaughtException` -> `throw ex` and `unhandledRejection` -> `throw reason` (tfjs removes them
 * only when the backend is disposed). With them in place every later uncaught error is rethrown
 * from inside the glue, and Node prints the glue's throwing line first: tens of kilobytes of
 * minified JavaScript above the app's own error. They add nothing else (rethrowing is what Node
 * does without them), so @flock/model removes exactly those two as soon as they are added.
 *
 * Recognised by their source and their order (the unhandledRejection one is added right after
 * the uncaughtException one); any other listener is left alone. No-op outside Node.
 */

const INSTALLED = Symbol.for('flock.model.emscripten-process-handlers');
const EMSCRIPTEN_UNCAUGHT = /^function\s*\(\s*ex\s*\)\s*\{\s*if\s*\(\s*!\s*\(\s*ex instanceof ExitStatus\s*\)\s*\)\s*\{\s*throw ex;?\s*\}\s*\}$/;
const EMSCRIPTEN_UNHANDLED = /^function\s*\(\s*reason\s*\)\s*\{\s*throw reason;?\s*\}$/;

type Listener = (...args: unknown[]) => void;
interface ProcessLike {
  on(event: 'newListener', listener: (event: string | symbol, listener: Listener) => void): unknown;
  removeListener(event: 'uncaughtException' | 'unhandledRejection', listener: Listener): unknown;
}

/** Installs the watcher once per process (idempotent, also across copies of this package). */
export function stripEmscriptenProcessHandlers(): void {
  const proc = (globalThis as unknown as { process?: ProcessLike & Record<symbol, unknown> }).process;
  if (!proc || typeof proc.on !== 'function' || proc[INSTALLED]) return;
  proc[INSTALLED] = true;
  let uncaught: Listener | undefined;
  proc.on('newListener', (event, listener) => {
    if (typeof listener !== 'function') return;
    const source = Function.prototype.toString.call(listener);
    if (event === 'uncaughtException' && EMSCRIPTEN_UNCAUGHT.test(source)) {
      // 'newListener' fires before the listener is added: remove it when the glue adds its second
      // listener (synchronously after this one), or on the next microtask at the latest.
      uncaught = listener;
      queueMicrotask(() => proc.removeListener('uncaughtException', listener));
    } else if (event === 'unhandledRejection' && uncaught !== undefined && EMSCRIPTEN_UNHANDLED.test(source)) {
      // Synchronously: an error already waiting in the microtask queue (an app that created a
      // tensor before the backend was ready) must not reach the glue's rethrowing listener.
      proc.removeListener('uncaughtException', uncaught);
      uncaught = undefined;
      // Unhandled rejections are processed after the microtask queue drains: this is early enough.
      queueMicrotask(() => proc.removeListener('unhandledRejection', listener));
    }
  });
}
