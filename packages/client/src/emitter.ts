/**
 * A tiny typed event emitter (the client path must not import node:events). `Events` maps each
 * event name to its payload type: an unknown name or a mismatched handler fails to type-check,
 * and, for plain JavaScript callers, an unknown name throws a TypeError at run time.
 */
export class TypedEmitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  /** `names`: every event name this emitter emits (for the run-time check). */
  constructor(private readonly names: ReadonlySet<keyof Events>) {}

  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void {
    this.check(event, handler);
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (payload: never) => void);
    return () => this.off(event, handler);
  }

  once<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void {
    this.check(event, handler);
    const off = this.on(event, (p) => {
      off();
      handler(p);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): void {
    this.handlers.get(event)?.delete(handler as (payload: never) => void);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) {
      try {
        (h as (p: Events[K]) => void)(payload);
      } catch {
        // A failing app handler must not break the SDK's round handling.
      }
    }
  }

  private check(event: unknown, handler: unknown): void {
    if (!this.names.has(event as keyof Events)) {
      throw new TypeError(`event must be one of ${[...this.names].map(String).join(', ')}; got '${String(event)}'`);
    }
    if (typeof handler !== 'function') throw new TypeError(`handler must be a function; got ${typeof handler}`);
  }
}
