/**
 * Config files written by hand (`flock sim --config`, `flock coordinator --config`): JSON parsed
 * with a zod schema, and errors a person can act on — the line and column of a syntax error
 * with a caret under it, "did you mean" for a misspelt key (at any depth), and the flag a key
 * stands for.
 */
import type { z } from 'zod';

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `keys` to a misspelt one, when one is close: `batch_size` -> `batchSize`. */
export function suggestKey(unknown: string, keys: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of keys) {
    const d = norm(k) === norm(unknown) ? 0 : editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(1, Math.floor(unknown.length / 3)) ? best : undefined;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** The object schema at `path` inside `schema` (through optional, default, nullable wrappers), if any. */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let s: unknown = schema;
  const unwrap = (x: unknown): unknown => {
    for (let i = 0; i < 8; i++) {
      const def = (x as { _zod?: { def?: { innerType?: unknown; in?: unknown; type?: string } } })?._zod?.def;
      if (def?.innerType) x = def.innerType;
      else if (def?.type === 'pipe' && def.in) x = def.in;
      else break;
    }
    return x;
  };
  s = unwrap(s);
  for (const key of path) {
    const shape = (s as { shape?: Record<string, unknown> })?.shape;
    if (!shape || typeof key !== 'string' || !(key in shape)) return undefined;
    s = unwrap(shape[key]);
  }
  return (s as { shape?: unknown })?.shape ? (s as z.ZodObject) : undefined;
}

export interface ConfigIssueOptions {
  /** The command-line flag a top-level key stands for, if any (shown next to the key). */
  flagOf?: (key: string) => string | undefined;
}

/** One line per problem, each naming the key (with its path and flag) and what was wrong. */
export function formatConfigIssues(error: z.ZodError, input: unknown, schema: z.ZodType, opts: ConfigIssueOptions = {}): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const valid = Object.keys(objectAt(schema, issue.path)?.shape ?? {});
      const at = issue.path.length > 0 ? ` in "${issue.path.map(String).join('.')}"` : '';
      for (const key of issue.keys) {
        const hint = suggestKey(key, valid);
        lines.push(`unknown key "${key}"${at}${hint ? ` (did you mean "${hint}"?)` : ''}${valid.length ? `; valid keys: ${valid.join(', ')}` : ''}`);
      }
      continue;
    }
    const key = String(issue.path[0] ?? '');
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    const flag = key ? opts.flagOf?.(key) : undefined;
    let value: unknown = input;
    for (const k of issue.path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
    const got = issue.path.length > 0 && value !== undefined ? `; got ${describeValue(value)}` : '';
    lines.push(`"${where}"${flag ? ` (${flag})` : ''}: ${issue.message}${got}`);
  }
  return lines;
}

export interface ParseJsonConfigOptions {
  /** A one-line example of a valid file, for the message when the file is not an object. */
  example: string;
  flagOf?: (key: string) => string | undefined;
  /** Builds the error thrown (the caller's error class). */
  error: (message: string) => Error;
}

/**
 * Parses the text of a JSON config file and checks it with `schema`. `source` (the file name)
 * starts every message; syntax errors carry `:line:column` and a caret.
 */
export function parseJsonConfig<S extends z.ZodType>(text: string, source: string, schema: S, opts: ParseJsonConfigOptions): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const at = jsonErrorLocation(text);
    const where = at ? `:${at.line}:${at.column}` : '';
    const lineText = at ? text.split('\n')[at.line - 1] : undefined;
    const caret = at && lineText !== undefined && lineText.length <= 200 ? `\n  ${lineText.replace(/\t/g, ' ')}\n  ${' '.repeat(Math.max(0, at.column - 1))}^` : '';
    // V8 quotes the source in some messages and gives an offset in others: the caret says both.
    const reason = (e as Error).message.replace(/, .*is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
    throw opts.error(`${source}${where}: invalid JSON: ${reason}${caret}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw opts.error(`${source}: a config file must hold one JSON object like ${opts.example}; got ${describeValue(raw)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatConfigIssues(parsed.error, raw, schema, opts.flagOf ? { flagOf: opts.flagOf } : {});
    throw opts.error(`${source}: ${lines.length === 1 ? lines[0] : `${lines.length} problems:\n  ${lines.join('\n  ')}`}`);
  }
  return parsed.data as z.infer<S>;
}

/**
 * The 1-based line and column of the first syntax error in `text`, found by a small JSON
 * scanner (V8's messages carry a position only for some errors).
 */
export function jsonErrorLocation(text: string): { offset: number; line: number; column: number } | undefined {
  let i = 0;
  const n = text.length;
  class At {
    constructor(readonly offset: number) {}
  }
  const fail = (): never => {
    throw new At(i);
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const lit = (word: string) => {
    for (const c of word) {
      if (text[i] !== c) fail();
      i++;
    }
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const digits = () => {
    if (!/[0-9]/.test(text[i] ?? '')) fail();
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const num = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') (i++, digits());
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) num();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else fail();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value();
    ws();
    if (i < n) fail();
    return undefined;
  } catch (e) {
    if (!(e instanceof At)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    const column = e.offset - before.lastIndexOf('\n');
    return { offset: e.offset, line, column };
  }
}

