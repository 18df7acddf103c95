import type { Server as IoServer, Socket } from 'socket.io';
import { EVENTS, FlockError, PROTOCOL_VERSION, badMessage, handshakeAuthSchema, type ErrorEnvelope, type FederationDone, type HandshakeAuth, type RoundStart, type Welcome } from '@flock/protocol';
import { fromHex, toHex } from '@flock/privacy';
import type { AuditLog } from '../admin/audit.js';
import type { ClientAuthenticator } from '../auth/authenticator.js';
import type { Logger } from '../logger.js';
import type { ModelStore } from '../model-store.js';
import type { CoordinatorSettings } from '../options.js';
import type { RateLimiter } from '../rate-limit.js';

/** Anonymous clients whose SecAgg identity is remembered; the oldest pin is forgotten beyond this. */
const MAX_SECAGG_PINS = 100_000;

export interface SessionsOptions {
  settings: CoordinatorSettings;
  store: ModelStore;
  auth: ClientAuthenticator;
  /** Extra handshake check; throw a FlockError to refuse the connection. */
  authenticate?: ((auth: HandshakeAuth) => void | Promise<void>) | undefined;
  audit: AuditLog;
  logger: Logger;
  limiter: RateLimiter;
  /** The welcome's coordinatorKey (hex Ed25519) and signed seal-key announcement. */
  coordinatorKey: string;
  sealKey: { publicKey: string; signature: string; suites?: string[]; suitesSignature?: string };
  /** 'client:connect' / 'client:disconnect'. */
  emit(event: 'client:connect' | 'client:disconnect', clientId: string): void;
  /** Attaches the event handlers of a new session (session/events.ts). */
  listen(socket: Socket, clientId: string): void;
  /** A session closed: its upload in flight is dropped. */
  dropped(clientId: string, socketId: string): void;
  /** The round:start to re-send to a client that reconnects mid-round, if any. */
  roundStart(clientId: string): RoundStart | undefined;
  /** The federation:done to send after the welcome when the configured rounds ran already. */
  done(): FederationDone | undefined;
  /** A client connected: whatever waits for the fleet re-checks. */
  wake(): void;
}

/**
 * Client sessions (protocol/v1.md 3): admission (handshake, authentication, rate limits), one
 * live session per identity, the welcome and the identities secure aggregation and sealed
 * uploads are bound to. Per-session state lives on socket.data; no round state lives here.
 */
export class Sessions {
  private readonly clients = new Map<string, Socket>();
  /** Anonymous (--open) clients' SecAgg identity keys, pinned on first use (see trustSecAggIdentity). */
  private readonly secAggPins = new Map<string, string>();
  private io: IoServer | undefined;
  private readonly o: SessionsOptions;

  constructor(options: SessionsOptions) {
    this.o = options;
  }

  /** Installs admission (rate limits, handshake) on `io` and takes its connections. */
  attach(io: IoServer): void {
    this.io = io;
    io.use((socket, next) => {
      // Per address before authentication; per client id only after it (admit below), so a
      // stranger naming a client's id cannot use up that client's reconnection budget.
      const limited = this.o.limiter.checkConnectionAddress(socket.handshake.address);
      if (!limited) return next();
      const e = new Error(limited.message) as Error & { data?: ErrorEnvelope };
      e.data = limited.toEnvelope();
      next(e);
    });
    io.use((socket, next) => {
      this.admit(socket)
        .then(() => {
          const limited = this.o.limiter.checkClientConnection(socket.data.clientId as string);
          if (limited) throw limited;
          next();
        })
        .catch((err: unknown) => {
          const fe = err instanceof FlockError ? err : new FlockError('INTERNAL', 'handshake failed');
          const e = new Error(fe.message) as Error & { data?: ErrorEnvelope };
          e.data = fe.toEnvelope();
          next(e);
        });
    });
    io.on('connection', (socket) => this.connect(socket));
  }

  /** Connected client ids, sorted. */
  /** Whether `clientId` has a live session. */
  connected(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  ids(): string[] {
    return [...this.clients.keys()].sort();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Sends one message to each of `ids` still connected. */
  send(ids: readonly string[], event: string, msg: unknown): void {
    for (const id of ids) this.clients.get(id)?.emit(event, msg);
  }

  /** Closes a client's live session with a typed error (revocation, replacement); false if offline. */
  disconnect(clientId: string, error: FlockError): boolean {
    const socket = this.clients.get(clientId);
    if (!socket) return false;
    this.clients.delete(clientId);
    socket.emit(EVENTS.error, error.toEnvelope());
    socket.disconnect(true);
    return true;
  }

  private async admit(socket: Socket): Promise<void> {
    // The version is checked first, so a future client with another auth shape still learns why.
    const version = (socket.handshake.auth as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
      throw new FlockError('PROTOCOL_VERSION_UNSUPPORTED', `client speaks protocol ${version}; this coordinator speaks ${PROTOCOL_VERSION}`);
    }
    const parsed = handshakeAuthSchema.safeParse(socket.handshake.auth);
    if (!parsed.success) throw badMessage('handshake auth', parsed.error);
    const auth = parsed.data;
    // Authenticate before revealing whether an id is online (auth/authenticator.ts).
    const admission = await this.o.auth.admit(auth, socket.id, socket.handshake.address);
    if (this.o.authenticate) await this.o.authenticate(auth);
    // An authenticated identity takes over its older session (connect); an anonymous
    // id (open mode) proves nothing, so it cannot push a live session out.
    socket.data.authenticated = admission.authenticated;
    // The Ed25519 key this connection proved (token mode): sealed uploads must carry it (sessionIdentity).
    if (admission.authenticated) socket.data.identityKey = auth.publicKey;
    if (this.clients.has(auth.clientId) && !admission.authenticated) {
      throw new FlockError('CLIENT_ID_IN_USE', `client id '${auth.clientId}' already has a live session; close it first`);
    }
    socket.data.clientId = auth.clientId;
  }

  private connect(socket: Socket): void {
    const { auth, audit, logger, settings, store } = this.o;
    const clientId = socket.data.clientId as string;
    const previous = this.clients.get(clientId);
    if (previous && socket.data.authenticated === true) {
      // One live session per identity: the newer, authenticated one replaces the old.
      audit.record({ action: 'session.replaced', actor: `client:${clientId}`, requestId: socket.id, outcome: 'ok', previous: previous.id });
      this.disconnect(clientId, new FlockError('SESSION_REPLACED', 'a newer session of this client identity connected'));
    }
    if (this.clients.has(clientId)) {
      // Two handshakes raced through admit(); keep the first.
      socket.emit(EVENTS.error, new FlockError('CLIENT_ID_IN_USE').toEnvelope());
      socket.disconnect(true);
      return;
    }
    // Revoked while its handshake was in flight (a synchronous registry answers here; an
    // asynchronous one, PostgreSQL, was asked by admit() moments ago).
    const known = socket.data.authenticated === true && !auth.registry.asynchronous ? auth.registry.getIdentity(clientId) : undefined;
    if (known && !(known instanceof Promise) && known.revokedAt) {
      socket.emit(EVENTS.error, new FlockError('CREDENTIAL_REVOKED', 'the operator revoked this client').toEnvelope());
      socket.disconnect(true);
      return;
    }
    this.clients.set(clientId, socket);
    const accessToken = auth.openSession(clientId);
    socket.once('disconnect', () => auth.closeSession(accessToken));
    logger.info({ clientId }, 'client connected');
    this.o.emit('client:connect', clientId);
    socket.on('disconnect', (reason) => {
      this.o.dropped(clientId, socket.id);
      if (this.clients.get(clientId) === socket) this.clients.delete(clientId);
      logger.info({ clientId, reason }, 'client disconnected');
      this.o.emit('client:disconnect', clientId);
    });
    this.o.listen(socket, clientId);
    const latest = store.latest();
    const welcome: Welcome = {
      federationId: settings.federationId,
      protocolVersion: PROTOCOL_VERSION,
      clientId,
      modelVersion: latest.version,
      modelHash: latest.hash,
      modelPath: `/v1/models/${latest.version}`,
      spec: store.spec,
      coordinatorKey: this.o.coordinatorKey,
      accessToken,
      sealKey: this.o.sealKey,
      uploads: { chunkBytes: settings.uploads.chunkBytes, sealRequired: settings.uploads.sealRequired },
    };
    socket.emit(EVENTS.welcome, welcome);
    // Connected after the configured rounds ran: nothing will start, the client may exit.
    const done = this.o.done();
    if (done) socket.emit(EVENTS.federationDone, done);
    // A selected client that lost its connection mid-round gets the round again; its
    // report still counts once (settled clients are not re-sent anything).
    const again = this.o.roundStart(clientId);
    if (again) socket.emit(EVENTS.roundStart, again);
    this.o.wake();
  }

  /**
   * The identity registry for secure aggregation: a client's round keys must be signed by the
   * identity its session authenticated with (token mode: the key bound to its enrollment token,
   * so the operator's tokens are the allow-list). An anonymous session (--open) has none: the first
   * identity key seen for a client id is pinned for the coordinator's lifetime (trust on first
   * use), and a later round signed by another key is refused.
   */
  trustSecAggIdentity(clientId: string, identityKey: Uint8Array): boolean {
    const hex = toHex(identityKey);
    const socket = this.clients.get(clientId);
    const authenticated: unknown = socket?.data.authenticated === true ? socket.data.identityKey : undefined;
    if (typeof authenticated === 'string') return authenticated === hex;
    if (this.o.auth.mode !== 'open') return false; // fail closed: token mode without an identity
    const pinned = this.secAggPins.get(clientId);
    if (pinned !== undefined) return pinned === hex;
    if (this.secAggPins.size >= MAX_SECAGG_PINS) this.secAggPins.delete(this.secAggPins.keys().next().value!);
    this.secAggPins.set(clientId, hex);
    return true;
  }

  /**
   * The identity a session authenticated with, which its sealed uploads' key records must
   * carry (uploads/receiver.ts): the handshake's verified Ed25519 key in token mode, null for
   * an anonymous (open mode) session. Fails closed: in token mode a session without one is refused.
   */
  sessionIdentity(clientId: string, socketId: string): Uint8Array | null {
    const socket = this.io?.sockets.sockets.get(socketId);
    const key: unknown = socket?.data.identityKey;
    if (socket?.data.clientId === clientId && socket.data.authenticated === true && typeof key === 'string' && /^[0-9a-f]{64}$/.test(key)) return fromHex(key);
    if (this.o.auth.mode === 'open' && socket?.data.authenticated !== true) return null;
    throw new FlockError('UNAUTHORIZED', 'this session has no authenticated identity to bind a sealed upload to');
  }
}
