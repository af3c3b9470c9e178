// The load shape every mode shares: N clients, each with at most one call in flight, calling back
// to back (a closed loop) until the phase's calls are used up; warm-up calls first, unmeasured.
// Throughput is calls / wall time of the measured part.
import { performance } from 'node:perf_hooks';

export interface PhaseRun {
  latenciesMs: number[];
  errors: number;
  firstError?: string;
  durationMs: number;
}

/**
 * `call(client, n)` makes call n (negative for warm-up) from client `client`; it throws on a wrong
 * answer. `measuring()` runs once, between the warm-up and the measured calls.
 */
export async function closedLoop(
  options: { concurrency: number; calls: number; warmup: number },
  call: (clientIndex: number, n: number) => Promise<void>,
  measuring?: () => void,
): Promise<PhaseRun> {
  let errors = 0;
  let firstError: string | undefined;
  const timed = async (clientIndex: number, n: number): Promise<number> => {
    const started = performance.now();
    try {
      await call(clientIndex, n);
    } catch (error) {
      errors++;
      firstError ??= String(error);
    }
    return performance.now() - started;
  };
  const clients = Array.from({ length: options.concurrency }, (_, i) => i);

  // Warm-up (not measured): every connection is open and the JIT is warm.
  let warm = 0;
  await Promise.all(clients.map(async (i) => {
    while (warm < options.warmup) await timed(i, -++warm);
  }));
  errors = 0;
  firstError = undefined;
  measuring?.();

  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(clients.map(async (i) => {
    while (next < options.calls) latenciesMs.push(await timed(i, next++));
  }));
  return { latenciesMs, errors, ...(firstError !== undefined ? { firstError } : {}), durationMs: performance.now() - started };
}
