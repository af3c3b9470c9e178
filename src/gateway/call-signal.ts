// The abort signal a tool call carries from the MCP request through the services to Temporal's
// client. That client adds an 'abort' listener to it for every gRPC call made under it and never
// removes one. Node keeps a composite signal (AbortSignal.any) or a timeout signal that has an
// 'abort' listener alive until it aborts, so that it can still fire; a composite per request kept
// every answered request's gRPC calls in the gateway's memory: 8,600 of them after 20,000 calls
// in the soak (docs/performance.md, "Soak"). A plain AbortController's signal has no such hold: it
// goes with its request.

/** A signal that aborts when any of `sources` does, or on `abort()`; `dispose()` detaches it from them. */
export function callSignal(...sources: AbortSignal[]): { signal: AbortSignal; abort: () => void; dispose: () => void } {
  const controller = new AbortController();
  const follow = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const source of sources) {
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    source.addEventListener('abort', follow, { once: true });
  }
  return {
    signal: controller.signal,
    abort: () => controller.abort(),
    dispose: () => {
      for (const source of sources) source.removeEventListener('abort', follow);
    },
  };
}
