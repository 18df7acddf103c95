import { FlockError, PROTOCOL_VERSION } from '@flock/protocol';
import type { ClientPlatform } from './platform.js';

/** What answered at a coordinator URL. */
export type ProbeResult = { kind: 'coordinator' } | { kind: 'unreachable'; reason: string } | { kind: 'not-a-coordinator'; reason: string };

/**
 * Asks `GET <base>/v1/health` what answers at the coordinator URL. A Flock coordinator answers
 * its status document (`ok`, `federationId`, `protocolVersion`); an HTTP answer of any other
 * shape means another server owns the port (retrying would never help), and a network error
 * means nothing answers yet (retrying may).
 */
export async function probeCoordinator(base: string, platform: ClientPlatform): Promise<ProbeResult> {
  let res;
  try {
    res = await platform.fetch(`${base}/v1/health`, { method: 'GET' });
  } catch (err) {
    return { kind: 'unreachable', reason: err instanceof Error ? err.message : String(err) };
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    // an answer without a readable body is still not a coordinator's
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'not-a-coordinator', reason: `GET /v1/health answered HTTP ${res.status} with a body that is not JSON` };
  }
  const d = doc as { ok?: unknown; federationId?: unknown; protocolVersion?: unknown } | null;
  if (d && typeof d === 'object' && typeof d.federationId === 'string' && typeof d.protocolVersion === 'number') {
    return { kind: 'coordinator' };
  }
  return { kind: 'not-a-coordinator', reason: `GET /v1/health answered HTTP ${res.status} without a Flock status document` };
}

/** The typed error for a URL where some other server answers. */
export function notACoordinator(url: string, reason: string): FlockError {
  return new FlockError('NOT_A_COORDINATOR', `${url} answers, but it is not a Flock coordinator (protocol ${PROTOCOL_VERSION}): ${reason}. Check the URL and the port.`, { url });
}

/** The typed error when no coordinator answered within `giveUpAfterMs`. */
export function unreachable(url: string, giveUpAfterMs: number, reason: string | undefined): FlockError {
  return new FlockError('UNREACHABLE', `no coordinator answered at ${url} within ${Math.round(giveUpAfterMs / 1000)} s${reason ? ` (last error: ${reason})` : ''}. Check that it runs and that the URL, port and firewall are right.`, { url, giveUpAfterMs });
}
