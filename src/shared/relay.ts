// Notifications a downstream server sent while a durable tool call ran (progress, log messages).
// The worker receives them, not the gateway, so the activity returns them with the result under
// one reserved _meta key; the gateway strips that key and sends them to the caller, in order and
// before the result. Bounded: a chatty server cannot grow a durable result without limit.

/** The reserved result `_meta` key; a value a downstream server set there is dropped. */
export const RELAY_META_KEY = 'switchyard/relay';
export const MAX_RELAYED = 100;
/** A log message's `data` longer than this (as JSON) is cut to a string of this length. */
export const MAX_RELAYED_DATA_CHARS = 1_024;

export type RelayedNotification =
  | { method: 'notifications/progress'; params: { progress: number; total?: number; message?: string } }
  | { method: 'notifications/message'; params: { level: string; logger?: string; data?: unknown } };

/** Appends within the bound; oversized log data becomes a truncated string. */
export function pushRelayed(list: RelayedNotification[], notification: RelayedNotification): void {
  if (list.length >= MAX_RELAYED) return;
  if (notification.method === 'notifications/message') {
    const json = JSON.stringify(notification.params.data ?? null);
    if (json.length > MAX_RELAYED_DATA_CHARS) {
      notification = { ...notification, params: { ...notification.params, data: `${json.slice(0, MAX_RELAYED_DATA_CHARS)}…` } };
    }
  }
  list.push(notification);
}
