// The client half of engine-key-signal-watch*: one gateway on the revised call path
// (docs/call-path-design.md, "Submitting and waiting"). Per workflow it keeps at most UPDATES_SHARE
// updates in flight, its held calls and its one `watch` together. Under the share a call is an
// Update-with-Start of `call` that holds until the result; over it the call is sent by
// Signal-with-Start of `enqueue` (durably accepted once the signal returns) and its result comes
// through the watch. Every call is sent at once: there is no queue of calls not yet accepted.
// ResourceExhausted is not retried anywhere (see connectWithoutResourceRetries): it is an error of
// the call, and counted, since this shape should never cause one.
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { enqueueSignal, signalWatchCallUpdate, UPDATES_SHARE, watchUpdate } from './shared.js';
import { isResourceExhausted } from './held-watch.js';
import type { engineSignalWatchWorkflow } from './workflows.js';


export interface SignalWatchStats {
  /** Calls sent as a held `call` update. */
  held: number;
  /** Calls sent by Signal-with-Start, whose result came by `watch`. */
  signalled: number;
  /** `watch` updates sent. */
  watches: number;
  /** Requests (call, signal or watch) refused with ResourceExhausted: each failed its call(s). */
  resourceExhausted: number;
  /** Updates the server aborted before acceptance and the SDK re-sent (UNAVAILABLE), as in held-watch.ts. */
  abortedRetries: number;
  /** Most updates this client had in flight on one workflow at once (never above UPDATES_SHARE). */
  peakInFlight: number;
}

export function newSignalWatchStats(): SignalWatchStats {
  return { held: 0, signalled: 0, watches: 0, resourceExhausted: 0, abortedRetries: 0, peakInFlight: 0 };
}

/** What this client knows of one workflow: its updates in flight and the signalled calls waiting. */
interface WorkflowState {
  inFlight: number;
  watching: boolean;
  waiting: Map<string, { resolve: (result: string) => void; reject: (error: unknown) => void }>;
}

export class SignalWatchClient {
  private readonly workflows = new Map<string, WorkflowState>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Shared with the connection, which counts the re-sends of aborted updates. */
    readonly stats: SignalWatchStats,
  ) {}

  /** Counts from now on only (the phase's measured part). */
  resetStats(): void {
    Object.assign(this.stats, newSignalWatchStats());
  }

  async call(workflowId: string, callId: string, message: string): Promise<string> {
    const state = this.state(workflowId);
    if (state.inFlight < UPDATES_SHARE) {
      this.stats.held++;
      this.enter(state);
      try {
        return await this.counted(() =>
          this.client.workflow.executeUpdateWithStart(signalWatchCallUpdate, {
            args: [message],
            updateId: callId,
            startWorkflowOperation: new WithStartWorkflowOperation<typeof engineSignalWatchWorkflow>('engineSignalWatchWorkflow', {
              workflowId,
              taskQueue: this.taskQueue,
              workflowIdConflictPolicy: 'USE_EXISTING',
              args: [],
            }),
          }),
        );
      } finally {
        this.leave(workflowId, state);
      }
    }
    this.stats.signalled++;
    // Signal-with-Start signals the running workflow or starts it (USE_EXISTING by nature).
    await this.counted(() =>
      this.client.workflow.signalWithStart<typeof engineSignalWatchWorkflow, [string, string]>('engineSignalWatchWorkflow', {
        workflowId,
        taskQueue: this.taskQueue,
        args: [],
        signal: enqueueSignal,
        signalArgs: [callId, message],
      }),
    );
    // Accepted: only now may a watch name it (a watch naming a call not yet queued would wait for nothing).
    const result = new Promise<string>((resolve, reject) => state.waiting.set(callId, { resolve, reject }));
    this.pump(workflowId, state);
    return await result;
  }

  private state(workflowId: string): WorkflowState {
    let state = this.workflows.get(workflowId);
    if (!state) {
      state = { inFlight: 0, watching: false, waiting: new Map() };
      this.workflows.set(workflowId, state);
    }
    return state;
  }

  private enter(state: WorkflowState): void {
    state.inFlight++;
    this.stats.peakInFlight = Math.max(this.stats.peakInFlight, state.inFlight);
  }

  /** A slot freed: the watch, if calls wait for it, takes it before any new call can. */
  private leave(workflowId: string, state: WorkflowState): void {
    state.inFlight--;
    this.pump(workflowId, state);
  }

  /** Sends the one watch if calls wait for their results, none is out, and the share has room. */
  private pump(workflowId: string, state: WorkflowState): void {
    if (state.watching || state.waiting.size === 0 || state.inFlight >= UPDATES_SHARE) return;
    state.watching = true;
    this.enter(state);
    this.stats.watches++;
    const callIds = [...state.waiting.keys()];
    const handle = this.client.workflow.getHandle(workflowId);
    this.counted(() => handle.executeUpdate(watchUpdate, { args: [callIds] })).then(
      (results) => {
        for (const [callId, result] of Object.entries(results)) {
          state.waiting.get(callId)?.resolve(result);
          state.waiting.delete(callId);
        }
      },
      (error: unknown) => {
        // No retry: the calls it named fail, so the error is visible in the row.
        for (const callId of callIds) {
          state.waiting.get(callId)?.reject(error);
          state.waiting.delete(callId);
        }
      },
    ).finally(() => {
      state.watching = false;
      this.leave(workflowId, state);
    });
  }

  private async counted<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (isResourceExhausted(error)) this.stats.resourceExhausted++;
      throw error;
    }
  }
}

/** What a signal-watch phase adds to its row (per measured call). */
export interface SignalWatchFigures {
  /** Share of calls sent by Signal-with-Start (over the share), whose result came by `watch`. */
  signalShare: number;
  watchesPerCall: number;
  /** Requests refused with ResourceExhausted (a count, not per call: it should be 0). */
  resourceExhausted: number;
  abortedRetriesPerCall: number;
  peakInFlight: number;
}

export function signalWatchFigures(stats: SignalWatchStats, calls: number): SignalWatchFigures {
  const per = (x: number) => Math.round((x / Math.max(1, calls)) * 1000) / 1000;
  return {
    signalShare: per(stats.signalled),
    watchesPerCall: per(stats.watches),
    resourceExhausted: stats.resourceExhausted,
    abortedRetriesPerCall: per(stats.abortedRetries),
    peakInFlight: stats.peakInFlight,
  };
}
