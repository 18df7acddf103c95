import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a coordinator, for network-fault tests: it can record every
 * byte both ways, pause (hold bytes, connections stay open), cut (reset every connection and
 * refuse new ones) and heal.
 */
export class NetProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private cutOff = false;
  private paused = false;
  /** Bytes client->coordinator and coordinator->client, in arrival order. */
  readonly up: Buffer[] = [];
  readonly down: Buffer[] = [];
  recording = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  static forUrl(url: string): NetProxy {
    const u = new URL(url);
    return new NetProxy({ host: u.hostname, port: Number(u.port) });
  }

  async listen(): Promise<string> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    if (this.cutOff) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const pipe = (from: Socket, to: Socket, log: Buffer[]): void => {
      from.on('data', (d: Buffer) => {
        if (this.recording) log.push(Buffer.from(d));
        if (!to.write(d)) from.pause();
      });
      to.on('drain', () => {
        if (!this.paused) from.resume();
      });
    };
    pipe(client, upstream, this.up);
    pipe(upstream, client, this.down);
    if (this.paused) {
      client.pause();
      upstream.pause();
    }
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  /** Holds all traffic (both ways) without closing anything. */
  pause(): void {
    this.paused = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  resume(): void {
    this.paused = false;
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
  }

  /** Resets every connection (both sides see it at once) and refuses new ones until heal(). */
  cut(): void {
    this.cutOff = true;
    for (const p of [...this.pairs]) {
      p.client.resetAndDestroy();
      p.upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  heal(): void {
    this.cutOff = false;
  }

  /** Everything recorded in both directions. */
  capture(): Buffer {
    return Buffer.concat([...this.up, ...this.down]);
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
