// Running a call's downstream request with the retries its mutation class allows. Shared by the
// call workflow and the dead-letter workflow (a redrive runs the same way).
//
//   read_only, idempotent: Temporal retries every transport failure with backoff, inside the deadline.
//   non_idempotent: the activity runs once per attempt and this loop retries only failures that
//     provably happened before the request was sent; anything else (a timeout after sending, a
//     broken connection, a worker that died mid-request) is an unknown outcome, never repeated.
import { ActivityFailure, ApplicationFailure, isCancellation, patched, proxyActivities, proxyLocalActivities, sleep, TimeoutFailure } from '@temporalio/workflow';
import type { BatchItem } from '../activities/call-tool.js';
import type { Activities } from '../activities/index.js';
import type { CallEnvelope, CallOutcome, CallStatus, ToolResult } from '../shared/envelope.js';

const NON_RETRYABLE = ['DownstreamProtocolError', 'UnknownTool', 'ResultTooLarge', 'CircuitOpen', 'DeadlineExceeded'];

// Temporal does not start a retry whose backoff would end after the schedule-to-close timeout
// (our deadline): it fails the activity at once with the last failure and retry state TIMEOUT.
// That is the deadline ending the call, not the retry policy. Older code dead-lettered it
// `retries_exhausted` (a different command: the dead-letter child), hence the patch.
const DEADLINE_CROSSING_RETRY = 'deadline-crossing-retry-is-deadline-exceeded';

/**
 * How a key workflow runs a call (workflows/key.ts); call and dead-letter workflows pass nothing,
 * which keeps their recorded histories replaying.
 */
export interface AttemptOptions {
  /** A local activity: for short tools that are safe to repeat (see docs/architecture.md, "Running a call"). */
  local: boolean;
  /** The call's own Temporal priority: a key workflow runs calls of every priority. */
  priorityKey: number;
  /** The activity id (regular activities), so progress and the Web UI find a call's activity among its workflow's. */
  activityId: string;
  /**
   * The first attempt, already made in a batch of local calls (workflows/key.ts): its result is
   * the call's, and a retryable failure is retried as Temporal would have, counting that attempt.
   */
  first?: NonNullable<BatchItem>;
}

export async function runAttempts(envelope: CallEnvelope, status: Pick<CallStatus, 'attempt' | 'lastFailure'>, how?: AttemptOptions): Promise<CallOutcome> {
  const policy = envelope.retry;
  const safeToRepeat = envelope.mutation !== 'non_idempotent';
  /** Attempts made in a batch before Temporal runs the rest (see AttemptOptions.first). */
  let attemptsBefore = 0;
  for (let attempt = 1; ; attempt++) {
    const remainingMs = envelope.deadlineAt - Date.now();
    if (remainingMs <= 0) return deadlineExceeded(attempt === 1 ? 'before it could start' : 'between retries');
    status.attempt = attempt;
    const retry = safeToRepeat
      ? {
          maximumAttempts: policy.maxAttempts - attemptsBefore,
          initialInterval: policy.initialIntervalMs,
          maximumInterval: policy.maxIntervalMs,
          backoffCoefficient: policy.backoffCoefficient,
          nonRetryableErrorTypes: NON_RETRYABLE,
        }
      : { maximumAttempts: 1 };
    const timeouts = {
      // All attempts together must finish inside the deadline; one attempt also gets the
      // per-server request timeout.
      scheduleToCloseTimeout: remainingMs,
      startToCloseTimeout: Math.min(remainingMs, envelope.requestTimeoutMs + 5_000),
    };
    const summary = `${envelope.publicTool} for tenant ${envelope.tenant}`;
    const activityId = how === undefined ? undefined : safeToRepeat ? how.activityId : `${how.activityId}#${attempt}`;
    const { callTool } = how?.local
      ? proxyLocalActivities<Activities>({ ...timeouts, retry, summary })
      : proxyActivities<Activities>({
          ...timeouts,
          // The heartbeat carries cancellation and detects dead workers.
          heartbeatTimeout: envelope.heartbeatTimeoutMs,
          summary,
          allowEagerDispatch: false, // through the task queue, so priority applies
          retry,
          ...(how !== undefined ? { priority: { priorityKey: how.priorityKey }, activityId: activityId! } : {}),
        });
    const batched = attempt === 1 ? how?.first : undefined;
    try {
      const result = batched !== undefined ? fromBatch(batched) : !safeToRepeat ? await callTool(envelope, attempt) : attemptsBefore > 0 ? await callTool(envelope, undefined, attemptsBefore) : await callTool(envelope);
      return { status: 'completed', result };
    } catch (error) {
      if (isCancellation(error)) throw error;
      if (batched !== undefined && error instanceof ApplicationFailure && retriedByTemporal(error) && policy.maxAttempts > 1) {
        // Temporal would retry it after the first backoff: so does this workflow, then Temporal the rest.
        status.lastFailure = error.message;
        const backoff = Math.min(policy.maxIntervalMs, policy.initialIntervalMs);
        if (envelope.deadlineAt - Date.now() <= backoff) return deadlineExceeded(`while retrying: ${error.message}${attemptsNote(1)}`);
        await sleep(backoff);
        attemptsBefore = 1;
        continue;
      }
      const failed = asActivityFailure(error, how?.local === true, policy.maxAttempts);
      if (failed === undefined) throw error;
      const { cause } = failed;
      // The deadline, not the retry policy, ended a safe call's retries.
      const pastDeadline = () => Date.now() >= envelope.deadlineAt - 50;
      const deadlineCut = () => pastDeadline() || (failed.retryState === 'TIMEOUT' && patched(DEADLINE_CROSSING_RETRY));
      if (cause instanceof ApplicationFailure) {
        status.lastFailure = cause.message;
        // Temporal ran the retries of a safe call: the failing attempt's number is in the failure's details.
        const made = safeToRepeat ? (attemptOf(cause) ?? policy.maxAttempts) : attempt;
        status.attempt = made;
        switch (cause.type) {
          case 'DeadlineExceeded':
            return deadlineExceeded(`${cause.message.replace(/^deadline passed /, '')}${attemptsNote(made)}`);
          case 'DownstreamProtocolError': {
            const code = typeof cause.details?.[0] === 'number' ? cause.details[0] : undefined;
            const data = cause.details?.[1] as Record<string, unknown> | undefined;
            return { status: 'failed', reason: 'downstream_error', code, ...(data !== undefined ? { data } : {}), message: cause.message, attempts: attempt };
          }
          case 'CircuitOpen':
            return { status: 'failed', reason: 'circuit_open', message: cause.message, attempts: attempt };
          // No credential for the downstream server (an expired caller token, a refused exchange): nothing was sent.
          case 'CredentialsUnavailable':
            return { status: 'failed', reason: 'credentials', message: cause.message, attempts: attempt };
          case 'UnknownTool':
          case 'ResultTooLarge':
            return { status: 'failed', reason: 'transport', message: cause.message, attempts: attempt };
          case 'DownstreamNotSent':
            if (!safeToRepeat && attempt < policy.maxAttempts) {
              const backoff = Math.min(policy.maxIntervalMs, policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1));
              if (envelope.deadlineAt - Date.now() <= backoff) return deadlineExceeded(`while retrying a server that was unreachable${attemptsNote(made)}`);
              await sleep(backoff);
              continue;
            }
            // Older code checked no deadline here at all, hence the patch on both conditions.
            if (safeToRepeat && (pastDeadline() || failed.retryState === 'TIMEOUT') && patched(DEADLINE_CROSSING_RETRY)) {
              return deadlineExceeded(`while retrying a server that was unreachable${attemptsNote(made)}`);
            }
            return deadLettered('retries_exhausted', `${cause.message} (${made} attempts)`, made);
          default:
            if (!safeToRepeat) return deadLettered('outcome_unknown', `${cause.message}; the request may have reached the server, so it was not repeated`, attempt);
            if (deadlineCut()) return deadlineExceeded(`while retrying: ${cause.message}${attemptsNote(made)}`);
            return deadLettered('retries_exhausted', `${cause.message} (${made} attempts)`, made);
        }
      }
      const attempts = safeToRepeat ? policy.maxAttempts : attempt;
      if (cause instanceof TimeoutFailure) {
        // scheduleToClose is the deadline. Heartbeat and startToClose timeouts mean the worker
        // died or hung mid-request: unknown for a non-idempotent tool, retried (until exhausted) otherwise.
        // A deadline that fired between retries carries the last attempt's failure as its cause.
        const last = cause.cause instanceof ApplicationFailure ? attemptOf(cause.cause) : undefined;
        if (Date.now() >= envelope.deadlineAt - 50) return deadlineExceeded(`while the downstream server was working${last !== undefined ? attemptsNote(last) : ''}`);
        status.lastFailure = `attempt timed out (${cause.timeoutType})`;
        if (!safeToRepeat) return deadLettered('outcome_unknown', 'the worker running the call stopped responding mid-request; the request may have reached the server, so it was not repeated', attempt);
        if (deadlineCut()) return deadlineExceeded('while retrying attempts that timed out');
        return deadLettered('retries_exhausted', `every attempt timed out (${attempts} attempts)`, attempts);
      }
      status.lastFailure = cause?.message ?? failed.message;
      return deadLettered(safeToRepeat ? 'retries_exhausted' : 'outcome_unknown', cause?.message ?? failed.message, attempts);
    }
  }
}

/** A batched call's first attempt, as its own local activity would have ended (see AttemptOptions.first). */
function fromBatch(item: NonNullable<BatchItem>): ToolResult {
  if ('result' in item) return item.result;
  const { type, message, nonRetryable, details } = item.failure;
  throw ApplicationFailure.create({ type, message, nonRetryable, details });
}

/** Whether Temporal's retry policy would run another attempt after this failure. */
function retriedByTemporal(failure: ApplicationFailure): boolean {
  return !failure.nonRetryable && !NON_RETRYABLE.includes(failure.type ?? '');
}

/**
 * What failed, as a regular activity reports it. A local activity's failure reaches the workflow
 * unwrapped (the ApplicationFailure or TimeoutFailure itself) and without a retry state: a
 * retryable failure that ended before maxAttempts was ended by the deadline (TIMEOUT).
 */
function asActivityFailure(error: unknown, local: boolean, maxAttempts: number): { cause: Error | undefined; retryState: string | null | undefined; message: string } | undefined {
  if (error instanceof ActivityFailure) return { cause: error.cause, retryState: error.retryState, message: error.message };
  if (!local) return undefined;
  if (error instanceof ApplicationFailure) {
    const made = attemptOf(error);
    const retryable = !error.nonRetryable && !NON_RETRYABLE.includes(error.type ?? '');
    return { cause: error, retryState: retryable && made !== undefined && made < maxAttempts ? 'TIMEOUT' : 'MAXIMUM_ATTEMPTS_REACHED', message: error.message };
  }
  if (error instanceof TimeoutFailure) return { cause: error, retryState: 'TIMEOUT', message: error.message };
  return undefined;
}

/** The attempt that failed, as the activity put it in the failure's details (see activities/call-tool.ts). */
function attemptOf(cause: ApplicationFailure): number | undefined {
  if (cause.type === 'DownstreamProtocolError' || cause.type === 'CircuitOpen') return undefined; // their details hold other things
  const attempt = cause.details?.[0];
  return typeof attempt === 'number' && Number.isInteger(attempt) && attempt >= 0 ? attempt : undefined;
}

function attemptsNote(made: number): string {
  return made === 0 ? '' : `, after ${made} attempt${made === 1 ? '' : 's'}`;
}

export function deadlineExceeded(when: string): CallOutcome {
  return { status: 'deadline_exceeded', message: `deadline passed ${when}` };
}

function deadLettered(reason: 'retries_exhausted' | 'outcome_unknown', message: string, attempts: number): CallOutcome {
  return { status: 'dead_lettered', reason, message, attempts };
}
