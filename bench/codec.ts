// `npm run bench:codec`: what the AES-256-GCM payload codec (src/temporal/codec.ts) costs per
// payload, by size: microseconds per encode and decode on one core, and the bytes it adds.
// No Temporal: the end-to-end cost is `npm run bench -- --encrypt`. Writes <out>/codec.json.
//   --out DIR   BENCH_OUT   where the result goes (default bench/results)
//   --note TEXT BENCH_NOTE  recorded with the machine
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec } from '../src/temporal/codec.js';
import { findTemporalCli } from '../src/temporal/cli-path.js';
import { machine } from './machine.js';
import { round } from './report.js';

const SIZES: Array<[string, number]> = [
  ['64 B', 64],
  ['1 KiB', 1024],
  ['256 KiB', 256 * 1024],
  ['1.5 MiB', 1.5 * 1024 * 1024],
];

/** Runs `op` for at least `ms` (after a warm-up) and returns microseconds per call. */
async function perOp(op: () => Promise<unknown>, ms = 500): Promise<number> {
  for (let i = 0; i < 20; i++) await op();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms * 1e6) {
    for (let i = 0; i < 10; i++) await op();
    n += 10;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / n / 1e3;
}

const size = (p: Payload) => (p.data?.length ?? 0) + Object.entries(p.metadata ?? {}).reduce((sum, [k, v]) => sum + k.length + (v?.length ?? 0), 0);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, note: { type: 'string' } } });
  const out = resolve(values.out ?? process.env.BENCH_OUT ?? join(import.meta.dirname, 'results'));
  const codec = new AesGcmCodec([{ id: 'bench', key: randomBytes(32) }], 'bench');
  const rows = [];
  for (const [label, bytes] of SIZES) {
    // A JSON string of `bytes` characters, as a tool's arguments or result would be.
    const plain = defaultPayloadConverter.toPayload('x'.repeat(bytes - 2));
    const [encrypted] = await codec.encode([plain]);
    const encodeUs = await perOp(() => codec.encode([plain]));
    const decodeUs = await perOp(() => codec.decode([encrypted!]));
    rows.push({ size: label, payloadBytes: size(plain), encodeUs: round(encodeUs, 1), decodeUs: round(decodeUs, 1), overheadBytes: size(encrypted!) - size(plain) });
  }
  const cli = findTemporalCli(process.env);
  const result = { format: 'switchyard-bench-codec/1', date: new Date().toISOString(), machine: cli ? machine(cli, values.note ?? process.env.BENCH_NOTE) : undefined, cipher: 'AES-256-GCM', rows };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'codec.json'), `${JSON.stringify(result, null, 2)}\n`);
  const lines = ['| Payload | encode µs | decode µs | bytes added |', '|---|---:|---:|---:|', ...rows.map((r) => `| ${r.size} | ${r.encodeUs} | ${r.decodeUs} | ${r.overheadBytes} |`)];
  process.stdout.write(`${lines.join('\n')}\n\nWrote ${join(out, 'codec.json')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:codec: ${(error as Error).message}\n`);
  process.exit(1);
});
