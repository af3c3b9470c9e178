// A key workflow's pause before it continues as new (workflows/key.ts, QUIET_ROLLOVER): an
// activity rather than a timer, because Temporal fires timers shorter than about a second a
// second late (history.timerProcessorMaxTimeShift), which stalled every roll-over by a second.
import { setTimeout as delay } from 'node:timers/promises';

export function createRolloverActivities() {
  return {
    /** Returns after `ms`: long enough for the gateways told "draining" to stop sending, and for what they sent before to land. */
    async rolloverPause(ms: number): Promise<void> {
      await delay(ms);
    },
  };
}
