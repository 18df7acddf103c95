import os from 'node:os';
import { createRequire } from 'node:module';

/** The machine a benchmark ran on; every benchmark JSON line embeds it. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  totalMemGiB: number;
  platform: string;
  arch: string;
  node: string;
  tfjs: string;
}

export function machineInfo(): MachineInfo {
  const require = createRequire(import.meta.url);
  let tfjs = 'unknown';
  try {
    tfjs = (require('@tensorflow/tfjs/package.json') as { version: string }).version;
  } catch {
    // tfjs not resolvable from here; leave 'unknown'
  }
  const cpus = os.cpus();
  return {
    cores: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    tfjs,
  };
}
