// History events and Temporal billable actions per call, counted from real histories read after a
// phase. Action prices follow Temporal Cloud's: workflow start 1; activity 1 per attempt; all
// local activities recorded by one workflow task 1 together; signal 1 (a signal-with-start that
// starts the workflow is 1 for both); update 1 (so update-with-start is 2); timer 1;
// search-attribute upsert 1; child workflow 2. Heartbeats and queries are billed too but leave no
// event, so they are not counted here (docs/performance.md).
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

export const ACTION_KINDS = ['start', 'activity', 'localActivityTasks', 'signal', 'update', 'timer', 'upsert', 'child'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface WorkflowCost {
  events: number;
  /** The events' size as the server stores them (protobuf), payloads included. */
  bytes: number;
  actions: number;
  byKind: Record<ActionKind, number>;
  /** Updates accepted: the calls a key workflow served. */
  updates: number;
  /** Updates accepted, by name (a held-watch key workflow's calls are its `call` updates, not its `watch`es). */
  updatesByName: Record<string, number>;
  /** Signals received, by name (a lane's `enqueue`s are the calls it served). */
  signals: Record<string, number>;
  /** Workflow tasks that failed or timed out: each makes the worker replay the history (a sign of overload or a bug). */
  taskTrouble: { failed: number; timedOut: number; causes: string[] };
}

export function costOfHistory(events: HistoryEvent[]): WorkflowCost {
  const byKind = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>;
  const signals: Record<string, number> = {};
  const updatesByName: Record<string, number> = {};
  let updates = 0;
  let task = -1;
  const taskTrouble = { failed: 0, timedOut: 0, causes: [] as string[] };
  const tasksWithLocalActivities = new Set<number>();
  events.forEach((event, index) => {
    if (event.workflowExecutionStartedEventAttributes) byKind.start++;
    else if (event.workflowTaskCompletedEventAttributes) task++; // the commands that follow are this task's
    else if (event.workflowTaskFailedEventAttributes) {
      taskTrouble.failed++;
      const { cause, failure } = event.workflowTaskFailedEventAttributes;
      // The events that arrived meanwhile follow the failure: name the first (what raced the task).
      const next = events[index + 1];
      const arrived = next ? (Object.keys(next).find((key) => key.endsWith('EventAttributes')) ?? '?') : 'none';
      taskTrouble.causes.push(`${cause ?? '?'}: ${(failure?.message ?? '').slice(0, 160)} (then ${arrived})`);
    }
    else if (event.workflowTaskTimedOutEventAttributes) taskTrouble.timedOut++;
    else if (event.activityTaskScheduledEventAttributes) byKind.activity++;
    else if (event.activityTaskStartedEventAttributes) byKind.activity += Math.max(1, event.activityTaskStartedEventAttributes.attempt ?? 1) - 1; // retries
    else if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') tasksWithLocalActivities.add(task);
    else if (event.workflowExecutionSignaledEventAttributes) {
      const name = event.workflowExecutionSignaledEventAttributes.signalName ?? '';
      signals[name] = (signals[name] ?? 0) + 1;
      // Signal-with-start writes the start and then the signal, before the first workflow task:
      // one action for both.
      const withStart = index === 1 && events[0]?.workflowExecutionStartedEventAttributes;
      if (!withStart) byKind.signal++;
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      updates++;
      byKind.update++;
      const name = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input?.name ?? '';
      updatesByName[name] = (updatesByName[name] ?? 0) + 1;
    } else if (event.timerStartedEventAttributes) byKind.timer++;
    else if (event.upsertWorkflowSearchAttributesEventAttributes) byKind.upsert++;
    else if (event.startChildWorkflowExecutionInitiatedEventAttributes) byKind.child += 2;
  });
  byKind.localActivityTasks = tasksWithLocalActivities.size;
  const actions = ACTION_KINDS.reduce((sum, k) => sum + byKind[k], 0);
  const bytes = events.reduce((sum, event) => sum + proto.temporal.api.history.v1.HistoryEvent.encode(event).finish().length, 0);
  return { events: events.length, bytes, actions, byKind, updates, updatesByName, signals, taskTrouble };
}

/** One kind of workflow a call goes through, and how many calls one of its runs served. */
export interface CostSource {
  workflowType: string;
  /** Per-call workflows: `() => 1`; a key workflow: its updates; a lane: its `enqueue` signals. */
  callsOf: (cost: WorkflowCost) => number;
  /** Only closed runs (per-call workflows: a running one has half a history). */
  closedOnly: boolean;
  /** How many runs the phase made at least (to wait for visibility to catch up). */
  expected: number;
  /** Only workflows whose id starts with this (a tenant's shards, or its key workflows). */
  idPrefix?: string;
}

export interface SourceCost {
  workflowType: string;
  runs: number;
  calls: number;
  eventsPerCall: number;
  /** History bytes (protobuf, payloads included) per call. */
  bytesPerCall: number;
  actionsPerCall: number;
  /** Failed and timed-out workflow tasks in the runs read (0 on a healthy run). */
  tasksFailed: number;
  tasksTimedOut: number;
  /** Why tasks failed (temporal.api.enums.v1.WorkflowTaskFailedCause, then the message), each distinct one once. */
  taskFailureCauses?: string[];
}

export interface HistoryCost {
  eventsPerCall: number;
  bytesPerCall: number;
  actionsPerCall: number;
  actionsPerCallByKind: Record<ActionKind, number>;
  /** What was read, per workflow type: a call's cost is the sum over its types. */
  sources: SourceCost[];
}

/**
 * Reads up to `sample` runs of each source started within [from, to] (newest first, so measured
 * calls rather than warm-up ones) and returns their cost per call served.
 */
export async function measureHistoryCost(client: Client, sources: CostSource[], window: { from: Date; to: Date }, sample: number): Promise<HistoryCost> {
  const total: HistoryCost = { eventsPerCall: 0, bytesPerCall: 0, actionsPerCall: 0, actionsPerCallByKind: Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>, sources: [] };
  for (const source of sources) {
    const runs = await listRuns(client, source, window, sample);
    let read = 0;
    let events = 0;
    let bytes = 0;
    let actions = 0;
    let calls = 0;
    let tasksFailed = 0;
    let tasksTimedOut = 0;
    const causes = new Set<string>();
    const byKind = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>;
    for (const { workflowId, runId } of runs) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      // A long-lived workflow (a key or shard workflow) served earlier phases too: only the events
      // written during this phase count.
      const inPhase = source.closedOnly ? (history.events ?? []) : (history.events ?? []).filter((event) => within(event, window));
      const cost = costOfHistory(inPhase);
      if (!source.closedOnly && source.callsOf(cost) === 0) continue;
      if (++read > sample) break;
      events += cost.events;
      bytes += cost.bytes;
      actions += cost.actions;
      calls += source.callsOf(cost);
      tasksFailed += cost.taskTrouble.failed;
      tasksTimedOut += cost.taskTrouble.timedOut;
      for (const cause of cost.taskTrouble.causes) causes.add(cause);
      for (const k of ACTION_KINDS) byKind[k] += cost.byKind[k];
    }
    if (calls === 0) throw new Error(`history cost: no calls found in ${runs.length} ${source.workflowType} run(s)`);
    const part: SourceCost = { workflowType: source.workflowType, runs: runs.length, calls, eventsPerCall: round(events / calls), bytesPerCall: Math.round(bytes / calls), actionsPerCall: round(actions / calls), tasksFailed, tasksTimedOut, ...(causes.size > 0 ? { taskFailureCauses: [...causes] } : {}) };
    total.sources.push(part);
    total.eventsPerCall = round(total.eventsPerCall + events / calls);
    total.bytesPerCall = Math.round(total.bytesPerCall + bytes / calls);
    total.actionsPerCall = round(total.actionsPerCall + actions / calls);
    for (const k of ACTION_KINDS) total.actionsPerCallByKind[k] = round(total.actionsPerCallByKind[k] + byKind[k] / calls);
  }
  return total;
}

function within(event: HistoryEvent, window: { from: Date; to: Date }): boolean {
  const time = event.eventTime;
  if (!time) return false;
  const ms = Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
  return ms >= window.from.getTime() && ms <= window.to.getTime();
}

async function listRuns(client: Client, source: CostSource, window: { from: Date; to: Date }, sample: number): Promise<{ workflowId: string; runId: string }[]> {
  // Per-call workflows: those started in the phase. Long-lived ones: those open during it.
  const query = [
    `WorkflowType = '${source.workflowType}'`,
    ...(source.closedOnly
      ? [`StartTime >= '${window.from.toISOString()}'`, `StartTime <= '${window.to.toISOString()}'`, `ExecutionStatus = 'Completed'`]
      : [`StartTime <= '${window.to.toISOString()}'`, `(ExecutionStatus = 'Running' OR CloseTime >= '${window.from.toISOString()}')`]),
    ...(source.idPrefix !== undefined ? [`WorkflowId STARTS_WITH '${source.idPrefix}'`] : []),
  ].join(' AND ');
  const want = Math.min(sample, source.expected);
  // Visibility is written after the history, a moment later: wait for it to catch up.
  const deadline = Date.now() + 10_000;
  for (;;) {
    // Long-lived workflows open during the phase include ones that served earlier phases only:
    // read more of them, and keep those with calls in the window (measureHistoryCost).
    const response = await client.workflowService.listWorkflowExecutions({ namespace: client.options.namespace, query, pageSize: source.closedOnly ? sample : Math.max(sample, 200) });
    const runs = (response.executions ?? []).map((e) => ({ workflowId: e.execution?.workflowId ?? '', runId: e.execution?.runId ?? '' }));
    if (runs.length >= want || Date.now() > deadline) {
      if (runs.length === 0) throw new Error(`history cost: no ${source.workflowType} run found (${query})`);
      return runs;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
