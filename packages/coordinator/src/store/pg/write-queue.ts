/**
 * Writes that synchronous interfaces (ModelStore.annotate, ServingEventLog.append) start on an
 * asynchronous store: run one after another in order; the first failure is kept and reported
 * by {@link flush} (and to `onError` at once). The store flushes before it closes.
 */
export class WriteQueue {
  private tail: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;

  constructor(private readonly onError?: (err: unknown) => void) {}

  push(write: () => Promise<unknown>): void {
    this.tail = this.tail.then(write).then(
      () => undefined,
      (err: unknown) => {
        this.failure ??= { err };
        this.onError?.(err);
      },
    );
  }

  /** Resolves when every write queued so far is done (a failure is left for {@link flush} to report). */
  idle(): Promise<void> {
    return this.tail;
  }

  /** Resolves when every queued write is done; rejects with the first failure since the last flush. */
  async flush(): Promise<void> {
    await this.tail;
    const f = this.failure;
    this.failure = undefined;
    if (f) throw f.err;
  }
}
