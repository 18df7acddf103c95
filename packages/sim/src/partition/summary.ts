/** Label x client counts of a partition, as data (JSON-friendly) and as a text table. */

export interface PartitionSummary {
  numClasses: number;
  numClients: number;
  /** counts[label][client] = examples of that label held by that client. */
  counts: number[][];
  /** Examples per client. */
  clientSizes: number[];
  /** Examples per label over all clients. */
  classTotals: number[];
  /** Distinct labels per client (labels with at least one example). */
  labelsPerClient: number[];
  /** Examples assigned in total. */
  total: number;
}

/** Counts, for each label and client, how many examples the client holds. */
export function partitionSummary(labels: Uint8Array, parts: readonly Uint32Array[], numClasses: number): PartitionSummary {
  if (!(labels instanceof Uint8Array)) throw new TypeError('labels must be a Uint8Array');
  if (!Array.isArray(parts)) throw new TypeError('parts must be an array of Uint32Array');
  if (typeof numClasses !== 'number') throw new TypeError(`numClasses must be a number; got ${typeof numClasses}`);
  if (!Number.isSafeInteger(numClasses) || numClasses < 1 || numClasses > 256) throw new RangeError(`numClasses must be an integer in [1, 256]; got ${numClasses}`);
  const numClients = parts.length;
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClients).fill(0));
  const clientSizes = new Array<number>(numClients).fill(0);
  parts.forEach((idx, client) => {
    if (!(idx instanceof Uint32Array)) throw new TypeError(`parts[${client}] must be a Uint32Array`);
    for (let i = 0; i < idx.length; i++) {
      const e = idx[i]!;
      if (e >= labels.length) throw new RangeError(`parts[${client}] holds index ${e} but there are only ${labels.length} labels`);
      const y = labels[e]!;
      if (y >= numClasses) throw new RangeError(`label ${y} of example ${e} is >= numClasses (${numClasses})`);
      counts[y]![client]!++;
    }
    clientSizes[client] = idx.length;
  });
  const classTotals = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const labelsPerClient = clientSizes.map((_, c) => counts.reduce((a, row) => a + (row[c]! > 0 ? 1 : 0), 0));
  return { numClasses, numClients, counts, clientSizes, classTotals, labelsPerClient, total: clientSizes.reduce((a, b) => a + b, 0) };
}

export interface FormatSummaryOptions {
  /** Show at most this many client columns; beyond it the first and last halves (default 12). */
  maxClients?: number;
  /** Row names per label, e.g. FASHION_MNIST_CLASSES. */
  classNames?: readonly string[];
}

function stats(xs: number[]): { min: number; median: number; max: number; mean: number } {
  if (xs.length === 0) return { min: 0, median: 0, max: 0, mean: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/**
 * A text table, labels as rows and clients as columns, with totals, then one line of
 * statistics. With more than `maxClients` clients only the first and last columns are shown.
 */
export function formatPartitionSummary(summary: PartitionSummary, options: FormatSummaryOptions = {}): string {
  if (summary === null || typeof summary !== 'object' || !Array.isArray(summary.counts)) throw new TypeError('summary must come from partitionSummary()');
  const maxClients = options.maxClients ?? 12;
  if (!Number.isSafeInteger(maxClients) || maxClients < 2) throw new RangeError(`options.maxClients must be an integer >= 2; got ${maxClients}`);
  const { numClients, numClasses, counts, clientSizes, classTotals, labelsPerClient, total } = summary;
  let shown: Array<number | null>;
  if (numClients <= maxClients) shown = Array.from({ length: numClients }, (_, i) => i);
  else {
    const head = Math.ceil(maxClients / 2);
    const tail = maxClients - head;
    shown = [...Array.from({ length: head }, (_, i) => i), null, ...Array.from({ length: tail }, (_, i) => numClients - tail + i)];
  }
  const names = Array.from({ length: numClasses }, (_, k) => {
    const n = options.classNames?.[k];
    return n === undefined ? String(k) : `${k} ${n}`;
  });
  const rows: string[][] = [];
  rows.push(['label', ...shown.map((c) => (c === null ? '…' : `c${c}`)), 'total']);
  for (let k = 0; k < numClasses; k++) rows.push([names[k]!, ...shown.map((c) => (c === null ? '…' : String(counts[k]![c]!))), String(classTotals[k]!)]);
  rows.push(['total', ...shown.map((c) => (c === null ? '…' : String(clientSizes[c]!))), String(total)]);
  rows.push(['labels', ...shown.map((c) => (c === null ? '…' : String(labelsPerClient[c]!))), '']);
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  const lines = rows.map((r) => r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ').trimEnd());
  const sz = stats(clientSizes);
  const lp = stats(labelsPerClient);
  lines.push(
    `${numClients} clients, ${total} examples; examples per client min ${sz.min} / median ${sz.median} / max ${sz.max}; ` +
      `labels per client min ${lp.min} / mean ${lp.mean.toFixed(1)} / max ${lp.max}`,
  );
  return lines.join('\n');
}
