import type { Sqlite } from './sqlite.js';

/**
 * Upload idempotency keys (round id, client id): the first upload of a client in a round
 * claims its key; a re-sent one (the ack was lost, the client retried) finds it taken and is
 * answered DUPLICATE_UPDATE instead of being counted again.
 */
export class UploadKeys {
  constructor(private readonly db: Sqlite) {}

  /** True if this is the first upload of `clientId` in `roundId` (the key is now taken). */
  claim(roundId: string, clientId: string, at = new Date().toISOString()): boolean {
    if (typeof roundId !== 'string' || roundId.length === 0) throw new TypeError('roundId must be a non-empty string');
    if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('clientId must be a non-empty string');
    return this.db.prepare('INSERT OR IGNORE INTO uploads (round_id, client_id, received_at) VALUES (?, ?, ?)').run(roundId, clientId, at).changes === 1;
  }

  has(roundId: string, clientId: string): boolean {
    return this.db.prepare('SELECT 1 FROM uploads WHERE round_id = ? AND client_id = ?').get(roundId, clientId) !== undefined;
  }

  count(roundId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM uploads WHERE round_id = ?').get(roundId) as { n: number }).n;
  }
}
