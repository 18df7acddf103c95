#!/usr/bin/env node
// Runs the Fashion-MNIST rows of NIID-Bench (Li et al., ICDE 2022, Table III) with Flock:
// every (partition, strategy) cell of the table as one `flock sim` run recorded under
// runs/niid-bench/<cell>/, then prints the table (markdown) and writes results.json.
//
//   node examples/niid-bench-fmnist/run.mjs [--rounds N] [--data DIR] [--only CELL,...]
//
// Cells already recorded (a summary.json exists) are skipped, so an interrupted run resumes.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string', default: join(root, 'runs/niid-bench') },
    only: { type: 'string' },
  },
});

export const PARTITIONS = [
  { label: 'homogeneous', spec: 'iid' },
  { label: 'Dir(0.5)', spec: 'dirichlet:0.5' },
  { label: '#C=1', spec: 'shards:1' },
  { label: '#C=2', spec: 'shards:2' },
  { label: '#C=3', spec: 'shards:3' },
];
// NIID-Bench's default proximal weight (its run scripts use --mu=0.01).
export const STRATEGIES = [
  { label: 'FedAvg', spec: 'fedavg' },
  { label: 'FedProx', spec: 'fedprox:mu=0.01' },
];

const only = values.only ? new Set(values.only.split(',')) : null;
const flock = join(root, 'packages/cli/bin/flock.mjs');
const results = [];
for (const p of PARTITIONS) {
  for (const s of STRATEGIES) {
    const cell = `${p.spec.replace(':', '-')}_${s.spec.split(':')[0]}`;
    const dir = join(values.out, cell);
    if (only && !only.has(cell)) continue;
    if (!existsSync(join(dir, 'summary.json'))) {
      mkdirSync(values.out, { recursive: true });
      const args = [flock, 'sim', '--config', join(here, 'base.json'), '--partition', p.spec, '--strategy', s.spec, '--out', dir, '--json', '--quiet'];
      if (values.rounds) args.push('--rounds', values.rounds);
      if (values.data) args.push('--data', values.data);
      process.stderr.write(`niid-bench: ${p.label} / ${s.label} -> ${dir}\n`);
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      if (r.status !== 0) {
        process.stderr.write(`niid-bench: ${cell} failed with exit code ${r.status}\n`);
        process.exitCode = 1;
        continue;
      }
    }
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    results.push({ ...summary, partition: p.label, strategy: s.label, cell });
  }
}
writeFileSync(join(values.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
const pct = (x) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'n/a');
console.log('| partition | ' + STRATEGIES.map((s) => s.label).join(' | ') + ' |');
console.log('|---|' + STRATEGIES.map(() => '---').join('|') + '|');
for (const p of PARTITIONS) {
  const row = STRATEGIES.map((s) => pct(results.find((r) => r.partition === p.label && r.strategy === s.label)?.accuracy));
  console.log(`| ${p.label} | ${row.join(' | ')} |`);
}
