/**
 * Z_2^32 accumulation with WebAssembly SIMD (i32x4.add / i32x4.sub), isomorphic (browsers,
 * workers, Node, Deno, Bun), no dependency. The module is tiny and hand-assembled: its source is
 * ring-simd.wat, the assembler ring-simd.asm.ts, and ring-simd.test.ts checks the bytes below
 * against both the assembler and the plain-JS ring arithmetic.
 *
 * Where WebAssembly or its SIMD proposal is unavailable (or blocked, e.g. by a CSP without
 * 'wasm-unsafe-eval'), `SimdRingAccumulator.create` returns undefined and callers use the JS
 * loops of ring.ts: same results, bit for bit.
 */

/** ring-simd.wat, assembled by ring-simd.asm.ts (562 bytes). */
export const RING_SIMD_WASM_HEX =
  '0061736d0100000001070160037f7f7f00020f0103656e76066d656d6f72790200010303020000070d020361646400000373756200010af90302fa0101037f' +
  '200020024102746a2105200020024170714102746a210320002002417c714102746a210402400340200020034f0d0120002000fd0004002001fd000400fdae' +
  '01fd0b040020002000fd0004102001fd000410fdae01fd0b041020002000fd0004202001fd000420fdae01fd0b042020002000fd0004302001fd000430fdae' +
  '01fd0b0430200041c0006a2100200141c0006a21010c000b0b02400340200020044f0d0120002000fd0004002001fd000400fdae01fd0b0400200041106a21' +
  '00200141106a21010c000b0b02400340200020054f0d012000200028020020012802006a360200200041046a2100200141046a21010c000b0b0bfa0101037f' +
  '200020024102746a2105200020024170714102746a210320002002417c714102746a210402400340200020034f0d0120002000fd0004002001fd000400fdb1' +
  '01fd0b040020002000fd0004102001fd000410fdb101fd0b041020002000fd0004202001fd000420fdb101fd0b042020002000fd0004302001fd000430fdb1' +
  '01fd0b0430200041c0006a2100200141c0006a21010c000b0b02400340200020044f0d0120002000fd0004002001fd000400fdb101fd0b0400200041106a21' +
  '00200141106a21010c000b0b02400340200020054f0d012000200028020020012802006b360200200041046a2100200141046a21010c000b0b0b';

export function ringSimdBytes(): Uint8Array<ArrayBuffer> {
  const hex = RING_SIMD_WASM_HEX;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const PAGE = 65536;
const MAX_PAGES = 65536;

/** Bytes of the staging area for keystream chunks (Node's adapter hands out 256 KiB chunks). */
export const SIMD_SCRATCH_BYTES = 256 * 1024;

type Kernel = (d: number, s: number, n: number) => void;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum?: number }) => { buffer: ArrayBuffer };
  validate(bytes: Uint8Array): boolean;
}

let cachedModule: object | null | undefined;

/** The compiled module, or null when WebAssembly SIMD is unavailable here. */
function ringSimdModule(): object | null {
  if (cachedModule !== undefined) return cachedModule;
  cachedModule = null;
  try {
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = ringSimdBytes();
    // Synchronous compilation is fine for a module this small (browsers only limit large ones).
    if (LITTLE_ENDIAN && wa && wa.validate(bytes)) cachedModule = new wa.Module(bytes);
  } catch {
    cachedModule = null;
  }
  return cachedModule;
}

/** Whether the SIMD kernel can run here (WebAssembly with SIMD, little-endian host). */
export function ringSimdAvailable(): boolean {
  return ringSimdModule() !== null;
}

interface Slot {
  memory: { buffer: ArrayBuffer; grow(delta: number): number };
  add: Kernel;
  sub: Kernel;
}

/**
 * Free WebAssembly memories, reused across accumulators: first touches of fresh memory pages are
 * expensive (measured ~3 ms per 400 KB on the benchmark VM, as much as the masks' AES work for
 * small vectors), so a released accumulator's memory is wiped and kept for the next one.
 */
const freeSlots: Slot[] = [];
const POOL_SLOTS = 2;
const POOL_MAX_BYTES = 256 * 1024 * 1024;

function acquireSlot(module: object, pages: number): Slot | undefined {
  const wa = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  for (;;) {
    const slot = freeSlots.pop();
    if (!slot) break;
    const have = slot.memory.buffer.byteLength / PAGE;
    if (have >= pages) return slot;
    try {
      slot.memory.grow(pages - have);
      return slot;
    } catch {
      // could not grow: drop it and try another or a fresh one
    }
  }
  try {
    const memory = new wa.Memory({ initial: pages }) as unknown as Slot['memory'];
    const instance = new wa.Instance(module, { env: { memory } });
    return { memory, add: instance.exports.add as Kernel, sub: instance.exports.sub as Kernel };
  } catch {
    return undefined; // e.g. out of memory for a very large vector: the JS path needs none
  }
}

/**
 * A Z_2^32 accumulator of `length` elements held in WebAssembly memory, plus a staging area:
 * `addBytes` copies little-endian words in and adds or subtracts them with i32x4 lanes.
 * Load the starting value with `load`, read the result with `store`, and `release` when done:
 * it zeroes the memory it used (the sum and any staged keystream) and hands it back for reuse.
 * `wipe` only zeroes. Nothing may be called after `release`.
 */
export class SimdRingAccumulator {
  readonly length: number;
  private slot: Slot | undefined;
  private readonly add: Kernel;
  private readonly sub: Kernel;
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  private readonly scratch: number;

  private constructor(length: number, slot: Slot, scratch: number) {
    this.length = length;
    this.slot = slot;
    this.add = slot.add;
    this.sub = slot.sub;
    this.bytes = new Uint8Array(slot.memory.buffer, 0, scratch + SIMD_SCRATCH_BYTES);
    this.words = new Uint32Array(slot.memory.buffer, 0, length);
    this.scratch = scratch;
  }

  /** A zeroed accumulator, or undefined when SIMD is unavailable or the memory cannot be had. */
  static create(length: number): SimdRingAccumulator | undefined {
    if (!Number.isInteger(length) || length < 1) throw new RangeError('length must be a positive integer');
    const module = ringSimdModule();
    if (!module) return undefined;
    const scratch = Math.ceil((4 * length) / 64) * 64;
    const pages = Math.ceil((scratch + SIMD_SCRATCH_BYTES) / PAGE);
    if (pages > MAX_PAGES) return undefined;
    const slot = acquireSlot(module, pages);
    return slot ? new SimdRingAccumulator(length, slot, scratch) : undefined;
  }

  /** The accumulator itself (a view of the WebAssembly memory; zeroed by `wipe`/`release`). */
  get value(): Uint32Array {
    return this.words;
  }

  load(src: Uint32Array): void {
    if (!this.slot) throw new Error('accumulator released');
    if (!(src instanceof Uint32Array) || src.length !== this.length) throw new RangeError(`src must be a Uint32Array of length ${this.length}`);
    this.words.set(src);
  }

  store(dst: Uint32Array): void {
    if (!this.slot) throw new Error('accumulator released');
    if (!(dst instanceof Uint32Array) || dst.length !== this.length) throw new RangeError(`dst must be a Uint32Array of length ${this.length}`);
    dst.set(this.words);
  }

  /**
   * acc[offset + i] += sign * word_i (mod 2^32), where word_i is the i-th little-endian uint32
   * of `bytes` (any byteOffset; bytes.length a multiple of 4).
   */
  addBytes(bytes: Uint8Array, offset: number, sign: 1 | -1): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (bytes.length % 4 !== 0) throw new RangeError(`bytes must have a length divisible by 4, got ${bytes.length}`);
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes.length / 4 > this.length) throw new RangeError('words out of range');
    if (sign !== 1 && sign !== -1) throw new RangeError('sign must be 1 or -1');
    if (!this.slot) throw new Error('accumulator released');
    const kernel = sign === 1 ? this.add : this.sub;
    for (let done = 0; done < bytes.length; done += SIMD_SCRATCH_BYTES) {
      const part = bytes.subarray(done, Math.min(bytes.length, done + SIMD_SCRATCH_BYTES));
      this.bytes.set(part, this.scratch);
      kernel(4 * offset + done, this.scratch, part.length >>> 2);
    }
  }

  /** acc[offset + i] += sign * words[i] (mod 2^32). */
  addWords(words: Uint32Array, offset: number, sign: 1 | -1): void {
    if (!(words instanceof Uint32Array)) throw new TypeError('words must be a Uint32Array');
    this.addBytes(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), offset, sign);
  }

  /** Zeroes the accumulator and the staging area. */
  wipe(): void {
    this.bytes.fill(0);
  }

  /** Zeroes the memory used and returns it to the pool. Idempotent. */
  release(): void {
    const slot = this.slot;
    if (!slot) return;
    this.slot = undefined;
    this.bytes.fill(0);
    if (slot.memory.buffer.byteLength <= POOL_MAX_BYTES && freeSlots.length < POOL_SLOTS) freeSlots.push(slot);
  }
}
