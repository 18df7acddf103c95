import type { Socket } from 'socket.io';
import {
  EVENTS,
  FlockError,
  UPLOAD_EVENTS,
  asBytes,
  badMessage,
  binarySchema,
  declineSchema,
  evaluateReportSchema,
  updateMetaSchema,
  type Ack,
} from '@flock/protocol';
import type { Logger } from '../logger.js';
import type { RateLimiter } from '../rate-limit.js';
import type { RoundMachine, RoundKind } from '../round/machine.js';
import type { UploadHost, UploadReceiver } from '../uploads/receiver.js';

/** The round in progress and the checks of a report against it (round/runner.ts). */
export interface ActiveRounds {
  readonly active: RoundMachine | undefined;
  check(clientId: string, roundId: string, kind: RoundKind): RoundMachine;
}

/** Pulls the trailing ack callback (if any) off socket.io event arguments. */
export function splitAck(args: unknown[]): { args: unknown[]; ack: ((a: Ack) => void) | undefined } {
  const last = args[args.length - 1];
  if (typeof last === 'function') return { args: args.slice(0, -1), ack: last as (a: Ack) => void };
  return { args, ack: undefined };
}

export interface EventRouterOptions {
  limiter: RateLimiter;
  logger: Logger;
  /** The facade's 'rejected' event ({clientId, code, event}). */
  emit(event: 'rejected', payload: { clientId: string; code: string; event: string }): void;
  rounds: ActiveRounds;
  uploads: UploadReceiver;
  /** Counts update payload bytes received. */
  countUp(bytes: number): void;
}

/**
 * Inbound client events (protocol/v1.md 5): rate-limited, parsed once here with zod, routed to
 * the round machine, the upload receiver or the round's secure collector; every outcome is
 * answered through the ack (or a flock:error when the client sent none).
 */
export class EventRouter {
  private readonly o: EventRouterOptions;

  constructor(options: EventRouterOptions) {
    this.o = options;
  }

  /** Handles every event of one session. */
  listen(socket: Socket, clientId: string): void {
    socket.onAny((event: string, ...raw: unknown[]) => {
      const { args, ack } = splitAck(raw);
      const reply = (a: Ack): void => {
        if (ack) ack(a);
        else if (!a.ok) socket.emit(EVENTS.error, a.error);
      };
      const fail = (err: unknown): void => {
        const fe = err instanceof FlockError ? err : new FlockError('INTERNAL');
        if (!(err instanceof FlockError)) this.o.logger.error({ err, clientId, event }, 'handler failed');
        this.o.emit('rejected', { clientId, code: fe.code, event });
        reply({ ok: false, error: fe.toEnvelope() });
      };
      const limited = this.o.limiter.checkEvent(clientId, socket.handshake.address);
      if (limited) {
        this.o.emit('rejected', { clientId, code: limited.code, event });
        reply({ ok: false, error: limited.toEnvelope() });
        return;
      }
      try {
        const result = this.dispatch(clientId, event, args, socket.id);
        if (result instanceof Promise) result.then(reply, fail);
        else reply(result);
      } catch (err) {
        fail(err);
      }
    });
  }

  dispatch(clientId: string, event: string, args: unknown[], socketId = ''): Ack | Promise<Ack> {
    if (event.startsWith('secagg:')) {
      const r = this.o.rounds.active;
      if (!r?.secure || !r.cohort.has(clientId)) {
        throw new FlockError('ROUND_NOT_ACTIVE', 'no secure-aggregation round is active for this client');
      }
      return r.secure.handle(clientId, event, args);
    }
    switch (event) {
      case EVENTS.roundUpdate:
        return this.onUpdate(clientId, args);
      case UPLOAD_EVENTS.begin:
        return this.o.uploads.begin(clientId, socketId, args);
      case UPLOAD_EVENTS.chunk:
        return this.o.uploads.chunk(clientId, args);
      case EVENTS.roundEvaluate:
        return this.onEvaluate(clientId, args);
      case EVENTS.roundDecline:
        return this.onDecline(clientId, args);
      default:
        throw new FlockError('UNKNOWN_EVENT', `unknown event '${String(event).slice(0, 64)}'; see protocol/v1.md`);
    }
  }

  private onUpdate(clientId: string, args: unknown[]): Ack | Promise<Ack> {
    const meta = updateMetaSchema.safeParse(args[0]);
    if (!meta.success) throw badMessage(EVENTS.roundUpdate, meta.error);
    const payload = binarySchema.safeParse(args[1]);
    if (!payload.success || args.length !== 2) {
      throw new FlockError('BAD_MESSAGE', `${EVENTS.roundUpdate} takes (meta, binary delta) and an ack; got ${args.length} arguments`);
    }
    const bytes = asBytes(payload.data);
    this.o.countUp(bytes.byteLength);
    const counted = this.o.rounds.check(clientId, meta.data.roundId, 'train').update(clientId, meta.data, bytes);
    return counted instanceof Promise ? counted.then(() => ({ ok: true })) : { ok: true };
  }

  private onEvaluate(clientId: string, args: unknown[]): Ack {
    const report = evaluateReportSchema.safeParse(args[0]);
    if (!report.success || args.length !== 1) {
      throw report.success ? new FlockError('BAD_MESSAGE', `${EVENTS.roundEvaluate} takes one object and an ack`) : badMessage(EVENTS.roundEvaluate, report.error);
    }
    this.o.rounds.check(clientId, report.data.roundId, 'evaluate').evaluate(clientId, report.data);
    return { ok: true };
  }

  private onDecline(clientId: string, args: unknown[]): Ack {
    const d = declineSchema.safeParse(args[0]);
    if (!d.success) throw badMessage(EVENTS.roundDecline, d.error);
    const r = this.o.rounds.active;
    if (r && r.roundId === d.data.roundId && r.decline(clientId)) {
      this.o.logger.info({ clientId, round: r.round, reason: d.data.reason }, 'client declined');
    }
    return { ok: true };
  }
}

/** Routes a chunked upload's round checks, result and rejection to the round machine. */
export function uploadHost(rounds: ActiveRounds, sessionIdentity: UploadHost['sessionIdentity'], countUp: (bytes: number) => void): UploadHost {
  return {
    admit: (clientId, meta) => void rounds.check(clientId, meta.roundId, 'train').admitUpload(clientId, meta),
    sessionIdentity,
    // The last chunk arrived: the round is checked again (the deadline may have passed).
    accept: (clientId, meta, delta, firstNonFinite) => {
      const r = rounds.check(clientId, meta.roundId, 'train');
      r.admitUpload(clientId, meta);
      return r.acceptUpload(clientId, meta, delta, firstNonFinite);
    },
    reject: (clientId, err) => {
      const r = rounds.active;
      if (r && r.awaits(clientId)) r.reject(clientId, err);
      throw err;
    },
    countBytes: countUp,
  };
}
