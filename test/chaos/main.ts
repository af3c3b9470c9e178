// `npm run test:chaos`: the long chaos run. SWITCHYARD_CHAOS_SECONDS (default 300) sets how long
// faults are injected; SWITCHYARD_CHAOS_SEED repeats a run's fault schedule. Exits non-zero when
// an invariant broke.
import { runChaos } from './run.js';

const seconds = Number(process.env.SWITCHYARD_CHAOS_SECONDS ?? 300);
const seed = Number(process.env.SWITCHYARD_CHAOS_SEED ?? Date.now() % 1_000_000);
console.log(`# chaos: ${seconds} s of faults, seed ${seed} (SWITCHYARD_CHAOS_SEED=${seed} repeats the schedule)`);
const report = await runChaos({ durationMs: seconds * 1_000, keys: 6, faultEveryMs: [4_000, 12_000], downMs: [500, 3_000], seed, log: (line) => console.log(line) });
console.log(`\n${report.table}\n`);
process.exit(report.invariants.every((i) => i.held) ? 0 : 1);
