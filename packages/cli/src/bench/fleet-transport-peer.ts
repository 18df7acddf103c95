/**
 * One side of `flock bench fleet`'s transport floor (`bench: "fleet-transport"`): a receiver that
 * only takes messages off the wire and acknowledges each, or a sender process of `connections`
 * connections, each sending one message and waiting for its ack before the next (as the SDK's
 * chunked upload does). Nothing is parsed, opened or aggregated: the receiver's CPU per byte is
 * the least any coordinator on that transport, in Node, on this machine, can spend.
 */
import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomFillSync } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import { Server as IoServer } from 'socket.io';
import { io } from 'socket.io-client';

/** websocket: the `ws` library alone (what socket.io runs on); socket.io: a binary event with a small header and an ack, the shape of `round:chunk`; http: one POST body per message, keep-alive. */
export type FloorTransport = 'websocket' | 'socket.io' | 'http';

export type TransportPeerInit =
  | { role: 'receiver'; transport: FloorTransport; messageBytes: number; warmup: number; messages: number }
  | { role: 'sender'; transport: FloorTransport; url: string; messageBytes: number; connections: number };

export type TransportPeerMessage =
  | { type: 'listening'; url: string }
  | { type: 'done'; messages: number; bytes: number; seconds: number; cpuSeconds: number; systemCpuSeconds: number }
  | { type: 'error'; message: string };

const ACK = '{"ok":true}';

function send(m: TransportPeerMessage): void {
  process.send!(m);
}

function receiver(init: Extract<TransportPeerInit, { role: 'receiver' }>): void {
  let seen = 0;
  let bytes = 0;
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  // Counted from message `warmup` on (connections up, code optimised), for `messages` messages.
  const onMessage = (n: number): void => {
    if (seen === init.warmup) {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    if (seen >= init.warmup) bytes += n;
    seen++;
    if (seen === init.warmup + init.messages) {
      const cpu = process.cpuUsage(cpu0);
      send({ type: 'done', messages: init.messages, bytes, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, systemCpuSeconds: cpu.system / 1e6 });
    }
  };
  const maxPayload = init.messageBytes + 4096;
  const http = createServer();
  if (init.transport === 'websocket') {
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload });
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => {
      onMessage(data.byteLength);
      ws.send(ACK);
    }));
  } else if (init.transport === 'socket.io') {
    const ioServer = new IoServer(http, { maxHttpBufferSize: maxPayload, serveClient: false, transports: ['websocket'] });
    ioServer.on('connection', (socket) => socket.on('m', (_head: unknown, body: Buffer, ack: (r: unknown) => void) => {
      onMessage(body.byteLength);
      ack({ ok: true });
    }));
  } else {
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.byteLength));
      req.on('end', () => {
        onMessage(n);
        res.writeHead(200, { 'content-type': 'application/json' }).end(ACK);
      });
    });
  }
  http.listen(0, '127.0.0.1', () => send({ type: 'listening', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }));
}

function sender(init: Extract<TransportPeerInit, { role: 'sender' }>): void {
  // Random bytes, as a sealed chunk is: nothing on the path can compress or shortcut them.
  const body = randomFillSync(Buffer.alloc(init.messageBytes));
  const fail = (err: unknown): void => send({ type: 'error', message: String((err as Error)?.message ?? err) });
  for (let c = 0; c < init.connections; c++) {
    if (init.transport === 'websocket') {
      const ws = new WebSocket(init.url.replace('http:', 'ws:'), { perMessageDeflate: false });
      ws.on('open', () => ws.send(body));
      ws.on('message', () => ws.send(body));
      ws.on('error', fail);
    } else if (init.transport === 'socket.io') {
      const socket = io(init.url, { transports: ['websocket'], reconnection: false });
      let index = 0;
      const next = (): void => void socket.emitWithAck('m', { index: index++ }, body).then(next, fail);
      socket.on('connect', next);
      socket.on('connect_error', fail);
    } else {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const next = (): void => {
        const req = request(`${init.url}/upload`, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': body.byteLength } }, (res) => {
          res.resume();
          res.on('end', next);
        });
        req.on('error', fail);
        req.end(body);
      };
      next();
    }
  }
}

process.once('message', (init: TransportPeerInit) => {
  try {
    if (init.role === 'receiver') receiver(init);
    else sender(init);
  } catch (err) {
    send({ type: 'error', message: String((err as Error)?.message ?? err) });
  }
});
