// mergeableTasks (test/support/key-history.ts) finds the workflow tasks that the SDK's core merges
// when it rebuilds a run (docs/architecture.md, "Replays that merge workflow tasks"); the
// integration test of that hazard relies on it to show that the hazard happened.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { mergeableTasks, type HistoryEvent } from '../support/key-history.js';

const T = proto.temporal.api.enums.v1.EventType;
const events = (...types: number[]): HistoryEvent[] => types.map((eventType) => ({ eventType }));
const task = [T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, T.EVENT_TYPE_WORKFLOW_TASK_STARTED, T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED];

describe('tasks a rebuilt run merges', () => {
  it('is a task without commands after one without commands, with the next task scheduled at once (an update)', () => {
    const history = events(...task, T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, ...task, ...task, T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    assert.equal(mergeableTasks(history), 1);
  });

  it('is not one when the task before it wrote a command, or when another event comes before the next task', () => {
    assert.equal(mergeableTasks(events(...task, T.EVENT_TYPE_TIMER_STARTED, T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, ...task, ...task, T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)), 0);
    assert.equal(mergeableTasks(events(...task, T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, ...task, T.EVENT_TYPE_TIMER_FIRED, ...task)), 0);
  });

  it('skips a task that timed out: it does not end the sequence, so the command before it still counts', () => {
    const timedOut = [T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, T.EVENT_TYPE_WORKFLOW_TASK_STARTED, T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT];
    assert.equal(mergeableTasks(events(...task, T.EVENT_TYPE_TIMER_STARTED, ...timedOut, ...task, ...task)), 0);
    assert.equal(mergeableTasks(events(...task, T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, ...timedOut, ...task, ...task)), 1);
  });

  it('finds them in the history that a merge made unreplayable', () => {
    const file = resolve(import.meta.dirname, '..', 'fixtures', 'nondeterminism', 'key-local-unattended-after-kill.json');
    assert.equal(mergeableTasks(historyFromJSON(JSON.parse(readFileSync(file, 'utf8'))).events as HistoryEvent[]), 11);
  });
});
