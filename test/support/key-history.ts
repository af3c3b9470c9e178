// Reading a key workflow's histories back: every run of it, when it accepted each call, and the
// local activities it recorded. Used to check order against what the workflow itself accepted.
import proto, { type temporal } from '@temporalio/proto';
import { keyWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import type { Stack } from './stack.js';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Every run of a workflow, oldest first, with its history. */
export async function historiesOf(stack: Stack, workflowId: string): Promise<HistoryEvent[][]> {
  const runs: Array<{ runId: string; startTime: Date }> = [];
  for await (const execution of stack.temporalClient.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: execution.runId, startTime: execution.startTime });
  runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  return Promise.all(runs.map(async (run) => (await stack.temporalClient.workflow.getHandle(workflowId, run.runId).fetchHistory()).events ?? []));
}

/** Every run of the default tenant's key workflow for `key`. */
export function keyHistories(stack: Stack, key: string): Promise<HistoryEvent[][]> {
  return historiesOf(stack, keyWorkflowId('default', keyRoute('default', stack.storedKey(key))));
}

/**
 * When the key workflow accepted each call: the workflow task that delivered it (held updates and
 * signals alike). Calls delivered in one task arrived together, and the SDK hands them to the
 * workflow in an order of its own (in a first task, the updates before a signal with an earlier
 * event id), so only the task is compared. An update's Accepted event is written when that task
 * completes; the event it was sequenced after (acceptedRequestSequencingEventId) names the task.
 */
export async function acceptanceTasks(stack: Stack, events: HistoryEvent[]): Promise<{ taskOf: Map<string, number>; bySignal: number }> {
  const taskStarts = events.filter((e) => e.workflowTaskStartedEventAttributes).map((e) => Number(e.eventId));
  const taskAfter = (eventId: number) => taskStarts.findIndex((started) => started > eventId);
  const taskOf = new Map<string, number>();
  let bySignal = 0;
  for (const event of events) {
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted?.acceptedRequest?.input?.name === 'call') taskOf.set(accepted.acceptedRequest.meta!.updateId!, taskAfter(Number(accepted.acceptedRequestSequencingEventId)));
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'submitCall') {
      const payload = signal.input?.payloads?.[0];
      const submitted = (await stack.payloadValue(payload!)) as { envelope: { correlationId: string } };
      taskOf.set(submitted.envelope.correlationId, taskAfter(Number(event.eventId)));
      bySignal++;
    }
  }
  return { taskOf, bySignal };
}

/** Per correlation id, the [run, workflow task] that first accepted it, across a key's runs. */
export async function acceptanceOf(stack: Stack, runs: HistoryEvent[][]) {
  const accepted = await Promise.all(runs.map((events) => acceptanceTasks(stack, events)));
  const when = new Map<string, [number, number]>();
  accepted.forEach(({ taskOf }, run) => taskOf.forEach((task, id) => void (when.has(id) || when.set(id, [run, task]))));
  return { accepted, when };
}

/** Whether [run, task] `a` comes before `b` (a call accepted in an earlier task or run). */
export function acceptedBefore(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** How many local activities of each type a key's runs recorded (one marker per local activity). */
export function localActivities(runs: HistoryEvent[][]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of runs.flat()) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') continue;
    const data = Buffer.from(marker.details?.data?.payloads?.[0]?.data ?? new Uint8Array()).toString('utf8');
    const type = /"activity_type":"([^"]+)"/.exec(data)?.[1] ?? '?';
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

const EventType = proto.temporal.api.enums.v1.EventType;
/** The event types a workflow task's commands write (the SDK core's `is_command_event`). */
const COMMAND_EVENTS = new Set<number>([
  EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
  EventType.EVENT_TYPE_MARKER_RECORDED,
  EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
  EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
  EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
  EventType.EVENT_TYPE_TIMER_CANCELED,
  EventType.EVENT_TYPE_TIMER_STARTED,
  EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
  EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
  EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
]);

/**
 * The workflow tasks of one run that the SDK's core merges into the next task when a worker
 * rebuilds the run from its history (temporalio/sdk-rust#1146; docs/architecture.md, "Replays that
 * merge workflow tasks"): no command since the task before it, none of its own, and the next task
 * scheduled at once (by an update). As core's `find_end_index_of_next_wft_seq` reads a history.
 */
export function mergeableTasks(events: HistoryEvent[]): number {
  let merged = 0;
  let sawCommand = false;
  events.forEach((event, i) => {
    if (COMMAND_EVENTS.has(event.eventType ?? 0)) sawCommand = true;
    if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) return;
    const next = events[i + 1]?.eventType;
    if (next === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT || next === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) return; // skipped
    if (!sawCommand && next === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && events[i + 2]?.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) {
      merged++; // taken for a heartbeat: it does not end the sequence
      return;
    }
    sawCommand = false;
  });
  return merged;
}

/** The messages of a run's workflow tasks that failed with a nondeterminism error. */
export function nondeterminismErrors(events: HistoryEvent[]): string[] {
  const cause = proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR;
  return events.flatMap((e) => (e.workflowTaskFailedEventAttributes?.cause === cause ? [e.workflowTaskFailedEventAttributes.failure?.message ?? '(no message)'] : []));
}
