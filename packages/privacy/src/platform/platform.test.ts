import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../crypto/bytes.js';
import { nodePlatform } from './node.js';
import { addToCounter, type PlatformCrypto } from './types.js';
import { webPlatform } from './web.js';

const vector = JSON.parse(readFileSync(new URL('../../../../test/vectors/secagg-prg.json', import.meta.url), 'utf8')) as {
  key: string;
  initialCounter: string;
  plaintext: string[];
  ciphertext: string[];
};

const adapters: [string, PlatformCrypto][] = [
  ['node', nodePlatform],
  ['web', webPlatform],
];

describe.each(adapters)('%s platform adapter', (_name, p) => {
  it('AES-256-CTR matches NIST SP 800-38A F.5.5', async () => {
    const pt = fromHex(vector.plaintext.join(''));
    const ct = fromHex(vector.ciphertext.join(''));
    const expected = pt.map((b, i) => b ^ ct[i]!);
    const ks = await p.aes256Ctr(fromHex(vector.key), fromHex(vector.initialCounter), 64);
    expect(Buffer.from(ks).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });
  it('keystream prefixes are consistent and lengths need not be block multiples', async () => {
    const key = p.randomBytes(32);
    const iv = p.randomBytes(16);
    const long = await p.aes256Ctr(key, iv, 1000);
    const short = await p.aes256Ctr(key, iv, 37);
    expect(short).toEqual(long.subarray(0, 37));
    expect((await p.aes256Ctr(key, iv, 0)).length).toBe(0);
  });
  it('randomBytes returns fresh bytes of the asked length (also above 65536)', () => {
    const a = p.randomBytes(100_000);
    const b = p.randomBytes(100_000);
    expect(a.length).toBe(100_000);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).not.toBe(0);
    // no all-zero tail (the web adapter fills in 64 KiB chunks)
    expect(a.subarray(65_536).some((x) => x !== 0)).toBe(true);
  });
  it('checks its inputs', async () => {
    await expect(p.aes256Ctr(new Uint8Array(31), new Uint8Array(16), 16)).rejects.toThrow(RangeError);
    await expect(p.aes256Ctr('k' as unknown as Uint8Array, new Uint8Array(16), 16)).rejects.toThrow(TypeError);
    await expect(p.aes256Ctr(new Uint8Array(32), new Uint8Array(15), 16)).rejects.toThrow(/iv/);
    await expect(p.aes256Ctr(new Uint8Array(32), new Uint8Array(16), -1)).rejects.toThrow(RangeError);
    expect(() => p.randomBytes(1.5)).toThrow(TypeError);
  });
});

describe('node and web adapters', () => {
  it('produce byte-identical keystreams, including across the counter wrap and chunk boundaries', async () => {
    const key = nodePlatform.randomBytes(32);
    // counter near 2^128 - 1: the 128-bit counter wraps inside the stream
    const iv = fromHex('fffffffffffffffffffffffffffffff0');
    const n = 16 * 2 ** 20 + 4 * 1024 + 5; // crosses the web adapter's 16 MiB chunk and node's 256 KiB chunks
    const [a, b] = await Promise.all([nodePlatform.aes256Ctr(key, iv, n), webPlatform.aes256Ctr(key, iv, n)]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
  it('streaming keystream (aes256CtrEach) equals the one-shot keystream', async () => {
    const key = nodePlatform.randomBytes(32);
    const iv = new Uint8Array(16);
    const n = 3 * 256 * 1024 + 12;
    const whole = await webPlatform.aes256Ctr(key, iv, n);
    const parts = new Uint8Array(n);
    await nodePlatform.aes256CtrEach!(key, iv, n, (chunk, off) => parts.set(chunk, off));
    expect(Buffer.from(parts).equals(Buffer.from(whole))).toBe(true);
  });
  it('native Ed25519 and X25519 agree with tweetnacl', async () => {
    const nacl = (await import('tweetnacl')).default;
    const id = nacl.sign.keyPair();
    const msg = new TextEncoder().encode('flock');
    const sig = nacl.sign.detached(msg, id.secretKey);
    for (const p of [nodePlatform, webPlatform]) {
      expect(await p.ed25519Verify!(id.publicKey, msg, sig)).toBe(true);
      sig[0]! ^= 1;
      expect(await p.ed25519Verify!(id.publicKey, msg, sig)).toBe(false);
      sig[0]! ^= 1;
      const a = nacl.box.keyPair();
      const b = nacl.box.keyPair();
      expect(await p.x25519!(a.secretKey, a.publicKey, b.publicKey)).toEqual(nacl.scalarMult(a.secretKey, b.publicKey));
    }
    expect(await nodePlatform.ed25519Sign!(id.secretKey.subarray(0, 32), id.publicKey, msg)).toEqual(sig);
  });
  it('addToCounter adds with carry mod 2^128', () => {
    expect(Buffer.from(addToCounter(fromHex('000000000000000000000000000000ff'), 1)).toString('hex')).toBe('00000000000000000000000000000100');
    expect(Buffer.from(addToCounter(fromHex('ffffffffffffffffffffffffffffffff'), 2)).toString('hex')).toBe('00000000000000000000000000000001');
  });
});
