import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { mintToken, parseDuration } from '@flock/coordinator';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { DEFAULT_DATA_DIR, openAuditLog, openRegistry, readPem, resolveDataDir } from '../security.js';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { err, out, UsageError } from '../output.js';

interface TokenFlags {
  db?: string;
  postgres?: string;
  dataDir?: string;
  label?: string;
  expires?: string;
  url?: string;
  operatorTokenFile?: string;
  ca?: string;
  json?: boolean;
  auditLog?: string;
}

/** `flock token create`: mint an enrollment token (offline in the database, or online through the admin API). */
export function tokenCommand(): Command {
  const token = new Command('token').description('enrollment tokens for clients');
  token
    .command('create')
    .description('mint an enrollment token and print it (shown once; only its hash is stored)')
    .option('--db <file>', 'coordinator database to store the token in')
    .option('--postgres <url>', 'PostgreSQL coordinator database to store the token in (as flock coordinator --postgres)')
    .option('--data-dir <dir>', `coordinator data directory (its coordinator.db; default $FLOCK_HOME or ./${DEFAULT_DATA_DIR})`)
    .option('--url <url>', 'mint through a running coordinator\'s admin API instead of the database')
    .option('--operator-token-file <file>', 'with --url: the operator token (default <data-dir>/operator-token)')
    .option('--ca <file>', 'with --url https: PEM CA certificate to trust')
    .option('--label <text>', 'note on what the token is for (device, app...)')
    .option('--expires <duration>', 'the unused token expires after this long: 30m, 12h, 7d...')
    .option('--json', 'print {token, id, expiresAt} as JSON')
    .option('--audit-log <file>', 'offline minting: the coordinator audit log to record it in (default <data-dir>/audit.log)')
    .action(async (f: TokenFlags) => {
      let expiresInMs: number | undefined;
      if (f.expires !== undefined) {
        try {
          expiresInMs = parseDuration(f.expires);
        } catch (e) {
          throw new UsageError(`--expires: ${(e as Error).message}`);
        }
      }
      let minted: { token: string; id: string; expiresAt: string | null };
      if (f.url) {
        const tokenFile = f.operatorTokenFile ?? `${resolveDataDir(f.dataDir)}/operator-token`;
        let operator: string;
        try {
          operator = readFileSync(tokenFile, 'utf8').trim();
        } catch (e) {
          throw new UsageError(`operator token ${tokenFile}: ${(e as Error).message}`);
        }
        const body = JSON.stringify({ ...(f.label ? { label: f.label } : {}), ...(f.expires ? { expires: f.expires } : {}) });
        const res = await postJson(`${f.url.replace(/\/$/, '')}/v1/admin/tokens`, operator, body, f.ca ? readPem('--ca', f.ca) : undefined);
        minted = res as typeof minted;
      } else {
        const dataDir = resolveDataDir(f.dataDir);
        if (f.postgres !== undefined && f.db !== undefined) throw new UsageError('--postgres and --db name two different stores: give one of them');
        const reg = await openRegistry(f.db, f.db ? undefined : dataDir, f.postgres);
        if (!reg.durable) throw new UsageError('this build has no coordinator database: mint tokens from a running coordinator with --url URL --operator-token-file FILE');
        process.umask(0o077); // the audit log, if this creates it, is the coordinator's: owner-only
        const audit = openAuditLog(f.auditLog, dataDir);
        try {
          const { token: t, record } = await mintToken(reg.registry, { label: f.label ?? null, ...(expiresInMs !== undefined ? { expiresInMs } : {}) });
          minted = { token: t, id: record.id, expiresAt: record.expiresAt };
          // Offline minting bypasses the admin API, so it is audited here (actor: the OS user).
          audit.record({ action: 'cli.tokens.create', actor: `os:${userInfo().username}`, requestId: randomBytes(8).toString('hex'), outcome: 'ok', tokenId: record.id, label: f.label ?? null, expiresAt: record.expiresAt });
        } finally {
          audit.close?.();
          await reg.close();
        }
      }
      if (f.json) out(JSON.stringify(minted));
      else {
        out(minted.token);
        err(`flock: token ${minted.id}${minted.expiresAt ? ` expires ${minted.expiresAt} if unused` : ''}; give it to one client: flock client --token <token> --identity <file>`);
      }
    });
  return token;
}

async function postJson(url: string, operator: string, body: string, ca: string | undefined): Promise<unknown> {
  const u = new URL(url);
  return await new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, ...(ca ? { ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let doc: { error?: { code: string; message: string } };
          try {
            doc = JSON.parse(text) as typeof doc;
          } catch {
            return reject(new Error(`admin API answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          }
          if (doc.error) return reject(Object.assign(new Error(doc.error.message), { code: doc.error.code }));
          resolve(doc);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
