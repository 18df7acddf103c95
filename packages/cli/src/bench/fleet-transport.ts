/**
 * `flock bench fleet`, `bench: "fleet-transport"`: the transport floor, measured in the same run.
 * A receiver process that only takes sealed-chunk-sized messages off a transport and acks each
 * (fleet-transport-peer.ts), fed by two sender processes on 127.0.0.1. Its CPU per byte is what
 * any Node coordinator must spend on that transport before opening anything; combined with the
 * ingest path's cost (the `fleet-ingest` line: open + validate + aggregate, no transport) it
 * bounds what a node can reach per CPU second however lean its protocol code:
 *   ceiling = 1 / (1 / receive + 1 / ingest).
 */
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { chunkPlainLength } from '@flock/protocol';
import { SEAL_SUITE_OVERHEAD, type SealSuite } from '@flock/privacy';
import { child, waitForMessage } from './fleet-child.js';
import type { FloorTransport, TransportPeerInit, TransportPeerMessage } from './fleet-transport-peer.js';

export const FLOOR_TRANSPORTS: readonly FloorTransport[] = ['websocket', 'socket.io', 'http'];

export interface TransportFloorOptions {
  numParams: number;
  chunkBytes: number;
  suite: SealSuite;
  /** The ingest path's steady-state figure (sealed MB per CPU second) from the same run, for the ceiling. */
  ingestMBPerCpuSecond?: number;
  /** Messages timed (after 200 warm-up messages); default: about 600 MB worth, at least 500. */
  messages?: number;
}

/** One `fleet-transport` line for `transport`: receive-and-ack only, messages the size of the first sealed chunk of an update. */
export async function runTransportFloor(transport: FloorTransport, o: TransportFloorOptions): Promise<Record<string, unknown>> {
  const messageBytes = chunkPlainLength(o.numParams * 4, o.chunkBytes, 0) + SEAL_SUITE_OVERHEAD[o.suite];
  const messages = o.messages ?? Math.max(500, Math.ceil(600e6 / messageBytes));
  const procs: ChildProcess[] = [];
  try {
    const receiver = child<TransportPeerInit, TransportPeerMessage>('fleet-transport-peer', 4096, { role: 'receiver', transport, messageBytes, warmup: 200, messages }, () => {});
    procs.push(receiver);
    const done = waitForMessage<TransportPeerMessage>(receiver, (m) => m.type === 'done', `the ${transport} receiver's count`, 300_000);
    done.catch(() => undefined); // observed by the race below; a sender's failure may end the line first
    const { url } = (await waitForMessage<TransportPeerMessage>(receiver, (m) => m.type === 'listening', `the ${transport} receiver`, 30_000)) as Extract<TransportPeerMessage, { type: 'listening' }>;
    // Two sender processes (one per core here) of 50 connections each, as the load generators of the fleet lines.
    // A sender that fails (refused, disconnected) ends the line at once instead of leaving the receiver waiting.
    let senderFailed!: (err: Error) => void;
    const failed = new Promise<never>((_, reject) => (senderFailed = reject));
    failed.catch(() => undefined); // also when it comes after the count (the senders are killed then)
    for (let k = 0; k < 2; k++) {
      const s = child<TransportPeerInit, TransportPeerMessage>('fleet-transport-peer', 4096, { role: 'sender', transport, url, messageBytes, connections: 50 }, (m) => {
        if (m.type === 'error') senderFailed(new Error(`fleet bench: a ${transport} sender failed: ${m.message}`));
      });
      procs.push(s);
    }
    const r = (await Promise.race([done, failed])) as Extract<TransportPeerMessage, { type: 'done' }>;
    const mbPerCpu = r.bytes / r.cpuSeconds / 1e6;
    return {
      bench: 'fleet-transport',
      transport,
      what: 'receive and ack only (nothing parsed, opened or aggregated): the floor of a Node coordinator on this transport',
      messageBytes,
      messages: r.messages,
      receivedBytes: r.bytes,
      seconds: round3(r.seconds),
      receiverCpuSeconds: round3(r.cpuSeconds),
      receiverSystemCpuSeconds: round3(r.systemCpuSeconds),
      receivedMBPerCpuSecond: round1(mbPerCpu),
      ...(o.ingestMBPerCpuSecond
        ? {
            ingestMBPerCpuSecond: o.ingestMBPerCpuSecond,
            // Receive on this transport + the ingest path, with every other cost (protocol, round bookkeeping) zero.
            ceilingMBPerNodeCpuSecond: round1(1 / (1 / mbPerCpu + 1 / o.ingestMBPerCpuSecond)),
          }
        : {}),
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const round1 = (x: number): number => Math.round(x * 10) / 10;
