import { Command } from 'commander';
import type { ClientRegistry, CoordinatorOptions } from '@flock/coordinator';
import { err, UsageError } from '../output.js';
import { DEFAULT_DATA_DIR, loadOperatorToken, resolveDataDir, openAuditLog, openRegistry, readPem } from '../security.js';

export interface SecurityFlags {
  open?: boolean;
  dataDir?: string;
  db?: string;
  operatorTokenFile?: string;
  auditLog?: string;
  tlsCert?: string;
  tlsKey?: string;
  privateModels?: boolean;
  publicMetrics?: boolean;
}

/** The authentication, admin, audit and TLS options of `flock coordinator`. */
export function addSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--open', 'admit anonymous clients without enrollment tokens (local experiments only; prints a warning)')
    .option('--data-dir <dir>', `directory for the operator token, audit log and database (default ./${DEFAULT_DATA_DIR})`)
    .option('--operator-token-file <file>', 'file holding the operator bearer token for /v1/admin (default: generated into the data dir, mode 0600)')
    .option('--audit-log <file>', 'append-only JSON-lines audit log (default: <data-dir>/audit.log)')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve https and wss')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--private-models', 'model and round endpoints need a client session or operator token (default: public)')
    .option('--public-metrics', 'GET /metrics without the operator token (under --dp the participation figures still need it)');
}

export interface SecuritySetup {
  auth: 'tokens' | 'open';
  options: Pick<CoordinatorOptions, 'registry' | 'audit' | 'operatorToken' | 'privateModels' | 'publicMetrics' | 'tls'>;
  announce(url: string): void;
  close(): void;
}

/** `registry`: the coordinator database's (durable); without it one is opened from --db / the data dir. */
export async function setUpSecurity(f: SecurityFlags, registry?: ClientRegistry): Promise<SecuritySetup> {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const dataDir = resolveDataDir(f.dataDir);
  const tls = f.tlsCert && f.tlsKey ? { cert: readPem('--tls-cert', f.tlsCert), key: readPem('--tls-key', f.tlsKey) } : undefined;
  const operator = loadOperatorToken(f.operatorTokenFile, dataDir);
  const audit = openAuditLog(f.auditLog, dataDir);
  const reg = registry ? { registry, durable: true, close: () => undefined } : await openRegistry(f.db, f.db ? undefined : dataDir);
  const auth = f.open ? 'open' : 'tokens';
  return {
    auth,
    options: { registry: reg.registry, audit, operatorToken: operator.token, privateModels: f.privateModels === true, publicMetrics: f.publicMetrics === true, ...(tls ? { tls } : {}) },
    announce(url) {
      if (auth === 'open') err(`flock: WARNING: --open: any client can join this federation without credentials. Do not expose ${url} beyond a trusted network.`);
      else err(`flock: clients need an enrollment token: ${tokenHint(url, operator.file, f)}`);
      err(`flock: operator token ${operator.created ? 'written to' : 'read from'} ${operator.file}; audit log ${audit.file}`);
      if (!reg.durable) err('flock: client registry is in memory (no database in this build): enrolments last until the coordinator stops');
    },
    close() {
      audit.close?.();
      reg.close();
    },
  };
}

/**
 * The `flock token create` command that reaches this coordinator's registry. The admin API
 * form always works; the offline form only when the registry is a database file, and it must
 * name that file (a data-dir hint with a `--db` elsewhere, or `:memory:`, would mint tokens
 * into a database the coordinator never reads).
 */
export function tokenHint(url: string, operatorTokenFile: string, f: Pick<SecurityFlags, 'db' | 'tlsCert'>): string {
  const online = `flock token create --url ${url} --operator-token-file ${operatorTokenFile}${f.tlsCert ? ` --ca ${f.tlsCert}` : ''}`;
  if (!f.db || f.db === ':memory:') return online;
  return `${online}   (or offline: flock token create --db ${f.db})`;
}
