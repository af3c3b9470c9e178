// The gateway's side of the fast call path: submitting a call to its key or shard workflow and
// collecting its outcome (docs/architecture.md, "The call path").
//
// Temporal admits 10 updates in flight per workflow, and on server 1.29.1 a refused one clears the
// workflow's cached state and aborts its other admitted updates (docs/performance.md). So this
// gateway keeps at most `updatesPerWorkflow` of its own in flight on each workflow: under that
// share a call is a held Update-with-Start (one round trip: accepted, run, answered; a plain
// Update once this gateway has reached the workflow); over it, a
// Signal-with-Start (no limit), whose outcome comes back through this gateway's one `watch` on
// that workflow, together with those of its other overflow calls.
import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CallEnvelope, CallOutcome, InputWanted } from '../shared/envelope.js';
import { callWorkflowId } from '../shared/ids.js';
import type { KeyCallReply } from '../shared/key.js';
import { callUpdate, submitCallSignal, watchUpdate } from '../shared/messages.js';
import { keyWorkflowStart, type KeyWorkflowSettings } from '../shared/route.js';
import type { keyWorkflow } from '../workflows/key.js';

/** A call refused by its key workflow's limit (limits.maxQueuedPerKey, or a shard's share of maxQueuedPerTenant). */
/** The key workflow holds as many audit records as it may while the audit store cannot be written: it accepts no call until they are out. */
export class AuditBehindError extends Error {}

export class KeyLimitError extends Error {
  constructor(
    readonly count: number,
    readonly limit: number,
    readonly scope: 'ordering key' | 'tenant',
  ) {
    super(`too many unfinished calls on this ${scope} (${count}, limit ${limit})`);
  }
}

/** A watch returns at least this often, so calls sent meanwhile join the next one. */
const WATCH_HOLD_MS = 2_000;
/** A record is written just after its call ends: how long to look for it. */
const RECORD_WAIT_MS = 10_000;
/**
 * A workflow that answered "draining" continues as new a moment later (workflows/key.ts,
 * QUIET_ROLLOVER), and a signal or update reaching it meanwhile makes Temporal refuse that
 * continue-as-new, which costs a replay of the whole run. So this gateway sends it nothing more
 * until another run is current (or it closed), looking every DRAIN_POLL_MS, for at most
 * DRAIN_PAUSE_MAX_MS.
 */
const DRAIN_POLL_MS = 20;
const DRAIN_PAUSE_MAX_MS = 2_000;

/** What a waiting gateway learns: the call's outcome, or that it waits for its client's input. */
export type CallAnswer = CallOutcome | InputWanted;

interface Waiter {
  until: number;
  resolve: (outcome: CallAnswer | undefined) => void;
  /** When the workflow first said it did not know the call (look for its record). */
  unknownSince?: number;
}

interface Slot {
  inFlight: number;
  waiters: Map<string, Waiter>;
  watching: boolean;
  /** Resolved when an update on this workflow ends (a share frees up). */
  freed: Array<() => void>;
  /** Set while the workflow's current run is draining: resolves once another run is current. */
  paused?: Promise<void>;
}

/** Workflows remembered as open (see KeyCalls.open). */
const OPEN_REMEMBERED = 10_000;

export class KeyCalls {
  private readonly slots = new Map<string, Slot>();
  /**
   * Workflows this gateway's last update reached, oldest first: the next call goes as a plain
   * update, which costs the server less than Update-with-Start (docs/performance.md), and falls
   * back to it when the workflow has closed meanwhile.
   */
  private readonly open = new Set<string>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly settings: KeyWorkflowSettings,
    private readonly updatesPerWorkflow: number,
  ) {}

  /**
   * Sends a call to its workflow and waits up to `waitMs` for its outcome: undefined when it is still
   * going (it goes on). Returns only once the call is durably accepted; throws before that.
   */
  async submit(envelope: CallEnvelope, route: string, waitMs: number, signal?: AbortSignal): Promise<CallAnswer | undefined> {
    const start = keyWorkflowStart(envelope.tenant, route, envelope.orderingKey, this.settings);
    const until = Date.now() + waitMs;
    await this.slot(start.workflowId).paused;
    const slot = this.slot(start.workflowId);
    const shareForHeld = this.updatesPerWorkflow - (slot.watching ? 1 : 0);
    if (slot.inFlight < shareForHeld) {
      slot.inFlight++;
      let reply: KeyCallReply | undefined;
      try {
        const update = { args: [{ envelope, holdMs: Math.max(0, waitMs) }] as [{ envelope: CallEnvelope; holdMs: number }], updateId: envelope.correlationId };
        const withStart = () =>
          this.client.workflow.executeUpdateWithStart(callUpdate, {
            ...update,
            startWorkflowOperation: new WithStartWorkflowOperation<typeof keyWorkflow>('keyWorkflow', { ...start, taskQueue: this.taskQueue, workflowIdConflictPolicy: 'USE_EXISTING' }),
          });
        const send = async () => {
          if (!this.open.has(start.workflowId)) return await withStart();
          try {
            return await this.client.workflow.getHandle<typeof keyWorkflow>(start.workflowId).executeUpdate(callUpdate, update);
          } catch (error) {
            // It closed (idle) since: start it again with the call, under the same update id.
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            this.open.delete(start.workflowId);
            return await withStart();
          }
        };
        reply = await (signal === undefined ? send() : this.client.withAbortSignal(signal, send));
        this.rememberOpen(start.workflowId);
      } catch (error) {
        this.open.delete(start.workflowId);
        const refused = this.refusal(error, envelope);
        if (refused !== undefined || signal?.aborted === true) throw refused ?? error;
        // The update did not get through (the workflow was closing, say): send the call by signal.
        // A call the workflow already has is not queued twice: it knows it by correlation id.
        reply = undefined;
      } finally {
        this.release(start.workflowId, slot);
      }
      if (reply !== undefined) {
        if (reply.draining === true) this.pause(start.workflowId, slot, reply.drainingRun);
        if (reply.outcome !== undefined) return reply.outcome;
        if (reply.input !== undefined) return { status: 'input_required', ...reply.input };
        if (Date.now() >= until) return undefined;
        return await this.watch(start.workflowId, envelope.correlationId, until, signal);
      }
    }
    const sendSignal = () =>
      this.client.workflow.signalWithStart<typeof keyWorkflow, [{ envelope: CallEnvelope; holdMs: number }]>('keyWorkflow', {
        ...start,
        taskQueue: this.taskQueue,
        signal: submitCallSignal,
        // The workflow counts the call as attended for as long as this gateway waits for it.
        signalArgs: [{ envelope, holdMs: Math.max(0, waitMs) }],
      });
    await (signal === undefined ? sendSignal() : this.client.withAbortSignal(signal, sendSignal));
    return await this.watch(start.workflowId, envelope.correlationId, until, signal);
  }

  /** Waits for a call's outcome through this gateway's watch on its workflow. */
  watch(workflowId: string, correlationId: string, until: number, signal?: AbortSignal): Promise<CallAnswer | undefined> {
    if (until <= Date.now() || signal?.aborted) return Promise.resolve(undefined);
    const slot = this.slot(workflowId);
    return new Promise((resolve) => {
      const done = (outcome: CallAnswer | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        slot.waiters.delete(correlationId);
        resolve(outcome);
      };
      const onAbort = () => done(undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      slot.waiters.set(correlationId, { until, resolve: done });
      if (!slot.watching) void this.watchLoop(workflowId, slot);
    });
  }

  private async watchLoop(workflowId: string, slot: Slot): Promise<void> {
    slot.watching = true;
    const handle = this.client.workflow.getHandle<typeof keyWorkflow>(workflowId);
    try {
      while (slot.waiters.size > 0) {
        const now = Date.now();
        for (const [, waiter] of slot.waiters) if (waiter.until <= now) waiter.resolve(undefined);
        if (slot.waiters.size === 0) break;
        await slot.paused;
        while (slot.inFlight >= this.updatesPerWorkflow) await new Promise<void>((resolve) => slot.freed.push(resolve));
        const ids = [...slot.waiters.keys()];
        const holdMs = Math.min(WATCH_HOLD_MS, Math.max(0, Math.min(...[...slot.waiters.values()].map((w) => w.until)) - Date.now()));
        slot.inFlight++;
        let reply;
        try {
          reply = await handle.executeUpdate(watchUpdate, { args: [{ ids, holdMs }], updateId: `watch-${randomUUID()}` });
        } catch (error) {
          if (error instanceof WorkflowNotFoundError) reply = { outcomes: {}, unknown: ids };
          else {
            await delay(200);
            continue;
          }
        } finally {
          this.release(workflowId, slot);
        }
        for (const [id, outcome] of Object.entries(reply.outcomes)) slot.waiters.get(id)?.resolve(outcome);
        for (const [id, input] of Object.entries(reply.inputs ?? {})) slot.waiters.get(id)?.resolve({ status: 'input_required', ...input });
        for (const id of reply.unknown) await this.fromRecord(workflowId, id, slot);
        if (reply.draining === true) {
          this.pause(workflowId, slot, reply.drainingRun);
          if (reply.drainingRun === undefined) await delay(100); // a run started before drainingRun existed
        }
      }
    } finally {
      slot.watching = false;
      this.forgetIfIdle(workflowId, slot);
    }
  }

  /** A call its workflow no longer knows: it ended with nobody watching, so it has a record (or it never arrived). */
  private async fromRecord(workflowId: string, correlationId: string, slot: Slot): Promise<void> {
    const waiter = slot.waiters.get(correlationId);
    if (waiter === undefined) return;
    const tenant = workflowId.split('/')[1]!;
    const record = this.client.workflow.getHandle(callWorkflowId(tenant, correlationId));
    try {
      await record.describe();
      waiter.resolve((await record.result()) as CallOutcome);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) return;
      waiter.unknownSince ??= Date.now();
      if (Date.now() - waiter.unknownSince > RECORD_WAIT_MS) waiter.resolve(undefined);
      else await delay(100);
    }
  }

  private refusal(error: unknown, envelope: CallEnvelope): Error | undefined {
    if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
    const cause = error.cause;
    if (cause instanceof ApplicationFailure && cause.type === 'LimitExceeded') {
      const [count, limit] = (cause.details ?? []) as [number, number];
      return new KeyLimitError(count, limit, envelope.orderingKey !== undefined ? 'ordering key' : 'tenant');
    }
    if (cause instanceof ApplicationFailure && cause.type === 'AuditBehind') return new AuditBehindError(cause.message);
    return undefined;
  }

  /** Holds this gateway's sends to a draining workflow until `run` is no longer its current run (see DRAIN_POLL_MS). */
  private pause(workflowId: string, slot: Slot, run: string | undefined): void {
    if (slot.paused !== undefined || run === undefined) return;
    const handle = this.client.workflow.getHandle(workflowId);
    const until = Date.now() + DRAIN_PAUSE_MAX_MS;
    slot.paused = (async () => {
      try {
        while (Date.now() < until) {
          await delay(DRAIN_POLL_MS);
          const current = await handle.describe().catch(() => undefined);
          if (current === undefined || current.runId !== run || current.status.name !== 'RUNNING') return;
        }
      } finally {
        slot.paused = undefined;
      }
    })();
  }

  private slot(workflowId: string): Slot {
    let slot = this.slots.get(workflowId);
    if (slot === undefined) {
      slot = { inFlight: 0, waiters: new Map(), watching: false, freed: [] };
      this.slots.set(workflowId, slot);
    }
    return slot;
  }

  private release(workflowId: string, slot: Slot): void {
    slot.inFlight--;
    slot.freed.shift()?.();
    this.forgetIfIdle(workflowId, slot);
  }

  private rememberOpen(workflowId: string): void {
    this.open.delete(workflowId);
    this.open.add(workflowId);
    if (this.open.size > OPEN_REMEMBERED) this.open.delete(this.open.values().next().value!);
  }

  private forgetIfIdle(workflowId: string, slot: Slot): void {
    if (slot.inFlight === 0 && slot.waiters.size === 0 && !slot.watching && this.slots.get(workflowId) === slot) this.slots.delete(workflowId);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
