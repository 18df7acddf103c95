// A one-pass reader of predict request bodies straight from the request bytes into a
// Float32Array: no string decoding, no JSON.parse, no nested arrays (a 32 x 28 x 28 x 1 body is
// 25,088 one-element arrays to JSON.parse, which dominated the main thread's time). It accepts
// only the plain, common form and answers undefined for anything else; the caller then runs
// JSON.parse and the zod schema (inputs.ts), which decide and name every error. So the typed
// errors stay exactly what the schema says, and on what this reader accepts, the values are
// bit for bit those of JSON.parse followed by the float32 conversion (json-instances.test.ts).

const SPACE = 0x20, TAB = 0x09, LF = 0x0a, CR = 0x0d;
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const LBRACKET = 0x5b, RBRACKET = 0x5d, LBRACE = 0x7b, RBRACE = 0x7d;
const MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39, LOWER_E = 0x65, UPPER_E = 0x45;

/** Exact powers of ten in float64 (10^22 is the largest). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Significant digits kept exactly in the mantissa (10^15 < 2^53). */
const MAX_DIGITS = 15;

/** 1 + 2e-14: above the relative width of [m, m + 1) for m >= 10^14, with room for rounding. */
const TRUNCATION_BOUND = 1.00000000000002;

const KEY_INSTANCES = Buffer.from('instances');
const KEY_INPUTS = Buffer.from('inputs');
const KEY_SIGNATURE = Buffer.from('signature_name');

/** Reused between requests (one main thread): the rows are read here, then copied out exactly. */
let scratch = new Float32Array(0);

/** Largest scratch space kept between requests (floats; 4 MB): a rare huge body gets its own. */
const SCRATCH_MAX = 1 << 20;

class Reader {
  i = 0;
  out: Float32Array;
  n = 0;
  constructor(
    readonly b: Buffer,
    capacity: number,
  ) {
    if (capacity > SCRATCH_MAX) this.out = new Float32Array(capacity);
    else {
      if (scratch.length < capacity) scratch = new Float32Array(capacity);
      this.out = scratch;
    }
  }

  ws(): void {
    const b = this.b;
    let i = this.i;
    for (;;) {
      const c = b[i];
      if (c === SPACE || c === LF || c === CR || c === TAB) i++;
      else break;
    }
    this.i = i;
  }

  /** A JSON number at i, as JSON.parse reads it (float64), or NaN if there is none or it is not finite. */
  number(): number {
    const b = this.b;
    const start = this.i;
    let i = start;
    let neg = false;
    if (b[i] === MINUS) {
      neg = true;
      i++;
    }
    // The first MAX_DIGITS significant digits in m (exact: < 2^53); later ones only move the
    // exponent or mark the value `truncated`. Runs of digits are read in tight loops, with no
    // per-digit test of the count beyond the loop bound.
    let m = 0;
    let digits = 0;
    let exp = 0;
    let truncated = false;
    let c = b[i]!;
    if (c === ZERO) c = b[++i]!;
    else if (c > ZERO && c <= NINE) {
      const s = i;
      while (c >= ZERO && c <= NINE && i - s < MAX_DIGITS) {
        m = m * 10 + (c - ZERO);
        c = b[++i]!;
      }
      digits = i - s;
      while (c >= ZERO && c <= NINE) {
        exp++;
        if (c !== ZERO) truncated = true;
        c = b[++i]!;
      }
    } else return NaN;
    if (c === DOT) {
      c = b[++i]!;
      if (!(c >= ZERO && c <= NINE)) return NaN;
      // Leading zeros of a fraction (0.000123) are not significant digits.
      if (digits === 0) {
        const z = i;
        while (c === ZERO) c = b[++i]!;
        exp -= i - z;
      }
      const s = i;
      const room = MAX_DIGITS - digits;
      while (c >= ZERO && c <= NINE && i - s < room) {
        m = m * 10 + (c - ZERO);
        c = b[++i]!;
      }
      exp -= i - s;
      while (c >= ZERO && c <= NINE) {
        if (c !== ZERO) truncated = true;
        c = b[++i]!;
      }
    }
    if (c === LOWER_E || c === UPPER_E) {
      c = b[++i]!;
      let eneg = false;
      if (c === MINUS || c === PLUS) {
        eneg = c === MINUS;
        c = b[++i]!;
      }
      if (!(c >= ZERO && c <= NINE)) return NaN;
      let e = 0;
      do {
        if (e < 100_000) e = e * 10 + (c - ZERO);
        c = b[++i]!;
      } while (c >= ZERO && c <= NINE);
      exp += eneg ? -e : e;
    }
    this.i = i;
    let v: number;
    if (m === 0) v = 0;
    else if (exp >= -22 && exp <= 22) {
      // Clinger's fast path: m < 2^53 and 10^|exp| are exact, so one multiplication or division
      // is correctly rounded: the same float64 as JSON.parse.
      v = exp >= 0 ? m * POW10[exp]! : m / POW10[-exp]!;
      // More digits than m holds (m >= 10^14): the value lies in [m, m + 1) x 10^exp, so its
      // float64 lies in [v, v (1 + 1e-14)(1 + 2^-52)] within [v, v (1 + 2e-14)]. Rounding is
      // monotone: if both ends give the same float32, so does the value.
      if (truncated && Math.fround(v) !== Math.fround(v * TRUNCATION_BOUND)) v = Number(b.toString('latin1', neg ? start + 1 : start, i));
    } else v = Number(b.toString('latin1', neg ? start + 1 : start, i));
    if (!Number.isFinite(v)) return NaN;
    return neg ? -v : v;
  }

  /** One instance of `shape` from dimension `d` on, into out; false if it is not plain and exact. */
  tensor(shape: readonly number[], d: number): boolean {
    const b = this.b;
    if (d === shape.length) {
      const v = this.number();
      if (v !== v) return false;
      this.out[this.n++] = v;
      return true;
    }
    if (b[this.i] !== LBRACKET) return false;
    this.i++;
    const len = shape[d]!;
    // The innermost arrays hold numbers: read them here rather than one call deeper each.
    const leaves = d === shape.length - 1;
    for (let k = 0; k < len; k++) {
      // (Whitespace is rare between values: test one byte before calling ws.)
      if (b[this.i]! <= SPACE) this.ws();
      if (k > 0) {
        if (b[this.i] !== COMMA) return false;
        this.i++;
        if (b[this.i]! <= SPACE) this.ws();
      }
      if (leaves) {
        const v = this.number();
        if (v !== v) return false;
        this.out[this.n++] = v;
      } else if (!this.tensor(shape, d + 1)) return false;
    }
    if (b[this.i]! <= SPACE) this.ws();
    if (b[this.i] !== RBRACKET) return false;
    this.i++;
    return true;
  }

  /** The instances array; the number of rows, or -1. */
  list(shape: readonly number[], per: number, maxBatch: number): number {
    const b = this.b;
    if (b[this.i] !== LBRACKET) return -1;
    this.i++;
    this.ws();
    if (b[this.i] === RBRACKET) return -1;
    let rows = 0;
    for (;;) {
      if (rows === maxBatch) return -1;
      if (this.n + per > this.out.length) return -1;
      if (!this.tensor(shape, 0)) return -1;
      rows++;
      this.ws();
      const c = b[this.i];
      this.i++;
      if (c === RBRACKET) return rows;
      if (c !== COMMA) return -1;
      this.ws();
    }
  }

  /** A key made of plain ASCII (no escapes): compares it with `key`. */
  isKey(key: Uint8Array): boolean {
    const b = this.b;
    const i = this.i;
    if (b[i] !== QUOTE || b[i + key.length + 1] !== QUOTE) return false;
    for (let k = 0; k < key.length; k++) if (b[i + 1 + k] !== key[k]) return false;
    this.i = i + key.length + 2;
    return true;
  }

  /** A plain printable-ASCII string of at most 128 characters (signature_name). */
  shortString(): boolean {
    const b = this.b;
    if (b[this.i] !== QUOTE) return false;
    let i = this.i + 1;
    for (;;) {
      const c = b[i];
      if (c === undefined || c < 0x20 || c > 0x7e || c === BACKSLASH) return false;
      if (c === QUOTE) break;
      i++;
    }
    if (i - this.i - 1 > 128) return false;
    this.i = i + 1;
    return true;
  }
}

/**
 * Reads `{"instances": [...]}` / `{"inputs": [...]}` (optionally with a plain `signature_name`)
 * from the raw body bytes into a row-major Float32Array, or undefined when the body is not of
 * that plain form: other keys, duplicates, escapes in keys, non-finite or malformed numbers,
 * wrong lengths, more than `maxBatch` rows, anything JSON.parse would refuse.
 */
export function readJsonInstances(body: Buffer, shape: readonly number[], maxBatch: number): { rows: number; data: Float32Array } | undefined {
  const per = shape.reduce((a, x) => a * x, 1);
  // Every value takes at least two bytes (a digit and a separator).
  const capacity = Math.min(maxBatch, Math.floor(body.length / Math.max(1, 2 * per)) + 1) * per;
  const r = new Reader(body, capacity);
  r.ws();
  if (body[r.i] !== LBRACE) return undefined;
  r.i++;
  let rows = -1;
  let signature = false;
  for (;;) {
    r.ws();
    if (r.isKey(KEY_INSTANCES) || r.isKey(KEY_INPUTS)) {
      if (rows !== -1) return undefined;
      r.ws();
      if (body[r.i] !== COLON) return undefined;
      r.i++;
      r.ws();
      rows = r.list(shape, per, maxBatch);
      if (rows < 1) return undefined;
    } else if (r.isKey(KEY_SIGNATURE)) {
      if (signature) return undefined;
      signature = true;
      r.ws();
      if (body[r.i] !== COLON) return undefined;
      r.i++;
      r.ws();
      if (!r.shortString()) return undefined;
    } else return undefined;
    r.ws();
    const c = body[r.i];
    r.i++;
    if (c === RBRACE) break;
    if (c !== COMMA) return undefined;
  }
  r.ws();
  if (r.i !== body.length || rows < 1) return undefined;
  return { rows, data: r.out.slice(0, rows * per) };
}
