// The client half of engine-key-held-watch*: what one gateway process would do on the call-path
// design's key workflow (docs/call-path-design.md, "Submitting and waiting"). Every call is sent at
// once as Update-with-Start; nothing queues callers here beyond the protocol. A held call answers
// with its result; an overflow call is acknowledged, and its result comes through the one `watch`
// this process keeps in flight per workflow. ResourceExhausted (the server's 10 updates in flight
// per workflow) is retried here with jittered backoff, and counted.
import { ApplicationFailure, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { heldCallUpdate, watchUpdate } from './shared.js';
import type { engineHeldWatchWorkflow } from './workflows.js';

// gRPC status codes (@grpc/grpc-js `status`), not imported: the bench has no direct dependency on it.
const RESOURCE_EXHAUSTED = 8;
const ABORTED = 10;
const UNAVAILABLE = 14;

/**
 * Backoff after the nth ResourceExhausted: 100 ms doubling to 2 s, each drawn from [0.5, 1.5) of
 * it (10 ms doubling to 500 ms made the refusals feed each other faster: docs/call-path-design.md).
 * A gateway would give up at `syncWaitMs` and refuse the call (nothing was accepted).
 */
const BACKOFF = { initialMs: 100, maxMs: 2000, giveUpAfterMs: 60_000 } as const;

export interface HeldWatchStats {
  /** Calls that were acknowledged without their result (the handler did not hold them). */
  overflowed: number;
  /** `call` updates re-sent after ResourceExhausted. */
  callRetries: number;
  /** `watch` updates sent (each returned at least one result). */
  watches: number;
  /** `watch` updates re-sent after ResourceExhausted. */
  watchRetries: number;
  /**
   * Updates the server aborted before acceptance and the SDK re-sent (UNAVAILABLE "workflow update
   * was aborted"). The server clears a workflow's cached state on any failed request, and with it
   * the updates admitted but not yet accepted (see connectWithoutResourceRetries).
   */
  abortedRetries: number;
  /**
   * Updates rejected with `UnprocessedUpdate` (delivered to the worker in a task that was then
   * lost to such a clear), re-sent here: a rejected update was not accepted, so re-sending is safe.
   */
  unprocessedRetries: number;
}

/**
 * A connection for this client alone. The SDK's default interceptor retries ResourceExhausted
 * itself (1 s initial backoff, 10 attempts) where it cannot be seen or counted: here it comes back
 * to this client, which counts it and re-sends. ABORTED is not re-sent either (the server uses it
 * for an Update-with-Start on a closing workflow, which never happens here: it would show as an
 * error). The interceptor still re-sends UNAVAILABLE, which is how an update aborted before acceptance comes back (server 1.29: a failed
 * request on a workflow, a refused 11th update included, releases its lock with an error, which
 * clears the workflow's cached state and its in-memory update registry); `onUnavailable` counts them.
 */
export async function connectWithoutResourceRetries(address: string, onUnavailable: () => void): Promise<Connection> {
  const defaults = defaultGrpcRetryOptions();
  return await Connection.connect({
    address,
    interceptors: [
      makeGrpcRetryInterceptor({
        delayFunction: defaults.delayFunction,
        retryableDecider: (attempt, status) => {
          if (status.code === RESOURCE_EXHAUSTED || status.code === ABORTED) return false;
          const retry = defaults.retryableDecider(attempt, status);
          if (retry && status.code === UNAVAILABLE) onUnavailable();
          return retry;
        },
      }),
    ],
  });
}

export function newHeldWatchStats(): HeldWatchStats {
  return { overflowed: 0, callRetries: 0, watches: 0, watchRetries: 0, abortedRetries: 0, unprocessedRetries: 0 };
}

export class HeldWatchClient {
  private readonly watchers = new Map<string, Watcher>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Shared with the connection, which counts the re-sends of aborted updates. */
    readonly stats: HeldWatchStats,
  ) {}

  /** Counts from now on only (the phase's measured part). */
  resetStats(): void {
    Object.assign(this.stats, newHeldWatchStats());
  }

  /** One call: its id is the update id, so a re-send after ResourceExhausted is the same call. */
  async call(workflowId: string, callId: string, message: string): Promise<string> {
    const answer = await retryResourceExhausted(
      () =>
        this.client.workflow.executeUpdateWithStart(heldCallUpdate, {
          args: [message],
          updateId: callId,
          // An operation can be used once: a new one per attempt.
          startWorkflowOperation: new WithStartWorkflowOperation<typeof engineHeldWatchWorkflow>('engineHeldWatchWorkflow', {
            workflowId,
            taskQueue: this.taskQueue,
            workflowIdConflictPolicy: 'USE_EXISTING',
            args: [],
          }),
        }),
      this.stats,
      'callRetries',
    );
    if ('result' in answer) return answer.result;
    this.stats.overflowed++;
    let watcher = this.watchers.get(workflowId);
    if (!watcher) {
      watcher = new Watcher(this.client, workflowId, this.stats);
      this.watchers.set(workflowId, watcher);
    }
    return await watcher.wait(callId);
  }
}

/** The one `watch` in flight for one workflow: re-sent, naming every call still waiting, until none is. */
class Watcher {
  private readonly waiting = new Map<string, { resolve: (result: string) => void; reject: (error: unknown) => void }>();
  private running = false;

  constructor(
    private readonly client: Client,
    private readonly workflowId: string,
    private readonly stats: HeldWatchStats,
  ) {}

  wait(callId: string): Promise<string> {
    const result = new Promise<string>((resolve, reject) => this.waiting.set(callId, { resolve, reject }));
    // A call that overflows while a watch is out joins the next one: calls end in acceptance
    // order, so the watch out returns no later than this call's result could.
    if (!this.running) void this.loop();
    return result;
  }

  private async loop(): Promise<void> {
    this.running = true;
    const handle = this.client.workflow.getHandle(this.workflowId);
    try {
      while (this.waiting.size > 0) {
        const callIds = [...this.waiting.keys()];
        this.stats.watches++;
        const results = await retryResourceExhausted(() => handle.executeUpdate(watchUpdate, { args: [callIds] }), this.stats, 'watchRetries');
        for (const [callId, result] of Object.entries(results)) {
          this.waiting.get(callId)?.resolve(result);
          this.waiting.delete(callId);
        }
      }
    } catch (error) {
      for (const { reject } of this.waiting.values()) reject(error);
      this.waiting.clear();
    } finally {
      this.running = false;
    }
  }
}

/** Re-sends an update refused before acceptance: ResourceExhausted (counted in `counter`) or UnprocessedUpdate. */
async function retryResourceExhausted<T>(send: () => Promise<T>, stats: HeldWatchStats, counter: 'callRetries' | 'watchRetries'): Promise<T> {
  const giveUpAt = Date.now() + BACKOFF.giveUpAfterMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const exhausted = isResourceExhausted(error);
      if ((!exhausted && !isUnprocessed(error)) || Date.now() > giveUpAt) throw error;
      stats[exhausted ? counter : 'unprocessedRetries']++;
      const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, ceiling * (0.5 + Math.random())));
    }
  }
}

function isUnprocessed(error: unknown): boolean {
  return error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === 'UnprocessedUpdate';
}

/** The SDK throws the gRPC error (for Update-with-Start with the update's own code set on it) or a ServiceError caused by it. */
export function isResourceExhausted(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === RESOURCE_EXHAUSTED) return true;
  }
  return false;
}

/** What a held-watch phase adds to its row (per measured call). */
export interface HeldWatchFigures {
  /** Share of calls acknowledged without their result, whose result came by `watch`. */
  overflowShare: number;
  /** ResourceExhausted retries per call, `call` and `watch` updates together, and each. */
  resourceExhaustedRetriesPerCall: number;
  callRetriesPerCall: number;
  watchRetriesPerCall: number;
  watchesPerCall: number;
  /** Re-sends the SDK made for updates aborted before acceptance, and re-sends after UnprocessedUpdate. */
  abortedRetriesPerCall: number;
  unprocessedRetriesPerCall: number;
}

export function heldWatchFigures(stats: HeldWatchStats, calls: number): HeldWatchFigures {
  const per = (x: number) => Math.round((x / Math.max(1, calls)) * 1000) / 1000;
  return {
    overflowShare: per(stats.overflowed),
    resourceExhaustedRetriesPerCall: per(stats.callRetries + stats.watchRetries),
    callRetriesPerCall: per(stats.callRetries),
    watchRetriesPerCall: per(stats.watchRetries),
    watchesPerCall: per(stats.watches),
    abortedRetriesPerCall: per(stats.abortedRetries),
    unprocessedRetriesPerCall: per(stats.unprocessedRetries),
  };
}
