import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileAuditLog, MemoryClientRegistry, type AuditLog, type ClientRegistry } from '@flock/coordinator';
import { fromHex, generateIdentityKeyPair, toHex, type IdentityKeyPair } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { err, UsageError } from './output.js';

/** Default directory for a coordinator's durable files (database, operator token, audit log). */
export const DEFAULT_DATA_DIR = 'flock-data';

export function ensureDataDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The data directory a command uses: its --data-dir flag, else $FLOCK_HOME, else ./flock-data. */
export function resolveDataDir(flag: string | undefined): string {
  return flag ?? (process.env.FLOCK_HOME || DEFAULT_DATA_DIR);
}

/** Creates a secret file (mode 0600 whatever the umask); refuses to overwrite an existing one. */
function writePrivateFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/** An Ed25519 key pair from its 128-hex tweetnacl secret key (seed | public key); undefined if malformed. */
function keyPairFromSecretHex(hex: unknown): IdentityKeyPair | undefined {
  if (typeof hex !== 'string' || !/^[0-9a-f]{128}$/.test(hex)) return undefined;
  const secretKey = fromHex(hex);
  return { publicKey: secretKey.slice(32), secretKey };
}

/**
 * The operator token: read from `file` if given, else `<dataDir>/operator-token` (created
 * with 32 random bytes, mode 0600, on first start; kept across restarts).
 */
export function loadOperatorToken(file: string | undefined, dataDir: string): { token: string; file: string; created: boolean } {
  if (file) {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--operator-token-file ${file}: ${(e as Error).message}`);
    }
    if (token.length < 16) throw new UsageError(`--operator-token-file ${file}: the token must be at least 16 characters`);
    return { token, file, created: false };
  }
  const f = path.join(ensureDataDir(dataDir), 'operator-token');
  if (existsSync(f)) return { token: readFileSync(f, 'utf8').trim(), file: f, created: false };
  const token = `flkop_${randomBytes(32).toString('base64url')}`;
  writePrivateFile(f, token + '\n');
  return { token, file: f, created: true };
}

export function openAuditLog(file: string | undefined, dataDir: string): AuditLog & { file: string } {
  const f = file ?? path.join(ensureDataDir(dataDir), 'audit.log');
  const log = new FileAuditLog(f);
  return Object.assign(log, { file: f });
}

/**
 * The coordinator's long-term Ed25519 signing key (privacy receipts, and the sealing key derived
 * from it), kept next to the database (mode 0600) so clients that trust it on first use keep
 * trusting the coordinator across restarts. An in-memory database gets a fresh key per run.
 */
export function loadOrCreateSigningKey(db: string): { key: IdentityKeyPair; file: string | undefined; created: boolean } {
  if (db === ':memory:') return { key: generateIdentityKeyPair(nodePlatform), file: undefined, created: true };
  const file = path.join(path.dirname(path.resolve(db)), 'coordinator-key.json');
  if (existsSync(file)) {
    let parsed: { publicKey?: unknown; secretKey?: unknown };
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
    } catch (e) {
      throw new UsageError(`${file}: not a coordinator key file (${(e as Error).message}); move it away to start with a new key`);
    }
    const key = keyPairFromSecretHex(parsed.secretKey);
    if (!key) throw new UsageError(`${file}: expected {"publicKey": 64 hex, "secretKey": 128 hex}; move it away to start with a new key`);
    if (parsed.publicKey !== toHex(key.publicKey)) throw new UsageError(`${file}: the public key does not belong to the secret key`);
    return { key, file, created: false };
  }
  const key = generateIdentityKeyPair(nodePlatform);
  writePrivateFile(file, JSON.stringify({ publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }) + '\n');
  return { key, file, created: true };
}

/**
 * The client registry of a coordinator: its PostgreSQL database (`postgres`, a URL), or the
 * SQLite database (`--db`, or `<data-dir>/coordinator.db`) when persistence is available in
 * this build, else in memory (tokens then live as long as the process: mint them through the
 * admin API).
 */
export async function openRegistry(db: string | undefined, dataDir: string | undefined, postgres?: string): Promise<{ registry: ClientRegistry; durable: boolean; close(): void | Promise<void> }> {
  const mod = (await import('@flock/coordinator')) as Record<string, unknown>;
  if (postgres !== undefined) {
    const openPg = mod.openPostgresStore as (o: { url: string }) => Promise<{ registry: ClientRegistry; close(): Promise<void> }>;
    const d = await openPg({ url: postgres });
    return { registry: d.registry, durable: true, close: () => d.close() };
  }
  const open = mod.openFederationDatabase as ((p: string) => { registry: ClientRegistry; close(): void }) | undefined;
  const file = db ?? (dataDir ? path.join(ensureDataDir(dataDir), 'coordinator.db') : undefined);
  if (file && typeof open === 'function') {
    const d = open(file);
    return { registry: d.registry, durable: true, close: () => d.close() };
  }
  return { registry: new MemoryClientRegistry(), durable: false, close: () => undefined };
}

/** Reads a PEM file for --ca / --tls-cert / --tls-key. */
export function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as Error).message}`);
  }
}

/**
 * A client's persistent identity file: {clientId, secretKey (hex, 64 bytes)}, mode 0600.
 * Created on first use so a restarted `flock client` reconnects as the same enrolled identity.
 */
export function loadIdentity(file: string, clientId: string | undefined): { clientId: string; identity: IdentityKeyPair; created: boolean } {
  if (existsSync(file)) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { clientId?: string; secretKey?: string };
    const identity = keyPairFromSecretHex(doc.secretKey);
    if (typeof doc.clientId !== 'string' || !identity) throw new UsageError(`--identity ${file}: not a flock identity file`);
    if (clientId && clientId !== doc.clientId) throw new UsageError(`--identity ${file} belongs to client '${doc.clientId}', not '${clientId}'`);
    return { clientId: doc.clientId, identity, created: false };
  }
  const kp = generateIdentityKeyPair(nodePlatform);
  const id = clientId ?? `c-${randomBytes(8).toString('hex')}`;
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writePrivateFile(file, JSON.stringify({ clientId: id, publicKey: toHex(kp.publicKey), secretKey: toHex(kp.secretKey) }) + '\n');
  err(`flock: created identity ${file} for client '${id}' (keep it: it is how this client proves who it is)`);
  return { clientId: id, identity: kp, created: true };
}
