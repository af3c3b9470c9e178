// The machine a run happened on, recorded with every bench and soak result: figures from a
// shared 2-core box and a quiet 16-core one are not comparable.
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem, type } from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  temporalCli: string;
  note?: string;
}

export function machine(cliPath: string, note: string | undefined): Machine {
  const version = spawnSync(cliPath, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    temporalCli: version,
    ...(note ? { note } : {}),
  };
}
