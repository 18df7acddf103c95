#!/usr/bin/env node
// Writes the coordinator key every node of a fleet shares (docs/how-to/scale-out.md):
// {"publicKey": 64 hex, "secretKey": 128 hex} (Ed25519, secret = seed || public key), mode 0600.
// Usage: node make-key.mjs secrets/coordinator-key.json
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const file = process.argv[2] ?? 'secrets/coordinator-key.json';
if (existsSync(file)) {
  console.error(`${file} exists; remove it first to make a new key (clients pinned to the old one will refuse the new one)`);
  process.exit(1);
}
const { privateKey } = generateKeyPairSync('ed25519');
const jwk = privateKey.export({ format: 'jwk' });
const hex = (b64url) => Buffer.from(b64url, 'base64url').toString('hex');
mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
writeFileSync(file, JSON.stringify({ publicKey: hex(jwk.x), secretKey: hex(jwk.d) + hex(jwk.x) }) + '\n', { mode: 0o600 });
console.log(`wrote ${file}`);
