/**
 * Writes the conformance vectors protocol/vectors/*.json from fixed inputs, through the
 * reference implementation, cross-checking each construction against an independent
 * computation where one exists (node:crypto, tweetnacl, a second implementation of the rule).
 *
 *   node --import ./scripts/source-loader.mjs protocol/vectors/generate.ts          # rewrite the files
 *   node --import ./scripts/source-loader.mjs protocol/vectors/generate.ts --check  # exit 1 if a file would change
 *
 * The vectors are the wire contract: a change here is a wire change (protocol/v1.md 13).
 * test/conformance.test.ts checks the implementation against the committed files; it never
 * regenerates them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelHash, tensorCodec } from './build/codec.js';
import { handshake, sealKeys, sealedChunk } from './build/auth-seal.js';
import { sealedChunkAead } from './build/seal-suites.js';
import { receipts } from './build/receipts.js';
import { graph, kdf, prg, quantize, shamir } from './build/secagg-primitives.js';
import { secaggRound } from './build/secagg-round.js';
import { messages } from './build/messages.js';

async function main(): Promise<void> {
  const files: Record<string, Record<string, unknown>> = {
    'tensor-codec': tensorCodec(),
    'model-hash': modelHash(),
    handshake: await handshake(),
    'seal-keys': await sealKeys(),
    'sealed-chunk': await sealedChunk(),
    'sealed-chunk-aead': await sealedChunkAead(),
    receipts: receipts(),
    'secagg-kdf': kdf(),
    'secagg-prg': await prg(),
    'secagg-graph': graph(),
    shamir: await shamir(),
    quantize: await quantize(),
    'secagg-round': await secaggRound(),
  };
  const seal = files['seal-keys'] as { coordinator: { coordinatorKey: string; welcomeSealKey: { publicKey: string; signature: string } }; client: { keyRecord: string } };
  const chunk = files['sealed-chunk'] as { chunks: Array<{ sealed: string }> };
  const receipt = (files.receipts as { cases: Array<{ roundEnd: Record<string, unknown> }> }).cases[0]!.roundEnd;
  files.messages = messages({
    welcomeSealKey: seal.coordinator.welcomeSealKey,
    coordinatorKey: seal.coordinator.coordinatorKey,
    keyRecord: seal.client.keyRecord,
    chunk0: chunk.chunks[0]!.sealed,
    secagg: (files['secagg-round'] as { roundStartSecagg: Record<string, unknown> }).roundStartSecagg,
    receipt,
  });
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, body] of Object.entries(files)) {
    const path = fileURLToPath(new URL(`./${name}.json`, import.meta.url));
    const text = `${JSON.stringify({ vector: name, ...body }, null, 2)}\n`;
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      // new file
    }
    if (old === text) continue;
    stale++;
    if (check) console.error(`${name}.json would change`);
    else writeFileSync(path, text);
  }
  console.log(check ? `${stale} of ${Object.keys(files).length} vector files would change` : `wrote ${stale} of ${Object.keys(files).length} vector files`);
  if (check && stale > 0) process.exitCode = 1;
}

await main();
