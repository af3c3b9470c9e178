// One long-lived workflow per (tenant, ordering key), or one of a tenant's shards for calls
// without a key: the fast call path (docs/architecture.md, "The call path").
//
// Calls arrive as a held `call` update (the gateway waits for the answer in the same round trip),
// or as a `submitCall` signal when the gateway's share of this workflow's updates is in use (its
// `watch` update then collects the answers). Both are in this workflow's history before the
// gateway acknowledges them, so acceptance order is execution order. A key runs one call at a
// time, in that order; a shard runs up to `concurrency` at once, by priority.
//
// Saga steps and calls with an idempotency key are still call workflows (call.ts); an ordered one
// takes its turn here as an "external" entry, the way it took one in a lane (lane.ts).
//
// A call that ends after its caller stopped waiting (past syncWaitMs), or that is dead-lettered,
// leaves a record workflow (record.ts) under the id a call workflow would have had. Every other
// outcome stays here for `recentOutcomesMs`.
import {
  ActivityCancellationType,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchItem } from '../activities/call-tool.js';
import type { Activities } from '../activities/index.js';
import { callAuditRecord, takeAuditBatch, type AuditRecord } from '../shared/audit.js';
import type { CallEnvelope, CallOutcome, CallPhase, PendingInput } from '../shared/envelope.js';
import { callWorkflowId, deadLetterWorkflowId } from '../shared/ids.js';
import type { InputReply, KeyCallReply, KeyCallRequest, KeyCallView } from '../shared/key.js';
import {
  callSearchAttributes,
  callUpdate,
  callViewQuery,
  cancelCallSignal,
  enqueueSignal,
  goSignal,
  handoverSignal,
  keyStateQuery,
  laneStateQuery,
  provideInputUpdate,
  releaseSignal,
  submitCallSignal,
  watchUpdate,
  type LaneEntry,
} from '../shared/messages.js';
import { PRIORITY_KEYS } from '../shared/priority.js';
import { deadLetterWorkflow } from './dead-letter.js';
import { runAttempts } from './attempts.js';
import { reportCallEnded } from './metrics.js';
import { asksInput, InputRounds } from './input.js';
import { callRecordWorkflow } from './record.js';

export interface KeyInput {
  tenant: string;
  /** Absent for a shard. */
  orderingKey?: string;
  /** Calls running at once: 1 for a key (in order), more for a shard. */
  concurrency: number;
  /** Unfinished calls above which a new one is refused (limits.maxQueuedPerKey). */
  maxQueued: number;
  /** How long an ended call's outcome stays here, and how long an idle workflow stays open. */
  recentOutcomesMs: number;
  /** Calls handled before the workflow continues as new (bounds its history). */
  callsPerRun: number;
  // Carried over continue-as-new:
  queue?: Entry[];
  holder?: string;
  recent?: Recent[];
  tombstones?: string[];
  finishedExternal?: string[];
  /** Audit records not yet known to be exported (the export in flight included: the store skips a repeat). */
  audit?: AuditRecord[];
  /** audit.maxPending (default and ceiling AUDIT_MAX_PENDING). */
  auditMaxPending?: number;
  /** audit.flushMs: how long a call's audit record may wait to be exported with others (default AUDIT_FLUSH_MS). */
  auditFlushMs?: number;
}

/** A queued call: one this workflow runs, or a call workflow waiting for its turn (saga steps, idempotent calls). */
export type Entry = { kind: 'call'; envelope: CallEnvelope; attendedUntil?: number } | { kind: 'external'; callWorkflowId: string };

interface Recent {
  id: string;
  endedAt: number;
  publicTool: string;
  orderingKey?: string;
  /** Dropped when carried over continue-as-new if too large; a record then has it. */
  outcome?: CallOutcome;
}

interface Live {
  envelope: CallEnvelope;
  phase: CallPhase;
  attempt: number;
  lastFailure?: string;
  outcome?: CallOutcome;
  /** Set while the call waits for its client's input (phase `input_required`). */
  input?: PendingInput;
  rounds?: InputRounds;
  /** When it started running (for its audit record). */
  startedAt?: number;
  /** Held `call` updates and watches waiting for this call. */
  holders: number;
  /**
   * Until when its gateway waits for it (admission time + the caller's wait): a call that ends
   * with no holder after that gets a record. Between two watches no holder is attached, so the
   * holders alone would record nearly every call that went by signal.
   */
  attendedUntil: number;
  scope?: CancellationScope;
  /** Its cancel was asked for (a batch's calls share one scope: the others run again). */
  cancelRequested?: boolean;
  /** Its first attempt, made in a batch that stopped at it (a failure, or a question): run() goes on from there. */
  first?: NonNullable<BatchItem>;
  /** Its batch failed as a whole: it runs on its own. */
  unbatched?: boolean;
}

const HOLDER_CHECK_MS = 60_000;
/** A queued call's deadline is checked at most this often while it cannot start (one timer, not one per call). */
const QUEUE_TICK_MS = 1_000;
const MEMORY = 1_000;
const LANE_DRAIN_CHECK_MS = 1_000;
/** Outcomes carried over continue-as-new stay under this many bytes of JSON (the input limit is 2 MB). */
const CARRIED_OUTCOME_BYTES = 256 * 1024;
/** Temporal refuses inputs over 2 MB: the carried state must stay under it, with margin. */
const CARRIED_INPUT_BYTES = 1_800_000;

const { isCallRunning, laneBusy } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/**
 * Calls' audit records leave through a regular activity, never in the workflow task that answers
 * the caller (a local activity would hold that task open). Records wait up to audit.flushMs, or
 * until AUDIT_FLUSH_RECORDS are queued, so that a busy workflow pays one activity for many calls;
 * one export runs at a time, and the records of calls that end meanwhile go in the next one.
 * Retried until the store takes them: a store that is down delays the log, never a call.
 */
const { exportAudit } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
/** Key workflows export their calls' audit records (an added command: older histories have none). */
const AUDIT_EXPORT = 'audit-export';
/**
 * Continue-as-new waits for a quiet moment (an added activity: older histories have none).
 * Temporal refuses a continue-as-new when anything reaches the workflow while its task runs (a
 * signal, an activity's completion, a timer: UnhandledCommand), and the worker then replays the
 * whole run before it tries again; with one busy key each roll-over stalled its calls for 2.5-6 s.
 * So a draining workflow starts no audit export, lets the one in flight finish, answers its held
 * callers "draining" (their gateways then send nothing until the next run is current:
 * services/key-calls.ts), and continues as new after a ROLLOVER_QUIET_MS pause (activities/rollover.ts).
 */
const QUIET_ROLLOVER = 'quiet-rollover';
const ROLLOVER_QUIET_MS = 50;
const { rolloverPause } = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });
const AUDIT_BATCH_BYTES = 512 * 1024;
/** Runs started before audit.flushMs existed waited this long. */
const AUDIT_FLUSH_MS = 1_000;
const AUDIT_FLUSH_RECORDS = 100;
/**
 * Records a workflow holds while its store cannot be written (audit.maxPending, at most this).
 * Beyond it new calls are refused (the audit log fails closed): the carried records must stay
 * well under continue-as-new's 2 MB.
 */
const AUDIT_MAX_PENDING = 1_000;
/**
 * Batched local calls (an added command: older histories run every call in its own local
 * activity). When a local call starts on a key and more local calls wait right behind it, up to
 * MAX_BATCH of them run one after another in one local activity (activities/call-tool.ts
 * callToolBatch). Each costs its request, not also a workflow activation and a local-activity
 * dispatch each way (docs/performance.md, "Batched local calls"). Shards do not batch: their calls
 * arrive spread over the shards, and a batch would make each wait for the slowest of it.
 */
const BATCHED_LOCAL_CALLS = 'batched-local-calls';
const MAX_BATCH = 16;
/**
 * Audit exports start only from the workflow's main loop (an added command position: older runs
 * started them wherever a call ended or an export came back, so the export's command position
 * depended on the order in which two continuations of one activation ran). A first attempt at the
 * nondeterminism error that SETTLED_MAIN_LOOP below cures: by itself it did not.
 */
const AUDIT_EXPORT_FROM_LOOP = 'audit-export-from-loop';
/**
 * The main loop acts on settled state, and audit records leave by timer (an added command; older
 * runs have none). Decided at a run's first audited call (or at its start, with audit records
 * carried over), so a run without audit adds no patch, and no search-attribute upsert. A run with
 * it has every patch above too, and asks for none of them: one TemporalChangeVersion upsert a run
 * instead of two to four.
 *
 * Why: a fresh worker may apply a workflow task's events later, and in another order, than the
 * worker that first ran them. The SDK's core takes a workflow task that ended with no command,
 * followed at once by the task an update scheduled, for a local-activity heartbeat, and merges the
 * two when a fresh worker rebuilds the run (after a crash, say), but not when a later worker replays
 * the same history (temporalio/sdk-rust#1146, open). The merged events (a record child's start, a
 * timer, an export's completion) are then applied in the update's activation, after the update,
 * and at its time. Two things made that a nondeterminism error that stopped a key for good:
 * - the main loop woke as soon as the update's handler bumped the version, before those events'
 *   continuations had run, and acted on a state the replay never saw (an export without the record
 *   a merged event queued, say). With this patch, bump() defers its change to a microtask: the
 *   SDK checks conditions again only once every job of the activation and every continuation they
 *   set off have run, so the main loop runs once, on the settled state, in both;
 * - a batch of audit records was due when the clock passed a time taken from Date.now() as its
 *   first record was queued, which a merged event takes at the later time. Now a batch leaves when
 *   a flush timer fires (an event, at the same place in every replay), when AUDIT_FLUSH_RECORDS
 *   are queued, or when the workflow is cancelled.
 * docs/architecture.md, "Replays that merge workflow tasks".
 */
const SETTLED_MAIN_LOOP = 'settled-main-loop';
/**
 * At a run's start, the calls that came by signal are admitted before those that came by update
 * (older runs admitted updates first), and the run has SETTLED_MAIN_LOOP, and so every patch
 * above, from its start. Decided at every run's start: its one TemporalChangeVersion upsert.
 *
 * Why: the SDK holds a run's first signals and updates in two buffers until their handlers are
 * set, and each setHandler() hands over its own buffer; the handler set first wins, whatever the
 * order of arrival. A run's first workflow task carries both kinds when it comes late (a worker
 * that was down, a task that timed out) while callers went on: the gateway falls back to a signal
 * when an update does not get through. Signals first is the order of arrival for a caller that
 * waits for each acceptance: a signal's call is accepted once the signal is in history, before
 * the caller sends its next call; an update's call only once this workflow has run it, after the
 * start. With updates first, a key ran a call sent after 35 others before them.
 * docs/architecture.md, "A run's first messages".
 */
const SIGNALS_FIRST = 'signals-first';

export async function keyWorkflow(input: KeyInput): Promise<void> {
  const me = workflowInfo().workflowId;
  const calls = new Map<string, Live>();
  const queue: Array<{ kind: 'call'; id: string } | { kind: 'external'; callWorkflowId: string }> = [];
  const running = new Set<string>();
  /**
   * Running calls that wait for input. In a shard they leave their slot to others; on a key they
   * keep the turn (order). Either way the workflow does not continue as new until they go on.
   */
  const waitingInput = new Set<string>();
  const recent = new Map<string, Recent>((input.recent ?? []).map((r) => [r.id, r]));
  const tombstones = new Set(input.tombstones ?? []);
  const finishedExternal = [...(input.finishedExternal ?? [])];
  let holder = input.holder;
  let holderSince = Date.now();
  let draining = false;
  let handled = 0;
  /** A local activity is running (at most one: see mostUrgent). */
  let localRunning = false;
  /** When each held caller or watch is to be answered at the latest. */
  const holds: number[] = [];
  /** After a continue-as-new deferred for a too-large queue: when to try again. */
  let retryRollOverAt = 0;
  /** Calls whose end is being written (dead letter, record): continue-as-new waits for them. */
  let finishing = 0;
  let lastActivity = Date.now();
  let version = 0;
  /** SIGNALS_FIRST (see there): asked at every start, before any call is admitted. */
  const signalsFirst = patched(SIGNALS_FIRST);
  /** SETTLED_MAIN_LOOP, decided once (see there); with it, the patches before it are implied, and not asked for. */
  let settled: boolean | undefined = signalsFirst ? true : undefined;
  const decideSettled = () => (settled ??= patched(SETTLED_MAIN_LOOP));
  const patchedBefore = (id: string) => settled === true || patched(id);
  let bumpQueued = false;
  const bump = () => {
    if (settled !== true) return void version++;
    if (bumpQueued) return;
    bumpQueued = true;
    // After the activation's other continuations (see SETTLED_MAIN_LOOP).
    void Promise.resolve().then(() => {
      bumpQueued = false;
      version++;
    });
  };
  const pendingTicks: number[] = [];
  const auditQueue: AuditRecord[] = [...(input.audit ?? [])];
  let auditInFlight: AuditRecord[] = [];
  const auditIdle = () => auditQueue.length === 0 && auditInFlight.length === 0;
  const auditPending = () => auditQueue.length + auditInFlight.length;
  const auditLimit = Math.min(input.auditMaxPending ?? AUDIT_MAX_PENDING, AUDIT_MAX_PENDING);
  const auditFlushMs = input.auditFlushMs ?? AUDIT_FLUSH_MS;
  const auditBehind = () => auditPending() >= auditLimit;
  /**
   * When the oldest queued record must leave; 0: at once (carried over); -1: at once, the workflow
   * was cancelled. Since SETTLED_MAIN_LOOP only -1 is used (the flush timer decides the rest).
   */
  let auditDueAt = 0;
  /**
   * How exports start (by timer since SETTLED_MAIN_LOOP, or older: AUDIT_EXPORT_FROM_LOOP), decided where
   * AUDIT_EXPORT is (the first record queued), or at the start for records carried over; a run with
   * no record adds no patch, and so no search-attribute upsert.
   */
  let auditFromLoop: boolean | undefined;
  /** SETTLED_MAIN_LOOP: a flush timer is pending; it fired, or records were carried over (export at once). */
  let auditTimerSet = false;
  let auditFlushNow = auditQueue.length > 0;
  if (auditQueue.length > 0) {
    decideSettled();
    decideAuditExport();
  }

  const unfinished = () => calls.size + queue.filter((e) => e.kind === 'external').length + (holder !== undefined ? 1 : 0);
  const known = (id: string) => calls.has(id) || recent.has(id);
  // The previous run's queue, in its order (continue-as-new).
  for (const entry of input.queue ?? []) {
    if (entry.kind === 'external') queue.push(entry);
    else admit(entry.envelope, entry.attendedUntil ?? 0);
  }

  const submitBySignal = ({ envelope, holdMs }: KeyCallRequest) => {
    if (envelope.tenant !== input.tenant) return;
    const overLimit = unfinished() >= input.maxQueued;
    if (!known(envelope.correlationId) && (overLimit || auditBehind())) {
      // A signal cannot be refused: the call ends at once, and the gateway answers "busy".
      const live: Live = { envelope, phase: 'done', attempt: 0, holders: 0, attendedUntil: Date.now() + holdMs };
      calls.set(envelope.correlationId, live);
      const message = overLimit ? `too many unfinished calls on this ordering key (${unfinished() - 1}, limit ${input.maxQueued})` : `the audit log is behind: ${auditPending()} records wait for its store`;
      void finish(live, { status: 'failed', reason: 'over_limit', message, attempts: 0 });
      return;
    }
    admit(envelope, Date.now() + holdMs);
  };
  // Call workflows (saga steps, idempotent calls) take their turn here as they did in a lane.
  const enqueueExternal = ({ callWorkflowId }: LaneEntry) => {
    if (callWorkflowId === holder || queue.some((e) => e.kind === 'external' && e.callWorkflowId === callWorkflowId) || finishedExternal.includes(callWorkflowId)) return;
    queue.push({ kind: 'external', callWorkflowId });
    lastActivity = Date.now();
    bump();
  };
  // Calls that came by signal first (SIGNALS_FIRST); older runs set these handlers after the update's.
  if (signalsFirst) {
    setHandler(submitCallSignal, submitBySignal);
    setHandler(enqueueSignal, enqueueExternal);
  }
  setHandler(
    callUpdate,
    async ({ envelope, holdMs }) => {
      admit(envelope, Date.now() + holdMs);
      return await hold(envelope.correlationId, holdMs);
    },
    {
      validator: ({ envelope }) => {
        if (envelope.tenant !== input.tenant) throw new Error('call for another tenant');
        if (!known(envelope.correlationId) && unfinished() >= input.maxQueued) {
          throw ApplicationFailure.create({ type: 'LimitExceeded', message: 'too many unfinished calls on this ordering key', details: [unfinished(), input.maxQueued] });
        }
        if (!known(envelope.correlationId) && auditBehind()) {
          throw ApplicationFailure.create({ type: 'AuditBehind', message: `the audit log is behind: ${auditPending()} records wait for its store`, details: [auditPending(), auditLimit] });
        }
      },
    },
  );
  if (!signalsFirst) setHandler(submitCallSignal, submitBySignal);
  setHandler(watchUpdate, async ({ ids, holdMs }) => {
    const live = ids.map((id) => calls.get(id)).filter((c): c is Live => c !== undefined);
    const reply = () => {
      const outcomes: Record<string, CallOutcome> = {};
      const inputs: Record<string, PendingInput> = {};
      const unknown: string[] = [];
      for (const id of ids) {
        const outcome = calls.get(id)?.outcome ?? recent.get(id)?.outcome;
        const input = calls.get(id)?.input;
        if (outcome !== undefined) outcomes[id] = outcome;
        else if (input !== undefined) inputs[id] = input;
        else if (!calls.has(id)) unknown.push(id);
      }
      return { outcomes, unknown, ...(Object.keys(inputs).length > 0 ? { inputs } : {}), ...(draining ? { draining: true, drainingRun: workflowInfo().runId } : {}) };
    };
    const stops = (c: Live) => c.outcome !== undefined || c.input !== undefined;
    if (live.length < ids.length || live.some(stops) || holdMs <= 0 || draining) return reply();
    for (const c of live) c.holders++;
    try {
      await holdUntil(() => live.some(stops), Date.now() + holdMs);
    } finally {
      for (const c of live) c.holders--;
    }
    return reply();
  });
  setHandler(cancelCallSignal, ({ correlationId }) => {
    const live = calls.get(correlationId);
    if (live === undefined) {
      if (!recent.has(correlationId)) remember(tombstones, correlationId);
      return;
    }
    if (live.phase === 'queued') {
      const index = queue.findIndex((e) => e.kind === 'call' && e.id === correlationId);
      if (index >= 0) queue.splice(index, 1);
      void finish(live, { status: 'cancelled', message: 'the call was cancelled' });
    } else {
      live.cancelRequested = true;
      live.scope?.cancel();
    }
  });
  setHandler(provideInputUpdate, async ({ correlationId, round, responses, holdMs }): Promise<InputReply> => {
    const live = calls.get(correlationId);
    if (live === undefined) {
      const outcome = recent.get(correlationId)?.outcome;
      return outcome !== undefined ? { accepted: false, outcome } : { accepted: false, unknown: !recent.has(correlationId) };
    }
    const accepted = live.rounds?.answer(round, responses) ?? false;
    if (accepted) live.attendedUntil = Math.max(live.attendedUntil, Date.now() + holdMs);
    // Still waiting for other answers of this round, or a stale answer: say where the call stands.
    if (!accepted || live.input !== undefined) {
      return { accepted, ...(live.input !== undefined ? { input: live.input } : {}), ...(live.outcome !== undefined ? { outcome: live.outcome } : {}) };
    }
    const answered = live.rounds!.round;
    // (read through a function: the handlers of this workflow change it while this one waits)
    const next = (): PendingInput | undefined => (live.input !== undefined && live.input.round > answered ? live.input : undefined);
    if (holdMs > 0 && !draining) {
      live.holders++;
      try {
        await holdUntil(() => live.outcome !== undefined || next() !== undefined, Date.now() + holdMs);
      } finally {
        live.holders--;
      }
    }
    if (live.outcome !== undefined) return { accepted, outcome: live.outcome };
    const asked = next();
    return asked !== undefined ? { accepted, input: asked } : { accepted };
  });
  setHandler(callViewQuery, (id) => {
    const live = calls.get(id);
    if (live !== undefined) {
      const waitingFor = live.phase === 'queued' && input.orderingKey !== undefined ? (holder ?? [...running][0]) : undefined;
      return view(live.envelope, live.phase, live.attempt, live.lastFailure, live.outcome, waitingFor, live.input);
    }
    const ended = recent.get(id);
    if (ended === undefined) return undefined;
    return {
      phase: 'done',
      publicTool: ended.publicTool,
      ...(ended.orderingKey !== undefined ? { orderingKey: ended.orderingKey } : {}),
      acceptedAt: 0,
      deadlineAt: 0,
      attempt: 0,
      ...(ended.outcome !== undefined ? { outcome: ended.outcome } : {}),
    };
  });
  setHandler(keyStateQuery, () => ({ ...(holder !== undefined ? { holder } : {}), queued: queue.map(entryId), running: [...running], draining }));
  setHandler(laneStateQuery, () => ({ ...(holder !== undefined ? { holder } : {}), queued: queue.map(entryId) }));

  if (!signalsFirst) setHandler(enqueueSignal, enqueueExternal);
  setHandler(releaseSignal, ({ callWorkflowId }) => {
    if (holder === callWorkflowId) {
      holder = undefined;
      handled++; // a hand-off counts toward callsPerRun like a call run here
    }
    const index = queue.findIndex((e) => e.kind === 'external' && e.callWorkflowId === callWorkflowId);
    if (index >= 0) queue.splice(index, 1);
    remember(finishedExternal, callWorkflowId);
    lastActivity = Date.now();
    bump();
  });
  setHandler(handoverSignal, ({ from, to }) => {
    if (holder === from) {
      holder = to;
      remember(finishedExternal, from);
      bump();
    }
  });

  try {
    if (input.orderingKey !== undefined && input.queue === undefined) {
      // Upgrading from lanes: calls still in this key's lane were accepted before any call here.
      while (await laneBusy({ tenant: input.tenant, orderingKey: input.orderingKey })) await sleep(LANE_DRAIN_CHECK_MS);
    }
    for (;;) {
      const now = Date.now();
      expireQueued(now);
      if (!draining && handled >= retryRollOverAt && (workflowInfo().continueAsNewSuggested || handled >= input.callsPerRun)) {
        draining = true; // held callers and watches are answered "draining" and come back to the next run
        bump();
      }
      while (!draining && startNext());
      if (draining && running.size === 0) {
        await condition(() => finishing === 0 && allHandlersFinished());
        if (patchedBefore(QUIET_ROLLOVER)) {
          await condition(() => auditInFlight.length === 0);
          await rolloverPause(ROLLOVER_QUIET_MS);
          await condition(() => finishing === 0 && allHandlersFinished() && auditInFlight.length === 0);
        }
        const next = carried();
        // Queued calls carry their arguments: a queue too large for one input stays in this run
        // a while longer, and continue-as-new is tried again once more calls have left it.
        if (JSON.stringify(next).length <= CARRIED_INPUT_BYTES) await continueAsNew<typeof keyWorkflow>(next);
        log.warn('the queue is too large to carry over continue-as-new yet; trying again later', { queued: queue.length });
        draining = false;
        retryRollOverAt = handled + Math.max(1, Math.ceil(input.callsPerRun / 10));
        bump();
      }
      const idle = queue.length === 0 && running.size === 0 && holder === undefined && calls.size === 0 && auditIdle();
      if (idle && now - lastActivity >= input.recentOutcomesMs) {
        await condition(allHandlersFinished);
        // A signal racing with this completion makes the server refuse it and deliver it again: nothing is lost.
        if (queue.length === 0 && calls.size === 0 && holder === undefined) return;
      }
      flushAudit();
      if (idle) wantTickAt(lastActivity + input.recentOutcomesMs);
      if (queue.length > 0) wantTickAt(Math.max(now + QUEUE_TICK_MS, earliestQueuedDeadline()));
      if (holder !== undefined && !holder.includes('/dead-letter/')) wantTickAt(holderSince + HOLDER_CHECK_MS);
      if (holds.length > 0) wantTickAt(Math.min(...holds));
      const seen = version;
      await condition(() => version !== seen);
      if (holder !== undefined && !holder.includes('/dead-letter/') && Date.now() - holderSince >= HOLDER_CHECK_MS) await checkHolder();
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // The workflow was cancelled (an operator): every call it holds ends cancelled, and their
    // records leave at once (the cancelled scope's timers no longer fire).
    auditDueAt = -1;
    flushAudit();
    await CancellationScope.nonCancellable(async () => {
      for (const entry of queue.splice(0)) {
        const live = entry.kind === 'call' ? calls.get(entry.id) : undefined;
        if (live !== undefined) void finish(live, { status: 'cancelled', message: 'the call was cancelled' });
      }
      // Once every call has ended and written its end (its record child), so its audit record is queued.
      const ended = () => running.size === 0 && finishing === 0 && allHandlersFinished();
      // The records of the calls ended here leave from this loop (AUDIT_EXPORT_FROM_LOOP; older
      // runs exported them as each call ended).
      const due = () => auditFromLoop === true && auditInFlight.length === 0 && auditQueue.length > 0;
      while (!(ended() && auditIdle())) {
        await condition(() => (ended() && auditIdle()) || due());
        if (due()) flushAudit();
      }
    });
    throw error;
  }

  function admit(envelope: CallEnvelope, attendedUntil: number): void {
    const id = envelope.correlationId;
    if (known(id)) return; // a re-sent call (after continue-as-new, or a retried request)
    if (envelope.audit !== undefined) decideSettled();
    const live: Live = { envelope, phase: 'queued', attempt: 0, holders: 0, attendedUntil };
    calls.set(id, live);
    lastActivity = Date.now();
    if (tombstones.delete(id)) {
      void finish(live, { status: 'cancelled', message: 'the call was cancelled' });
      return;
    }
    queue.push({ kind: 'call', id });
    bump();
  }

  async function hold(id: string, holdMs: number): Promise<KeyCallReply> {
    const live = calls.get(id);
    if (live === undefined) {
      const outcome = recent.get(id)?.outcome;
      return outcome !== undefined ? { outcome } : {};
    }
    if (live.outcome === undefined && holdMs > 0 && !draining) {
      live.holders++;
      try {
        await holdUntil(() => live.outcome !== undefined || live.input !== undefined, Date.now() + holdMs);
      } finally {
        live.holders--;
      }
    }
    if (live.outcome !== undefined) return { outcome: live.outcome };
    if (live.input !== undefined) return { input: live.input };
    return draining ? { draining: true, drainingRun: workflowInfo().runId } : {};
  }

  /** Starts the next call if a slot is free; false when nothing can start. */
  function startNext(): boolean {
    // A shard's calls that wait for input leave their slots to others.
    const busy = input.orderingKey === undefined ? running.size - waitingInput.size : running.size;
    if (queue.length === 0 || holder !== undefined || busy >= input.concurrency) return false;
    const index = input.orderingKey === undefined ? mostUrgent() : 0;
    if (index < 0) return false;
    const [entry] = queue.splice(index, 1);
    if (entry!.kind === 'external') {
      holder = entry!.callWorkflowId;
      holderSince = Date.now();
      void giveTurn(holder);
      return true;
    }
    const live = calls.get(entry!.id)!;
    const batch = input.orderingKey !== undefined && isLocal(live.envelope) && live.first === undefined && live.unbatched !== true ? localCallsBehind() : [];
    const members = batch.length > 0 && patchedBefore(BATCHED_LOCAL_CALLS) ? [live, ...batch] : [live];
    for (const member of members) {
      if (member !== live) queue.splice(queue.findIndex((e) => e.kind === 'call' && e.id === member.envelope.correlationId), 1);
      member.phase = 'running';
      member.startedAt = member.first?.startedAt ?? Date.now();
      running.add(member.envelope.correlationId);
    }
    if (isLocal(live.envelope)) localRunning = true;
    if (members.length > 1) void runBatch(members);
    else void run(entry!.id, live);
    return true;
  }

  /** The local calls queued right behind the one starting now on a key, in order (still in the queue): its batch. */
  function localCallsBehind(): Live[] {
    const taken: Live[] = [];
    for (const e of queue) {
      const live = e.kind === 'call' ? calls.get(e.id)! : undefined;
      if (live === undefined || !isLocal(live.envelope) || live.first !== undefined || live.unbatched === true || taken.length >= MAX_BATCH - 1) break;
      taken.push(live);
    }
    return taken;
  }

  /**
   * Runs the first attempts of a key's next local calls in one local activity, one after another.
   * A call that completed ends here; the one the batch stopped at (it failed, or asked its client
   * something) goes back to the head of the queue with that first attempt, and run() goes on from
   * it; the calls the batch did not reach go back behind it, in their order. A cancel (of one of
   * its calls) or a failure of the batch itself sends the others back too: they are safe to
   * repeat, which is why only local calls are batched.
   */
  async function runBatch(members: Live[]): Promise<void> {
    const scope = new CancellationScope();
    for (const live of members) live.scope = scope;
    const now = Date.now();
    const remaining = Math.max(...members.map((live) => live.envelope.deadlineAt - now));
    const perCall = members.map((live) => live.envelope.requestTimeoutMs + 5_000);
    const { callToolBatch } = proxyLocalActivities<Activities>({
      scheduleToCloseTimeout: remaining,
      startToCloseTimeout: Math.min(remaining, perCall.reduce((a, b) => a + b, 0)),
      retry: { maximumAttempts: 1 },
      // A cancel ends the batch once its requests are aborted, not before: a key's next call
      // never starts while one of its batch is still being stopped.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary: `${members.length} calls for tenant ${input.tenant}`,
    });
    let items: BatchItem[] | undefined;
    let cancelled = false;
    try {
      items = await scope.run(() => callToolBatch(members.map((live) => live.envelope)));
    } catch (error) {
      cancelled = isCancellation(error);
      if (!cancelled) log.warn('a batch of local calls failed; its calls run on their own', { calls: members.length, error: String(error) });
    }
    localRunning = false;
    // A cancel from outside (the workflow itself) ends them all; a call's own cancel ends that call.
    const fromOutside = cancelled && !members.some((live) => live.cancelRequested === true);
    const back: Live[] = [];
    const ends: Array<Promise<void>> = [];
    members.forEach((live, index) => {
      const item = items?.[index] ?? null;
      const id = live.envelope.correlationId;
      live.scope = undefined;
      if (item !== null && 'result' in item && item.result.resultType !== 'input_required') {
        running.delete(id);
        live.startedAt = item.startedAt;
        live.attempt = 1;
        ends.push(finish(live, { status: 'completed', result: item.result }));
      } else if (live.cancelRequested === true || fromOutside) {
        running.delete(id);
        ends.push(finish(live, { status: 'cancelled', message: 'the call was cancelled' }));
      } else {
        if (item !== null) {
          live.first = item;
          live.startedAt = item.startedAt;
        }
        if (items === undefined && !cancelled) live.unbatched = true;
        running.delete(id);
        live.phase = 'queued';
        back.push(live);
      }
    });
    queue.unshift(...back.map((live) => ({ kind: 'call' as const, id: live.envelope.correlationId })));
    bump();
    await Promise.all(ends);
  }

  async function giveTurn(callWorkflowId: string): Promise<void> {
    try {
      await getExternalWorkflowHandle(callWorkflowId).signal(goSignal);
    } catch (error) {
      // The call already ended (cancelled, or past its deadline while queued): skip it.
      log.info('skipped a call workflow that is no longer running', { callWorkflowId, error: String(error) });
      if (holder === callWorkflowId) holder = undefined;
      remember(finishedExternal, callWorkflowId);
      bump();
    }
  }

  async function checkHolder(): Promise<void> {
    const checked = holder!;
    holderSince = Date.now();
    if (!(await isCallRunning(checked)) && holder === checked) {
      // The holder was terminated from outside (it had no chance to release): move on.
      log.warn('the call holding the turn ended without releasing it; skipping it', { callWorkflowId: checked });
      remember(finishedExternal, checked);
      holder = undefined;
      bump();
    }
  }

  async function run(id: string, live: Live): Promise<void> {
    const { envelope } = live;
    const scope = new CancellationScope();
    live.scope = scope;
    const rounds = new InputRounds(live);
    live.rounds = rounds;
    let holdsLocal = isLocal(envelope);
    const onWait = (waiting: boolean) => {
      if (waiting) {
        waitingInput.add(id);
        // The first round's local activity has ended; later rounds are regular activities.
        if (holdsLocal) localRunning = holdsLocal = false;
      } else waitingInput.delete(id);
      bump();
    };
    let outcome: CallOutcome;
    try {
      const how = { local: isLocal(envelope), priorityKey: PRIORITY_KEYS[envelope.priority], activityId: id, ...(live.first !== undefined ? { first: live.first } : {}) };
      const first = await scope.run(() => runAttempts(envelope, live, how));
      outcome = asksInput(first) ? await scope.run(() => rounds.follow(first, envelope, live, how, onWait)) : first;
    } catch (error) {
      if (!isCancellation(error)) log.error('a call failed inside the broker', { correlationId: id, error: String(error) });
      outcome = isCancellation(error) ? { status: 'cancelled', message: 'the call was cancelled' } : { status: 'failed', reason: 'transport', message: 'the call failed inside the broker', attempts: live.attempt };
    }
    running.delete(id);
    waitingInput.delete(id);
    if (holdsLocal) localRunning = false;
    live.input = undefined;
    await finish(live, outcome);
  }

  /**
   * Ends a call. Its dead letter and its record exist before anyone learns the outcome: a caller
   * answered "dead-lettered" finds it in the dead-letter list at once.
   */
  async function finish(live: Live, outcome: CallOutcome): Promise<void> {
    const { envelope } = live;
    const id = envelope.correlationId;
    live.phase = 'done';
    reportCallEnded(envelope, outcome);
    const deadLettered = outcome.status === 'dead_lettered';
    // Under `halt`, the dead letter takes the key's turn until it is resolved.
    const halts = deadLettered && input.orderingKey !== undefined && envelope.onDeadLetter === 'halt';
    const deadLetterId = deadLetterWorkflowId(envelope.tenant, id);
    if (halts) {
      holder = deadLetterId;
      holderSince = Date.now();
    }
    if (deadLettered || envelope.task === true || (live.holders === 0 && Date.now() >= live.attendedUntil)) {
      finishing++;
      try {
        await CancellationScope.nonCancellable(() => writeEnd(envelope, outcome, halts, deadLetterId));
      } catch (error) {
        log.error('could not record how a call ended', { correlationId: id, error: String(error) });
        if (halts && holder === deadLetterId) holder = undefined;
      } finally {
        finishing--;
      }
    }
    live.outcome = outcome;
    // A signalled call refused over the limit was never accepted: the gateway records the refusal.
    if (!(outcome.status === 'failed' && outcome.reason === 'over_limit')) audit(envelope, live.startedAt, outcome);
    calls.delete(id);
    recent.set(id, { id, endedAt: Date.now(), publicTool: envelope.publicTool, ...(envelope.orderingKey !== undefined ? { orderingKey: envelope.orderingKey } : {}), outcome });
    handled++;
    lastActivity = Date.now();
    bump();
  }

  /** Queues the call's audit record; exported in the background (see exportAudit above). */
  function audit(envelope: CallEnvelope, startedAt: number | undefined, outcome: CallOutcome): void {
    if (envelope.audit === undefined || !(decideSettled() || patched(AUDIT_EXPORT))) return;
    decideAuditExport();
    if (settled !== true && auditQueue.length === 0 && auditDueAt >= 0) auditDueAt = Date.now() + auditFlushMs;
    auditQueue.push(callAuditRecord(envelope, startedAt, Date.now(), outcome));
    if (auditFromLoop) bump();
    else flushAudit();
  }

  function decideAuditExport(): void {
    auditFromLoop ??= patchedBefore(AUDIT_EXPORT_FROM_LOOP);
  }

  /** Starts an export when records are due, or sets the timer that makes them due. */
  function flushAudit(): void {
    if (auditQueue.length === 0 || auditInFlight.length > 0) return;
    if (draining && auditDueAt >= 0 && patchedBefore(QUIET_ROLLOVER)) return; // carried to the next run (see QUIET_ROLLOVER)
    if (settled === true) {
      // Due by events only (the timer's firing, the queue's length, a cancel), never by the clock.
      if (auditFlushNow || auditDueAt < 0 || auditQueue.length >= AUDIT_FLUSH_RECORDS) {
        auditFlushNow = false;
        void exportAuditRecords();
      } else if (!auditTimerSet) {
        auditTimerSet = true;
        // It fires even when its batch left early (by count): the batch queued since then leaves with it, sooner.
        void sleep(auditFlushMs).then(
          () => {
            auditTimerSet = false;
            auditFlushNow = true;
            bump();
          },
          () => void (auditTimerSet = false), // cancelled with the workflow: the cancel path exports
        );
      }
      return;
    }
    if (auditQueue.length >= AUDIT_FLUSH_RECORDS || Date.now() >= auditDueAt) void exportAuditRecords();
    else wantTickAt(auditDueAt);
  }

  /** Exports a batch; older runs went on with the records queued meanwhile (AUDIT_EXPORT_FROM_LOOP). */
  async function exportAuditRecords(): Promise<void> {
    do {
      auditInFlight = takeAuditBatch(auditQueue, AUDIT_BATCH_BYTES);
      const batch = auditInFlight;
      await CancellationScope.nonCancellable(() => exportAudit(batch));
      auditInFlight = [];
    } while (auditFromLoop !== true && auditQueue.length > 0);
    bump();
  }

  /** The dead letter, and the record of a call nobody is waiting for (or a dead-lettered one). */
  async function writeEnd(envelope: CallEnvelope, outcome: CallOutcome, halts: boolean, deadLetterId: string): Promise<void> {
    if (outcome.status === 'dead_lettered') {
      await startChild(deadLetterWorkflow, {
        workflowId: deadLetterId,
        args: [{ envelope, reason: outcome.reason, message: outcome.message, attempts: outcome.attempts, deadLetteredAt: Date.now(), holdsLane: halts, releaseTo: me }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: callSearchAttributes(envelope, 'dead_lettered'),
        staticSummary: `dead letter: ${envelope.publicTool} for tenant ${envelope.tenant} (${outcome.reason})`,
      });
    }
    await startChild(callRecordWorkflow, {
      workflowId: callWorkflowId(envelope.tenant, envelope.correlationId),
      args: [{ outcome, ranIn: me }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: callSearchAttributes(envelope, outcome.status),
      staticSummary: `${envelope.publicTool} for tenant ${envelope.tenant} (ran in ${me})`,
    });
  }

  function expireQueued(now: number): void {
    for (const entry of [...queue]) {
      if (entry.kind !== 'call') continue;
      const live = calls.get(entry.id)!;
      if (now < live.envelope.deadlineAt) continue;
      queue.splice(queue.indexOf(entry), 1);
      const behind = input.orderingKey !== undefined ? 'while queued behind earlier calls on its ordering key' : 'while queued';
      void finish(live, { status: 'deadline_exceeded', message: `deadline passed ${behind}` });
    }
  }

  function earliestQueuedDeadline(): number {
    let earliest = Infinity;
    for (const entry of queue) if (entry.kind === 'call') earliest = Math.min(earliest, calls.get(entry.id)!.envelope.deadlineAt);
    return earliest === Infinity ? Date.now() + HOLDER_CHECK_MS : earliest;
  }

  /**
   * A shard runs its most urgent call first, the earliest of equals; -1 when none may start. At
   * most one local activity runs at a time, in a shard as in a key: several local activities
   * that end within one workflow task are resolved in one activation on replay, but may have been
   * in several when they ran, so what the workflow did in between (answering one caller, setting
   * a timer) would replay in another order: a nondeterminism error, seen at 32 clients.
   */
  function mostUrgent(): number {
    let best = -1;
    let bestKey = Infinity;
    queue.forEach((entry, index) => {
      const envelope = entry.kind === 'call' ? calls.get(entry.id)!.envelope : undefined;
      if (envelope !== undefined && localRunning && isLocal(envelope)) return; // one local activity at a time (see run)
      const key = envelope !== undefined ? PRIORITY_KEYS[envelope.priority] : PRIORITY_KEYS.normal;
      if (key < bestKey) {
        best = index;
        bestKey = key;
      }
    });
    return best;
  }

  /**
   * Waits until `done`, draining, or `until`. A condition with a timeout would set a timer per
   * held call (a billable action, and two events); the shared tick serves them all.
   */
  async function holdUntil(done: () => boolean, until: number): Promise<void> {
    holds.push(until);
    wantTickAt(until);
    try {
      await condition(() => done() || draining || Date.now() >= until);
    } finally {
      holds.splice(holds.indexOf(until), 1);
    }
  }

  /** One timer at a time wakes the workflow: for queued deadlines, a stuck holder, held callers, or closing when idle. */
  function wantTickAt(at: number): void {
    if (pendingTicks.some((tick) => tick <= at)) return;
    pendingTicks.push(at);
    void sleep(Math.max(1, at - Date.now())).then(
      () => {
        pendingTicks.splice(pendingTicks.indexOf(at), 1);
        bump();
      },
      // Cancelled with the workflow (an operator): the main loop's catch ends its calls. Unhandled,
      // this rejection failed every workflow task of a cancelled key workflow, for good.
      () => void pendingTicks.splice(pendingTicks.indexOf(at), 1),
    );
  }

  function carried(): KeyInput {
    const entries: Entry[] = queue.map((e) => (e.kind === 'external' ? e : { kind: 'call', envelope: calls.get(e.id)!.envelope, attendedUntil: calls.get(e.id)!.attendedUntil }));
    const cutoff = Date.now() - input.recentOutcomesMs;
    const kept = [...recent.values()].filter((r) => r.endedAt >= cutoff).slice(-MEMORY);
    let bytes = 0;
    const carriedRecent: Recent[] = [];
    for (const r of kept.reverse()) {
      const size = r.outcome === undefined ? 0 : JSON.stringify(r.outcome).length;
      bytes += size;
      carriedRecent.unshift(bytes <= CARRIED_OUTCOME_BYTES ? r : { id: r.id, endedAt: r.endedAt, publicTool: r.publicTool, ...(r.orderingKey !== undefined ? { orderingKey: r.orderingKey } : {}) });
    }
    return {
      tenant: input.tenant,
      ...(input.orderingKey !== undefined ? { orderingKey: input.orderingKey } : {}),
      concurrency: input.concurrency,
      maxQueued: input.maxQueued,
      recentOutcomesMs: input.recentOutcomesMs,
      callsPerRun: input.callsPerRun,
      queue: entries,
      ...(holder !== undefined ? { holder } : {}),
      recent: carriedRecent,
      tombstones: [...tombstones],
      finishedExternal,
      ...(input.auditMaxPending !== undefined ? { auditMaxPending: input.auditMaxPending } : {}),
      ...(input.auditFlushMs !== undefined ? { auditFlushMs: input.auditFlushMs } : {}),
      // An export in flight is abandoned by continue-as-new: its records go again (the store skips repeats).
      ...(auditIdle() ? {} : { audit: [...auditInFlight, ...auditQueue] }),
    };
  }
}

function isLocal(envelope: CallEnvelope): boolean {
  return envelope.execution === 'local' && envelope.mutation !== 'non_idempotent';
}

function entryId(entry: { kind: 'call'; id: string } | { kind: 'external'; callWorkflowId: string }): string {
  return entry.kind === 'call' ? entry.id : entry.callWorkflowId;
}

function remember(into: Set<string> | string[], id: string): void {
  if (Array.isArray(into)) {
    into.push(id);
    if (into.length > MEMORY) into.shift();
    return;
  }
  into.add(id);
  if (into.size > MEMORY) into.delete(into.values().next().value!);
}

function view(envelope: CallEnvelope, phase: CallPhase, attempt: number, lastFailure: string | undefined, outcome: CallOutcome | undefined, waitingFor: string | undefined, input?: PendingInput): KeyCallView {
  return {
    phase,
    publicTool: envelope.publicTool,
    ...(envelope.orderingKey !== undefined ? { orderingKey: envelope.orderingKey } : {}),
    acceptedAt: envelope.acceptedAt,
    deadlineAt: envelope.deadlineAt,
    attempt,
    ...(lastFailure !== undefined ? { lastFailure } : {}),
    ...(outcome !== undefined ? { outcome } : {}),
    ...(waitingFor !== undefined ? { waitingFor } : {}),
    ...(input !== undefined ? { input } : {}),
  };
}
