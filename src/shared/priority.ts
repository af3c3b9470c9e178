// Temporal priority keys, in a module without schemas: workflow code imports it, and every
// module in the workflow bundle is initialised again for each workflow (docs/performance.md).

/** Temporal priority keys: 1 runs first. Normal is Temporal's default (3). */
export const PRIORITY_KEYS = { critical: 1, high: 2, normal: 3, low: 4 } as const;
