/**
 * Giving the event loop a turn during training without requestAnimationFrame. tfjs' fit yields
 * with tf.nextFrame, which is requestAnimationFrame in a page: a hidden tab gets no frames, so
 * its training (and the round's report) would wait until the tab is shown again. A
 * MessageChannel message is a task browsers run in background tabs too, without the clamping
 * of setTimeout (>= 1 s in hidden tabs); Node and other runtimes use setImmediate / setTimeout.
 */

type Scheduler = (resolve: () => void) => void;

function pick(): Scheduler {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel; document?: unknown; WorkerGlobalScope?: unknown };
  // Node, Bun: setImmediate runs after pending I/O, like a browser task.
  if (typeof g.setImmediate === 'function') return (resolve) => void g.setImmediate!(resolve);
  if (typeof g.MessageChannel === 'function') {
    const channel = new g.MessageChannel();
    const waiting: Array<() => void> = [];
    channel.port1.onmessage = () => waiting.shift()?.();
    return (resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(0);
    };
  }
  return (resolve) => void setTimeout(resolve, 0);
}

let scheduler: Scheduler | undefined;

/** Resolves after one macrotask: sockets, timers and the page stay responsive; never waits for a frame. */
export function yieldToEventLoop(): Promise<void> {
  scheduler ??= pick();
  return new Promise<void>((resolve) => scheduler!(resolve));
}

/**
 * Callback config for model.fit / fitDataset that replaces tfjs' frame-based yield (every
 * `yieldEvery` ms, tfjs' 'auto' default of 125 ms) with yieldToEventLoop.
 */
export function backgroundSafeCallbacks(): { nextFrameFunc: () => Promise<void> } {
  return { nextFrameFunc: yieldToEventLoop };
}
