/**
 * Where a client keeps who it is between runs: its client id, its Ed25519 identity key and
 * whether its enrollment token was already spent. In a browser the default platform keeps it in
 * IndexedDB, so a reloaded page reconnects as the same client and never needs its single-use
 * token twice; in Node the app persists `clientId` and `identity` itself (or passes a store).
 *
 * The secret key is stored as bytes: any script running on the page's origin can read it, as it
 * can read everything else the page holds. Isomorphic: no Node-only imports.
 */

export interface StoredIdentity {
  clientId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** The coordinator accepted this identity once: the enrollment token is spent and never sent again. */
  enrolled: boolean;
}

/** A small async key-value store for identities (ClientPlatform.identityStore). */
export interface IdentityStore {
  load(key: string): Promise<StoredIdentity | undefined>;
  save(key: string, value: StoredIdentity): Promise<void>;
}

function isStored(v: unknown): v is StoredIdentity {
  const o = v as Partial<StoredIdentity> | null;
  return !!o && typeof o.clientId === 'string' && o.publicKey instanceof Uint8Array && o.publicKey.length === 32 && o.secretKey instanceof Uint8Array && o.secretKey.length === 64 && typeof o.enrolled === 'boolean';
}

/** Keeps identities in memory (tests, or an app that persists them itself through `save`). */
export function memoryIdentityStore(): IdentityStore {
  const map = new Map<string, StoredIdentity>();
  return {
    load: async (key) => map.get(key),
    save: async (key, value) => void map.set(key, { ...value }),
  };
}

interface IdbLike {
  open(name: string, version?: number): IDBOpenDBRequest;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

/**
 * Identities in IndexedDB (database `flock-client`, object store `identities`); undefined where
 * there is no IndexedDB (Node). A store that fails (private browsing modes, quota) loads nothing
 * and saves nothing: the client then runs with a fresh identity, as without persistence.
 */
export function indexedDbIdentityStore(dbName = 'flock-client'): IdentityStore | undefined {
  const idb = (globalThis as { indexedDB?: IdbLike }).indexedDB;
  if (!idb) return undefined;
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const r = idb.open(dbName, 1);
      r.onupgradeneeded = () => void r.result.createObjectStore('identities');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error('cannot open IndexedDB'));
    }));
  return {
    async load(key) {
      try {
        const d = await open();
        const v: unknown = await request(d.transaction('identities', 'readonly').objectStore('identities').get(key));
        return isStored(v) ? v : undefined;
      } catch {
        return undefined;
      }
    },
    async save(key, value) {
      try {
        const d = await open();
        const tx = d.transaction('identities', 'readwrite');
        tx.objectStore('identities').put({ clientId: value.clientId, publicKey: new Uint8Array(value.publicKey), secretKey: new Uint8Array(value.secretKey), enrolled: value.enrolled }, key);
        await new Promise<void>((resolve, reject) => {
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
        });
      } catch {
        // persistence is best effort
      }
    },
  };
}

/** The key an identity is stored under: one per coordinator URL and requested client id. */
export function identityKey(base: string, clientId: string | undefined): string {
  return `${base}#${clientId ?? '*'}`;
}
