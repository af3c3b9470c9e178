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

  if (mode.startsWith('engine-key-held-watch')) {
    const { figures, ...phase } = await runGatewayShapePhase(HELD_WATCH, options, run, check);
    return { ...phase, heldWatch: figures };
  }
  if (mode.startsWith('engine-key-signal-watch')) {
    const { figures, ...phase } = await runGatewayShapePhase(SIGNAL_WATCH, options, run, check);
    return { ...phase, signalWatch: figures };
  }

  const activity: KeyWorkflowInput['activity'] = mode.startsWith('engine-key-update-activity') ? 'regular' : mode.startsWith('engine-key-batch') ? 'local-batch' : 'local';
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
 * The call-path prototypes: the bench process plays one gateway, on its own connection without
 * the SDK's silent ResourceExhausted retries (connectWithoutResourceRetries), so a refusal fails
 * its call and shows in the row. Every call is sent at once, with no gate or client-side queue:
 *   engine-key-held-watch*: an Update-with-Start per call, up to 5 held, the rest acknowledged
 *     and collected by one watch (the first design, rejected);
 *   engine-key-signal-watch*: a held Update-with-Start under the client's share of the workflow's
 *     updates in flight, a Signal-with-Start over it, results by one watch (the chosen design).
 */
interface GatewayShape<Stats, Figures> {
  /** Part of the key workflow ids, so the two shapes never share a workflow. */
  label: string;
  /** Updates of one key's run per call, at most (a call and, for overflow, its share of watches). */
  updatesPerCall: number;
  newStats(): Stats;
  client(client: Client, stats: Stats): { call(workflowId: string, callId: string, message: string): Promise<string>; resetStats(): void; readonly stats: Stats };
  figures(stats: Stats, calls: number): Figures;
  abortedRetry(stats: Stats): void;
}

const HELD_WATCH: GatewayShape<ReturnType<typeof newHeldWatchStats>, HeldWatchFigures> = {
  label: 'held',
  updatesPerCall: 2,
  newStats: newHeldWatchStats,
  client: (client, stats) => new HeldWatchClient(client, ENGINE_TASK_QUEUE, stats),
  figures: heldWatchFigures,
  abortedRetry: (stats) => stats.abortedRetries++,
};

const SIGNAL_WATCH: GatewayShape<ReturnType<typeof newSignalWatchStats>, SignalWatchFigures> = {
  label: 'signal',
  updatesPerCall: 1,
  newStats: newSignalWatchStats,
  client: (client, stats) => new SignalWatchClient(client, ENGINE_TASK_QUEUE, stats),
  figures: signalWatchFigures,
  abortedRetry: (stats) => stats.abortedRetries++,
};

async function runGatewayShapePhase<Stats, Figures>(
  shape: GatewayShape<Stats, Figures>,
  options: EnginePhaseOptions,
  run: string,
  check: (sent: string, got: string) => void,
): Promise<EnginePhaseRun & { figures: Figures }> {
  const keys = options.mode.endsWith('one-key') ? 1 : options.concurrency;
  // Calls and watches are updates of one run: keep a one-key run within the server's total.
  const maxCalls = MAX_UPDATES_PER_RUN / shape.updatesPerCall;
  if (keys === 1 && options.calls + options.warmup > maxCalls) {
    throw new Error(`${options.mode}: calls + warmup must stay within ${maxCalls} (calls and watches are updates of one run)`);
  }
  const keyWorkflowIds = Array.from({ length: keys }, (_, i) => `bench-engine/${run}/${shape.label}/${i}`);
  if (!(options.client.connection instanceof Connection)) throw new Error('the bench client must be on a gRPC Connection');
  const stats = shape.newStats();
  const connection = await connectWithoutResourceRetries(options.client.connection.options.address, () => shape.abortedRetry(stats));
  try {
    const gateway = shape.client(new Client({ connection, namespace: options.client.options.namespace }), stats);
    const result = await closedLoop(
      options,
      async (clientIndex, n) => {
        const message = `m${n}`;
        const callId = `${run}-${n < 0 ? `w${-n}` : n}`;
        check(message, await withTimeout(options.callTimeoutMs, gateway.call(keyWorkflowIds[clientIndex % keys]!, callId, message)));
      },
      () => gateway.resetStats(),
    );
    return { ...result, keyWorkflowIds, figures: shape.figures(gateway.stats, result.latenciesMs.length) };
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
