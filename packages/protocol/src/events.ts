/** Event names of protocol v1. Direction: C->S client to coordinator, S->C coordinator to client. */
export const EVENTS = {
  /** S->C, once after connect: federation id, current model. */
  welcome: 'federation:welcome',
  /** S->C: the client is selected for a round (training or evaluation). */
  roundStart: 'round:start',
  /** C->S with ack: a training report (metadata + binary delta). */
  roundUpdate: 'round:update',
  /** C->S with ack: an evaluation report (metrics only). */
  roundEvaluate: 'round:evaluate',
  /** C->S with ack: the client will not report for this round. */
  roundDecline: 'round:decline',
  /** S->C: the round committed a model or was abandoned. */
  roundEnd: 'round:end',
  /** S->C: the configured training rounds are done; no more rounds start (a client may exit). */
  federationDone: 'federation:done',
  /** S->C: a typed error for a message that carried no ack callback. */
  error: 'flock:error',
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
export const CLIENT_EVENTS: readonly string[] = [EVENTS.roundUpdate, EVENTS.roundEvaluate, EVENTS.roundDecline];
