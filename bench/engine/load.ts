// The engine floor's load: the same closed loop as the MCP modes (closed-loop.ts), with the
// Temporal client in the gateway's place. One client (one gRPC connection) serves the N callers,
// as the gateway's one connection serves its N sessions.
import { Client, Connection } from '@temporalio/client';
import { closedLoop, type PhaseRun } from '../closed-loop.js';
import type { EngineMode } from '../modes.js';
import { connectWithoutResourceRetries, HeldWatchClient, heldWatchFigures, newHeldWatchStats, type HeldWatchFigures } from './held-watch.js';
import { newSignalWatchStats, SignalWatchClient, signalWatchFigures, type SignalWatchFigures } from './signal-watch.js';
import { callUpdate, ENGINE_TASK_QUEUE, MAX_IN_FLIGHT_UPDATES, MAX_UPDATES_PER_RUN, type KeyWorkflowInput } from './shared.js';
import type { engineCallLocalWorkflow, engineCallWorkflow, engineKeyWorkflow } from './workflows.js';

export interface EnginePhaseOptions {
  mode: EngineMode;
  concurrency: number;
  calls: number;
  warmup: number;
  client: Client;
  callTimeoutMs: number;
}

export interface EnginePhaseRun extends PhaseRun {
  /** The key workflows of a keyed mode (the bench reads their histories, then terminates them). */
  keyWorkflowIds: string[];
  /** engine-key-held-watch*: overflow and ResourceExhausted figures. */
  heldWatch?: HeldWatchFigures;
  /** engine-key-signal-watch*: signal share, watches and ResourceExhausted figures. */
  signalWatch?: SignalWatchFigures;
}

export async function runEnginePhase(options: EnginePhaseOptions): Promise<EnginePhaseRun> {
  const { mode, client } = options;
  const run = Math.random().toString(36).slice(2, 8);
  const check = (sent: string, got: string) => {
    if (got !== sent) throw new Error(`echo answered ${JSON.stringify(got)} to ${JSON.stringify(sent)}`);
  };

  if (mode === 'engine-call' || mode === 'engine-call-local') {
    const type = mode === 'engine-call' ? 'engineCallWorkflow' : 'engineCallLocalWorkflow';
    const result = await closedLoop(options, async (clientIndex, n) => {
      const message = `m${n}`;
      // Start, then long-poll the result: what the gateway does for an unordered call.
      const got = await withTimeout(options.callTimeoutMs, client.workflow.execute<typeof engineCallWorkflow | typeof engineCallLocalWorkflow>(type, {
        workflowId: `bench-engine/${run}/call/${n}`,
        taskQueue: ENGINE_TASK_QUEUE,
        args: [message],
      }));
      check(message, got);
    });
    return { ...result, keyWorkflowIds: [] };
  }

  if (mode.startsWith('engine-key-held-watch')) return await runHeldWatchPhase(options, run, check);
  if (mode.startsWith('engine-key-signal-watch')) return await runSignalWatchPhase(options, run, check);

  const activity: KeyWorkflowInput['activity'] = mode.startsWith('engine-key-update-activity') ? 'regular' : 'local';
  const keys = mode.endsWith('one-key') ? 1 : options.concurrency;
  const keyWorkflowIds = Array.from({ length: keys }, (_, i) => `bench-engine/${run}/key/${i}`);
  // The key workflows exist before the first call (a gateway would use update-with-start only for
  // a key's first call); their start is counted in the history costs all the same.
  const handles = await Promise.all(
    keyWorkflowIds.map((workflowId) =>
      client.workflow.start<typeof engineKeyWorkflow>('engineKeyWorkflow', { workflowId, taskQueue: ENGINE_TASK_QUEUE, args: [{ activity }] }),
    ),
  );
  const gates = handles.map(() => new Gate(MAX_IN_FLIGHT_UPDATES));
  const result = await closedLoop(options, async (clientIndex, n) => {
    const key = clientIndex % keys;
    const message = `m${n}`;
    await gates[key]!.enter();
    try {
      check(message, await withTimeout(options.callTimeoutMs, handles[key]!.executeUpdate(callUpdate, { args: [message] })));
    } finally {
      gates[key]!.leave();
    }
  });
  return { ...result, keyWorkflowIds };
}

/**
 * engine-key-held-watch*: every call is an Update-with-Start sent at once (no gate: the point of
 * the shape is that every call is durably accepted at once); the first call of a key starts its
 * workflow. The client is its own connection (see connectWithoutResourceRetries) and plays one
 * gateway.
 */
async function runHeldWatchPhase(options: EnginePhaseOptions, run: string, check: (sent: string, got: string) => void): Promise<EnginePhaseRun> {
  const keys = options.mode.endsWith('one-key') ? 1 : options.concurrency;
  // Watches are updates too, at most one per overflow call: keep a run within the server's total.
  if (keys === 1 && 2 * (options.calls + options.warmup) > MAX_UPDATES_PER_RUN) {
    throw new Error(`${options.mode}: calls + warmup must stay within ${MAX_UPDATES_PER_RUN / 2} (calls and watches are updates of one run)`);
  }
  const keyWorkflowIds = Array.from({ length: keys }, (_, i) => `bench-engine/${run}/held/${i}`);
  if (!(options.client.connection instanceof Connection)) throw new Error('the bench client must be on a gRPC Connection');
  const stats = newHeldWatchStats();
  const connection = await connectWithoutResourceRetries(options.client.connection.options.address, () => stats.abortedRetries++);
  try {
    const gateway = new HeldWatchClient(new Client({ connection, namespace: options.client.options.namespace }), ENGINE_TASK_QUEUE, stats);
    const result = await closedLoop(
      options,
      async (clientIndex, n) => {
        const message = `m${n}`;
        const callId = `${run}-${n < 0 ? `w${-n}` : n}`;
        check(message, await withTimeout(options.callTimeoutMs, gateway.call(keyWorkflowIds[clientIndex % keys]!, callId, message)));
      },
      () => gateway.resetStats(),
    );
    return { ...result, keyWorkflowIds, heldWatch: heldWatchFigures(gateway.stats, result.latenciesMs.length) };
  } finally {
    await connection.close();
  }
}

/**
 * engine-key-signal-watch*: every call is sent at once, as a held Update-with-Start under the
 * client's share of the workflow's updates in flight or by Signal-with-Start over it (no gate, no
 * queue). Its own connection without ResourceExhausted retries, as held-watch's, so a refusal
 * fails its call and shows in the row.
 */
async function runSignalWatchPhase(options: EnginePhaseOptions, run: string, check: (sent: string, got: string) => void): Promise<EnginePhaseRun> {
  const keys = options.mode.endsWith('one-key') ? 1 : options.concurrency;
  // A call is one update (held) or a signal and at most one watch: keep a run within the server's total.
  if (keys === 1 && options.calls + options.warmup > MAX_UPDATES_PER_RUN) {
    throw new Error(`${options.mode}: calls + warmup must stay within ${MAX_UPDATES_PER_RUN} (calls and watches are updates of one run)`);
  }
  const keyWorkflowIds = Array.from({ length: keys }, (_, i) => `bench-engine/${run}/signal/${i}`);
  if (!(options.client.connection instanceof Connection)) throw new Error('the bench client must be on a gRPC Connection');
  const stats = newSignalWatchStats();
  const connection = await connectWithoutResourceRetries(options.client.connection.options.address, () => stats.abortedRetries++);
  try {
    const gateway = new SignalWatchClient(new Client({ connection, namespace: options.client.options.namespace }), ENGINE_TASK_QUEUE, stats);
    const result = await closedLoop(
      options,
      async (clientIndex, n) => {
        const message = `m${n}`;
        const callId = `${run}-${n < 0 ? `w${-n}` : n}`;
        check(message, await withTimeout(options.callTimeoutMs, gateway.call(keyWorkflowIds[clientIndex % keys]!, callId, message)));
      },
      () => gateway.resetStats(),
    );
    return { ...result, keyWorkflowIds, signalWatch: signalWatchFigures(gateway.stats, result.latenciesMs.length) };
  } finally {
    await connection.close();
  }
}

/** At most `limit` holders at once; the rest wait in arrival order. */
class Gate {
  private held = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async enter(): Promise<void> {
    if (this.held < this.limit) {
      this.held++;
      return;
    }
    await new Promise<void>((done) => this.waiting.push(done));
  }

  leave(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.held--;
  }
}

async function withTimeout<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
