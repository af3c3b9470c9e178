// The chaos suite: a mixed load (ordered keys, duplicate idempotency keys, deadlines, cancels,
// sagas) against a real stack while the worker, the gateway and the Temporal dev server are
// SIGKILLed at random moments and restarted. Afterwards it checks what must hold and prints a
// table of what was injected and what held. Used by `npm run test:chaos` (long) and by
// test/integration/chaos.test.ts (short, in CI).
//
// Faults go round the three process kinds in seeded random order, so every run (the 60 s one
// too) kills each kind, and each kill waits (briefly) for calls in flight at what it kills: a
// kill of an idle process proves nothing. The duplicate pairs call a non-idempotent tool and the
// check counts every request the fixture received for each logical call, with no dedupe: a
// broker that ran a call twice, or a client that sent one logical call under two keys, shows.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { pipeline, SagaServers } from '../support/infra-server.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

type Result = Awaited<ReturnType<McpClient['callTool']>>;
export type Target = 'worker' | 'gateway' | 'temporal';

export interface ChaosOptions {
  /** How long the load and the faults run. */
  durationMs: number;
  /** Ordered keys, each fed by its own sequential client. */
  keys: number;
  /** Pause between faults: a random value in this range. */
  faultEveryMs: [number, number];
  /** How long a killed process stays down. */
  downMs: [number, number];
  seed: number;
  log?: (line: string) => void;
}

export interface Invariant {
  name: string;
  held: boolean;
  detail: string;
}

/** One SIGKILL, and what was in flight at that moment. */
export interface Kill {
  target: Target;
  /** Milliseconds after the load started. */
  atMs: number;
  /** tools/call requests the load's clients were waiting on (at the gateway). */
  clientInFlight: number;
  /** Downstream requests the live worker had sent that had not finished (at the fixture). */
  downstreamInFlight: number;
  /** Calls were in flight at what was killed: requests at the gateway, downstream work of the worker, either for Temporal. */
  midCall: boolean;
}

export interface ChaosReport {
  faults: Record<Target, number>;
  kills: Kill[];
  accepted: Record<string, number>;
  invariants: Invariant[];
  table: string;
}

interface Accepted {
  kind: 'ordered' | 'duplicate' | 'deadline' | 'cancel';
  correlationId: string;
  key?: string;
  step?: number;
}

const FINAL = new Set(['completed', 'failed', 'deadline_exceeded', 'cancelled', 'dead_lettered']);

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = mulberry32(options.seed);
  const between = ([low, high]: [number, number]) => low + Math.floor(random() * (high - low));
  const servers = new SagaServers();
  const world = servers.world;
  // Sagas named fail-* fail at `enable`, so they compensate; the others complete.
  world.failWhen = (tool, args) => tool === 'enable' && (world.environments.get(String(args.id))?.name.startsWith('fail-') ?? false);
  await servers.start();
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 5_000,
    heartbeatTimeoutMs: 2_000,
    retry: { maxAttempts: 10, initialIntervalMs: 200, maxIntervalMs: 2_000 },
    configure: (config) => {
      config.servers.push(...servers.config());
    },
  });
  const faults: Record<Target, number> = { worker: 0, gateway: 0, temporal: 0 };
  const kills: Kill[] = [];
  const accepted: Accepted[] = [];
  const sagas: Array<{ sagaId: string; name: string; shouldFail: boolean }> = [];
  const duplicates: Array<{ key: string; ids: string[] }> = [];
  let retries = 0;
  let clientInFlight = 0;
  // Downstream requests started before the live worker did belong to a dead worker: not in flight.
  let workerSince = Date.now();

  try {
    await stack.start();
    const loadStarted = Date.now();
    const until = loadStarted + options.durationMs;
    const running = () => Date.now() < until;
    const downstreamInFlight = () => stack.fixture.executions.filter((e) => e.finishedAt === undefined && e.startedAt >= workerSince).length;

    /** A client that reconnects and repeats the request (same idempotency key) until it is answered. */
    const resilient = () => {
      let client: McpClient | undefined;
      return async (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}): Promise<Result> => {
        const giveUp = Date.now() + 180_000;
        for (;;) {
          try {
            client ??= await stack.client();
            clientInFlight++;
            try {
              return (await client.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 30_000 })) as Result;
            } finally {
              clientInFlight--;
            }
          } catch (error) {
            if (error instanceof McpError && error.code === -32602) throw error; // a bad request is a bug in this test
            retries++;
            await client?.close().catch(() => undefined);
            client = undefined;
            if (Date.now() > giveUp) throw error;
            await sleep(300);
          }
        }
      };
    };
    // Long deadlines for work that must complete: a fault must not turn it into a deadline miss.
    const ASYNC = { 'switchyard/accept_async': true, 'switchyard/deadline_ms': 600_000 };

    const ordered = async (k: number) => {
      const call = resilient();
      const key = `chaos-${k}`;
      for (let step = 0; running(); step++) {
        const result = await call('fixture.record', { key, step }, { ...ASYNC, 'switchyard/ordering_key': key, 'switchyard/idempotency_key': `${key}-${step}` });
        accepted.push({ kind: 'ordered', correlationId: correlationIdOf(result), key, step });
      }
    };
    // Two clients send the same logical call (a non-idempotent change, 1 s long so kills catch it
    // running) with one idempotency key; the fixture's raw request count for it must stay at most 1.
    const duplicate = async () => {
      const a = resilient();
      const b = resilient();
      for (let i = 0; running(); i++) {
        const key = `dup-${i}`;
        const meta = { ...ASYNC, 'switchyard/idempotency_key': key };
        const results = await Promise.all([a('fixture.apply', { key, ms: 1_000 }, meta), b('fixture.apply', { key, ms: 1_000 }, meta)]);
        const ids = results.map(correlationIdOf);
        duplicates.push({ key, ids });
        accepted.push({ kind: 'duplicate', correlationId: ids[0]!, key });
        await sleep(200);
      }
    };
    const deadlines = async () => {
      const call = resilient();
      for (let i = 0; running(); i++) {
        const result = await call('fixture.slow', { ms: 3_000, tag: `deadline-${i}` }, { ...ASYNC, 'switchyard/idempotency_key': `deadline-${i}`, 'switchyard/deadline_ms': 1_000 });
        accepted.push({ kind: 'deadline', correlationId: correlationIdOf(result) });
        await sleep(500);
      }
    };
    const cancels = async () => {
      const call = resilient();
      for (let i = 0; running(); i++) {
        const result = await call('fixture.slow', { ms: 120_000, tag: `cancel-${i}` }, { ...ASYNC, 'switchyard/idempotency_key': `cancel-${i}` });
        const correlationId = correlationIdOf(result);
        accepted.push({ kind: 'cancel', correlationId });
        await sleep(300);
        await call('switchyard.cancel_call', { correlation_id: correlationId });
        await sleep(500);
      }
    };
    const sagaLoad = async () => {
      const call = resilient();
      for (let i = 0; running(); i++) {
        const shouldFail = i % 2 === 1;
        const name = `${shouldFail ? 'fail' : 'ok'}-${i}`;
        const result = await call('switchyard.run_saga', { steps: pipeline(name), idempotency_key: `saga-${name}`, accept_async: true });
        sagas.push({ sagaId: (result.structuredContent as { saga_id: string }).saga_id, name, shouldFail });
        await sleep(1_000);
      }
    };

    const inFlightAt: Record<Target, () => boolean> = {
      worker: () => downstreamInFlight() > 0,
      gateway: () => clientInFlight > 0,
      temporal: () => clientInFlight + downstreamInFlight() > 0,
    };
    const injector = async () => {
      let round: Target[] = [];
      while (running()) {
        await sleep(between(options.faultEveryMs));
        if (!running()) break;
        // Each kind once per round, in seeded random order.
        if (round.length === 0) round = shuffled(['worker', 'gateway', 'temporal'], random);
        const target = round.pop()!;
        // Aim at a moment with calls in flight at the target; after 5 s kill anyway (and the
        // report shows the kill was not mid-call).
        const aimUntil = Date.now() + 5_000;
        while (!inFlightAt[target]() && Date.now() < aimUntil) await sleep(20);
        const kill: Kill = { target, atMs: Date.now() - loadStarted, clientInFlight, downstreamInFlight: downstreamInFlight(), midCall: inFlightAt[target]() };
        kills.push(kill);
        faults[target]++;
        log(`# chaos: SIGKILL ${target} at ${(kill.atMs / 1000).toFixed(1)} s (${kill.clientInFlight} client requests, ${kill.downstreamInFlight} downstream requests in flight)`);
        if (target === 'temporal') await stack.temporal.kill();
        else await stack.kill(target);
        await sleep(between(options.downMs));
        if (target === 'temporal') await stack.temporal.start();
        else if (target === 'worker') {
          workerSince = Date.now();
          await stack.startWorker();
        } else await stack.startGateway();
      }
    };

    await Promise.all([...Array.from({ length: options.keys }, (_, k) => ordered(k)), duplicate(), deadlines(), cancels(), sagaLoad(), injector()]);
    log(`# chaos: load done (${accepted.length} calls, ${sagas.length} sagas accepted, ${retries} client retries); waiting for everything to settle`);

    // Recovery: everything is up again; every accepted call and saga must reach an end.
    const check = resilient();
    const outcomes = new Map<string, { status: string; reason?: string; text?: string }>();
    for (const call of accepted) {
      const view = await waitFor(
        `call ${call.correlationId} to end`,
        async () => {
          const result = await check('switchyard.get_call', { correlation_id: call.correlationId });
          const structured = result.structuredContent as { status: string; dead_letter?: { reason?: string } };
          return FINAL.has(structured.status) ? { ...structured, text: textOf(result) } : undefined;
        },
        300_000,
        250,
      );
      outcomes.set(call.correlationId, { status: view.status, text: view.text, ...(view.dead_letter?.reason !== undefined ? { reason: view.dead_letter.reason } : {}) });
    }
    const sagaStates = new Map<string, { state: string; steps: Array<{ step: string; may_have_run: boolean; compensation: { state: string } }> }>();
    for (const saga of sagas) {
      const view = await waitFor(
        `saga ${saga.sagaId} to end`,
        async () => {
          const result = await check('switchyard.get_saga', { saga_id: saga.sagaId });
          const structured = result.structuredContent as { state: string; steps: Array<{ step: string; may_have_run: boolean; compensation: { state: string } }> };
          return ['completed', 'compensated', 'failed_compensation'].includes(structured.state) ? structured : undefined;
        },
        300_000,
        250,
      );
      sagaStates.set(saga.sagaId, view);
    }

    const invariants: Invariant[] = [];
    const hold = (name: string, problems: string[], ok: string) =>
      invariants.push({ name, held: problems.length === 0, detail: problems.length === 0 ? ok : problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (+${problems.length - 5} more)` : '') });

    // 1. Every accepted call ended exactly once, or sits in the dead-letter list with a reason.
    // (fixture.record is idempotent: the broker may repeat it, and the fixture applies a
    // correlation id once. What counts here is that a completed step took effect.)
    const appliedCount = new Map<string, number>();
    for (const a of stack.fixture.applied) if (a.correlationId) appliedCount.set(a.correlationId, (appliedCount.get(a.correlationId) ?? 0) + 1);
    const expectations: Record<Accepted['kind'], (status: string) => boolean> = {
      ordered: (s) => s === 'completed' || s === 'dead_lettered',
      duplicate: (s) => s === 'completed' || s === 'dead_lettered',
      deadline: (s) => s === 'deadline_exceeded',
      cancel: (s) => s === 'cancelled',
    };
    const wrong: string[] = [];
    for (const call of accepted) {
      const outcome = outcomes.get(call.correlationId)!;
      if (!expectations[call.kind](outcome.status)) wrong.push(`${call.kind} ${call.correlationId}: ${outcome.status} (${outcome.text?.slice(0, 200)})`);
      if (outcome.status === 'dead_lettered' && outcome.reason === undefined) wrong.push(`${call.correlationId}: dead-lettered without a reason`);
      const applied = appliedCount.get(call.correlationId) ?? 0;
      if (call.kind === 'ordered' && outcome.status === 'completed' && applied !== 1) wrong.push(`${call.correlationId}: applied ${applied} times`);
    }
    const deadLettered = [...outcomes.values()].filter((o) => o.status === 'dead_lettered').length;
    hold('every accepted call ended once (or is a dead letter with a reason)', wrong, `${accepted.length} calls; ${deadLettered} dead-lettered`);

    // 2. Per-key order: what took effect on a key is the acceptance order, nothing lost.
    const disorder: string[] = [];
    for (let k = 0; k < options.keys; k++) {
      const key = `chaos-${k}`;
      const expected = accepted.filter((a) => a.key === key && outcomes.get(a.correlationId)?.status === 'completed').map((a) => a.step);
      const got = stack.fixture.applied.filter((a) => a.key === key).map((a) => a.step);
      if (JSON.stringify(got) !== JSON.stringify(expected)) disorder.push(`${key}: applied ${JSON.stringify(got.slice(0, 20))}…, accepted ${JSON.stringify(expected.slice(0, 20))}…`);
    }
    const steps = accepted.filter((a) => a.kind === 'ordered').length;
    hold('per-key order held, nothing lost', disorder, `${options.keys} keys, ${steps} steps`);

    // 3. Duplicate idempotency keys: one call, and its non-idempotent effect executed at most once
    // (exactly once when it completed), counted from every request the fixture received for the
    // logical call (its `key` argument), whatever its correlation or idempotency key: no dedupe.
    const executed = new Map<string, Array<{ correlationId?: string; idempotencyKey?: string }>>();
    for (const e of stack.fixture.executionsOf('apply')) {
      const key = String(e.args.key);
      executed.set(key, [...(executed.get(key) ?? []), { ...(e.correlationId !== undefined ? { correlationId: e.correlationId } : {}), ...(e.idempotencyKey !== undefined ? { idempotencyKey: e.idempotencyKey } : {}) }]);
    }
    const split = duplicates.filter((d) => d.ids[0] !== d.ids[1]).map((d) => `${d.key}: two calls ${d.ids.join(', ')}`);
    hold('a duplicate idempotency key is one call', split, `${duplicates.length} pairs`);
    const repeated: string[] = [];
    let completedOnce = 0;
    for (const d of duplicates) {
      const requests = executed.get(d.key) ?? [];
      const status = outcomes.get(d.ids[0]!)?.status;
      const seen = `${requests.length} requests (${requests.map((r) => `${r.correlationId?.slice(0, 8)}/${r.idempotencyKey}`).join(', ')})`;
      if (requests.length > 1) repeated.push(`${d.key} (${status}): executed ${seen}`);
      else if (status === 'completed' && requests.length !== 1) repeated.push(`${d.key}: completed but executed ${seen}`);
      else if (status === 'completed') completedOnce++;
    }
    hold('each duplicated non-idempotent call executed at most once, exactly once when completed', repeated, `${duplicates.length} pairs, ${completedOnce} completed with exactly one request`);

    // 0. The faults hit live work: every process kind was killed at least once with calls in flight at it.
    const missed = (['worker', 'gateway', 'temporal'] as const).filter((t) => !kills.some((k) => k.target === t && k.midCall)).map((t) => `${t}: no kill with calls in flight (${kills.filter((k) => k.target === t).length} kills)`);
    invariants.unshift({
      name: 'each process kind was killed mid-load, with calls in flight',
      held: missed.length === 0,
      detail: missed.length === 0 ? kills.map((k) => `${k.target}@${(k.atMs / 1000).toFixed(0)}s ${k.clientInFlight}c/${k.downstreamInFlight}d`).join(', ') : missed.join('; '),
    });

    // 4. Sagas: completed ones left their environment; compensated ones left nothing; no compensation skipped.
    const sagaProblems: string[] = [];
    for (const saga of sagas) {
      const view = sagaStates.get(saga.sagaId)!;
      const envs = world.snapshot().filter((e) => e.name === saga.name);
      if (view.state === 'completed') {
        if (saga.shouldFail) sagaProblems.push(`${saga.name}: completed but enable should have failed`);
        if (envs.length !== 1 || !envs[0]!.enabled || envs[0]!.settings.tier !== 'gold') sagaProblems.push(`${saga.name}: completed, but the environment is ${JSON.stringify(envs)}`);
      } else if (view.state === 'compensated') {
        if (envs.length !== 0) sagaProblems.push(`${saga.name}: compensated, but left ${JSON.stringify(envs)}`);
        for (const step of view.steps) {
          if (step.may_have_run && step.compensation.state !== 'compensated') sagaProblems.push(`${saga.name}: step ${step.step} may have run but its compensation is ${step.compensation.state}`);
        }
      } else {
        sagaProblems.push(`${saga.name}: ${view.state}`);
      }
    }
    const compensated = [...sagaStates.values()].filter((v) => v.state === 'compensated').length;
    hold('sagas: no compensation skipped, state matches the outcome', sagaProblems, `${sagas.length} sagas, ${compensated} compensated`);

    const counts: Record<string, number> = {};
    for (const a of accepted) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
    counts.saga = sagas.length;
    const table = [
      '| injected | count |',
      '|---|---|',
      ...(['worker', 'gateway', 'temporal'] as const).map((t) => `| SIGKILL ${t} (with calls in flight) | ${faults[t]} (${kills.filter((k) => k.target === t && k.midCall).length}) |`),
      `| client retries (repeated with the same idempotency key) | ${retries} |`,
      '',
      '| accepted | count |',
      '|---|---|',
      ...Object.entries(counts).map(([k, v]) => `| ${k} | ${v} |`),
      '',
      '| invariant | held | detail |',
      '|---|---|---|',
      ...invariants.map((i) => `| ${i.name} | ${i.held ? 'yes' : '**NO**'} | ${i.detail} |`),
    ].join('\n');
    return { faults, kills, accepted: counts, invariants, table };
  } finally {
    await stack.stop();
    await servers.stop();
  }
}

/** A seeded Fisher-Yates shuffle. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A small seeded PRNG, so a run's fault schedule can be repeated with its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
