import * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';
import { EVENTS, PROTOCOL_VERSION, type Ack, type RoundStart, type Welcome } from '@flock/protocol';
import { Coordinator, type CoordinatorSettingsInput, type RoundSummary } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { loadFashionMnist, toTensors } from '@flock/sim';

/** Real Fashion-MNIST (the shipped subset on a fresh clone), sliced per client. */
export async function fashionSlices(numClients: number, perClient: number): Promise<Array<{ x: tf.Tensor4D; y: tf.Tensor2D }>> {
  const train = await loadFashionMnist({ split: 'train', limit: numClients * perClient });
  return Array.from({ length: numClients }, (_, c) => {
    const idx = Array.from({ length: perClient }, (_, i) => c * perClient + i);
    return toTensors(train.images, train.labels, idx);
  });
}

export async function startCoordinator(settings: CoordinatorSettingsInput, seed = 1): Promise<{ coordinator: Coordinator; url: string }> {
  await selectBackend('auto');
  const m = createPresetModel('mlp', { seed });
  const flat = await flatModelOf(m);
  m.dispose();
  // Tests of rounds run open; test/auth.test.ts covers authentication.
  const coordinator = new Coordinator({ model: flat, settings: { auth: 'open', ...settings } });
  const url = await coordinator.listen(0, '127.0.0.1');
  return { coordinator, url };
}

export function nextRound(coordinator: Coordinator): Promise<RoundSummary> {
  return new Promise((resolve) => coordinator.once('round', resolve));
}

/** A hand-driven protocol peer (no SDK): sends exactly what a test tells it to. */
export class RawPeer {
  readonly socket: Socket;
  readonly starts: RoundStart[] = [];
  readonly errors: unknown[] = [];
  welcome: Welcome | undefined;

  constructor(url: string, clientId: string, auth: Record<string, unknown> = {}) {
    this.socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientId, ...auth }, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on(EVENTS.roundStart, (s: RoundStart) => this.starts.push(s));
    this.socket.on(EVENTS.welcome, (w: Welcome) => (this.welcome = w));
    this.socket.on(EVENTS.error, (e: unknown) => this.errors.push(e));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.welcome) return resolve();
      this.socket.once(EVENTS.welcome, () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  nextStart(): Promise<RoundStart> {
    return new Promise((resolve) => this.socket.once(EVENTS.roundStart, resolve));
  }

  emitAck(event: string, ...args: unknown[]): Promise<Ack> {
    return this.socket.timeout(10_000).emitWithAck(event, ...args) as Promise<Ack>;
  }

  close(): void {
    this.socket.disconnect();
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
