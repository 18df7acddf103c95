/**
 * A minimal assembler for ring-simd.wat: emits the exact WebAssembly binary embedded in
 * ring-simd.ts (RING_SIMD_WASM_HEX). Not used at run time; ring-simd.test.ts checks that the
 * embedded bytes equal `assembleRingSimd()`, so the .wat, this file and the bytes stay in step.
 * Instruction names follow the .wat; opcodes from the WebAssembly core + SIMD specifications.
 */

const uleb = (n: number): number[] => {
  const o: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    o.push(b);
  } while (n);
  return o;
};
const sleb = (n: number): number[] => {
  const o: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      o.push(b);
      return o;
    }
    o.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

const localGet = (i: number): number[] => [0x20, i];
const localSet = (i: number): number[] => [0x21, i];
const i32Const = (c: number): number[] => [0x41, ...sleb(c)];
const I32_ADD = [0x6a];
const I32_SUB = [0x6b];
const I32_AND = [0x71];
const I32_SHL = [0x74];
const I32_GE_U = [0x4f];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const brIf = (depth: number): number[] => [0x0d, depth];
const br = (depth: number): number[] => [0x0c, depth];
const I32_LOAD = [0x28, 0x02, 0x00]; // align 2^2, offset 0
const I32_STORE = [0x36, 0x02, 0x00];
const v128Load = (offset: number): number[] => [0xfd, 0x00, 0x04, ...uleb(offset)]; // align 2^4
const v128Store = (offset: number): number[] => [0xfd, 0x0b, 0x04, ...uleb(offset)];
const I32X4_ADD = [0xfd, ...uleb(0xae)];
const I32X4_SUB = [0xfd, ...uleb(0xb1)];

// params: 0 = d, 1 = s, 2 = n; locals: 3 = vend, 4 = end4, 5 = end
const D = 0, S = 1, N = 2, VEND = 3, END4 = 4, ENDL = 5;

/** d = d + step; s = s + step */
const advance = (step: number): number[] => [...localGet(D), ...i32Const(step), ...I32_ADD, ...localSet(D), ...localGet(S), ...i32Const(step), ...I32_ADD, ...localSet(S)];
/** mem[d + off] = op(mem[d + off], mem[s + off]) on one v128 */
const simdStep = (op: number[], off: number): number[] => [...localGet(D), ...localGet(D), ...v128Load(off), ...localGet(S), ...v128Load(off), ...op, ...v128Store(off)];
/** block loop (br_if 1 (d >= limit)) body (br 0) end end */
const loopUntil = (limit: number, body: number[]): number[] => [...BLOCK, ...LOOP, ...localGet(D), ...localGet(limit), ...I32_GE_U, ...brIf(1), ...body, ...br(0), ...END, ...END];
/** local = d + 4 * (n & mask) */
const endAt = (local: number, mask: number | undefined): number[] => [
  ...localGet(D),
  ...localGet(N),
  ...(mask === undefined ? [] : [...i32Const(mask), ...I32_AND]),
  ...i32Const(2),
  ...I32_SHL,
  ...I32_ADD,
  ...localSet(local),
];

function funcBody(simdOp: number[], scalarOp: number[]): number[] {
  const code = [
    ...endAt(ENDL, undefined),
    ...endAt(VEND, -16),
    ...endAt(END4, -4),
    ...loopUntil(VEND, [...[0, 16, 32, 48].flatMap((off) => simdStep(simdOp, off)), ...advance(64)]),
    ...loopUntil(END4, [...simdStep(simdOp, 0), ...advance(16)]),
    ...loopUntil(ENDL, [...localGet(D), ...localGet(D), ...I32_LOAD, ...localGet(S), ...I32_LOAD, ...scalarOp, ...I32_STORE, ...advance(4)]),
    ...END,
  ];
  const body = [1, 3, 0x7f, ...code]; // one local group: 3 x i32
  return [...uleb(body.length), ...body];
}

/** The binary of ring-simd.wat. */
export function assembleRingSimd(): Uint8Array {
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...section(1, vec([[0x60, 3, 0x7f, 0x7f, 0x7f, 0]])), // type 0: (i32 i32 i32) -> ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import env.memory, min 1 page
    ...section(3, vec([[0], [0]])), // two functions of type 0
    ...section(7, vec([[...name('add'), 0x00, 0], [...name('sub'), 0x00, 1]])), // exports
    ...section(10, vec([funcBody(I32X4_ADD, I32_ADD), funcBody(I32X4_SUB, I32_SUB)])), // code
  ]);
}
