// The bench's modes: the echo tool called directly, through Switchyard (by 2025-11-25 clients in
// sessions, and once by 2026-07-28 clients without), and through the bare
// engine in the shapes Switchyard could take (bench/engine/). Each Switchyard mode is compared
// with the engine shapes that do the same job: its floor.
import type { CostSource } from './history.js';

export const SWITCHYARD_MODES = ['direct', 'unordered', 'one-key', 'many-keys', 'unordered-2026'] as const;
export const ENGINE_MODES = [
  'engine-call',
  'engine-call-local',
  'engine-key-update-one-key',
  'engine-key-update-many-keys',
  'engine-key-update-activity-one-key',
  'engine-key-update-activity-many-keys',
  'engine-key-held-watch-one-key',
  'engine-key-held-watch-many-keys',
  'engine-key-signal-watch-one-key',
  'engine-key-signal-watch-many-keys',
  'engine-key-batch-one-key',
  'engine-key-batch-many-keys',
] as const;
export const MODES: readonly Mode[] = [...SWITCHYARD_MODES, ...ENGINE_MODES];
/**
 * What `npm run bench` runs without --modes: every mode but the held-watch prototype, a rejected
 * design that fails calls by construction from 32 clients on one key (docs/call-path-design.md)
 * and would make every full run exit non-zero. It stays runnable by name, and the smoke test runs it.
 * Nor the batched-local-activity prototype (engine-key-batch), which Switchyard does not use yet.
 */
export const DEFAULT_MODES: readonly Mode[] = MODES.filter((mode) => !mode.startsWith('engine-key-held-watch') && !mode.startsWith('engine-key-batch'));

export type SwitchyardMode = (typeof SWITCHYARD_MODES)[number];
export type EngineMode = (typeof ENGINE_MODES)[number];
export type Mode = SwitchyardMode | EngineMode;

export function isEngineMode(mode: Mode): mode is EngineMode {
  return (ENGINE_MODES as readonly string[]).includes(mode);
}

export const MODE_LABELS: Record<Mode, string> = {
  direct: '(a) direct to the server',
  unordered: '(b) Switchyard, no ordering key',
  'one-key': '(c) Switchyard, one ordering key',
  'many-keys': '(d) Switchyard, one key per client',
  'unordered-2026': '(e) as (b), from MCP 2026-07-28 clients (no session)',
  'engine-call': 'floor: workflow per call, activity',
  'engine-call-local': 'floor: workflow per call, local activity',
  'engine-key-update-one-key': 'floor: update, one key workflow, local act.',
  'engine-key-update-many-keys': 'floor: update, key workflow per client, local act.',
  'engine-key-update-activity-one-key': 'floor: update, one key workflow, activity',
  'engine-key-update-activity-many-keys': 'floor: update, key workflow per client, activity',
  'engine-key-held-watch-one-key': 'design: update-with-start, 5 held + watch, one key',
  'engine-key-held-watch-many-keys': 'design: update-with-start, 5 held + watch, key per client',
  'engine-key-signal-watch-one-key': 'design: 4 updates held/client, signal + watch over, one key',
  'engine-key-signal-watch-many-keys': 'design: 4 updates held/client, signal + watch over, key per client',
  'engine-key-batch-one-key': 'prototype: update, one key workflow, queued calls in one local act.',
  'engine-key-batch-many-keys': 'prototype: update, key workflow per client, queued calls in one local act.',
};

/**
 * The floors a Switchyard mode is held against: the cheapest engine shapes that give the same
 * guarantee. Unordered calls need no order, so both the per-call workflow and the per-key
 * workflow (a key per client) bound them; ordered calls are bounded by the keyed shape with the
 * same number of keys.
 */
export const FLOORS: Partial<Record<SwitchyardMode, EngineMode[]>> = {
  unordered: ['engine-call', 'engine-key-update-many-keys'],
  'unordered-2026': ['engine-call', 'engine-key-update-many-keys'],
  'one-key': ['engine-key-update-one-key'],
  'many-keys': ['engine-key-update-many-keys'],
};

/** callPath.shardsPerTenant's default: the bench runs with it. */
const SHARDS_PER_TENANT = 8;

/** The workflows one call of a mode goes through, for the history costs (history.ts). */
export function costSources(mode: Mode, phase: { calls: number; warmup: number; concurrency: number }): CostSource[] {
  const perCall = (workflowType: string): CostSource => ({ workflowType, callsOf: () => 1, closedOnly: true, expected: phase.calls + phase.warmup });
  const keys = mode.endsWith('one-key') ? 1 : phase.concurrency;
  switch (mode) {
    case 'direct':
      return [];
    case 'unordered':
    case 'unordered-2026':
    case 'one-key':
    case 'many-keys':
      // A call is a `call` update or a `submitCall` signal of its key or shard workflow; the
      // workflow's start, tasks, `watch` updates and record children are shared by its calls.
      return [
        {
          workflowType: 'keyWorkflow',
          callsOf: (c) => (c.updatesByName.call ?? 0) + (c.signals.submitCall ?? 0),
          closedOnly: false,
          expected: mode.startsWith('unordered') ? Math.min(phase.concurrency, SHARDS_PER_TENANT) : keys,
          idPrefix: mode.startsWith('unordered') ? 'switchyard/default/shard/' : 'switchyard/default/key/',
        },
      ];
    case 'engine-call':
      return [perCall('engineCallWorkflow')];
    case 'engine-call-local':
      return [perCall('engineCallLocalWorkflow')];
    case 'engine-key-held-watch-one-key':
    case 'engine-key-held-watch-many-keys':
      // Its calls are its `call` updates; its `watch` updates are part of their cost.
      return [{ workflowType: 'engineHeldWatchWorkflow', callsOf: (c) => c.updatesByName.call ?? 0, closedOnly: false, expected: keys }];
    case 'engine-key-signal-watch-one-key':
    case 'engine-key-signal-watch-many-keys':
      // Its calls are its `call` updates and its `enqueue` signals; its `watch` updates are part of their cost.
      return [{ workflowType: 'engineSignalWatchWorkflow', callsOf: (c) => (c.updatesByName.call ?? 0) + (c.signals.enqueue ?? 0), closedOnly: false, expected: keys }];
    default:
      return [{ workflowType: 'engineKeyWorkflow', callsOf: (c) => c.updates, closedOnly: false, expected: keys }];
  }
}
