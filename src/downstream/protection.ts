// Protection of one downstream server inside one worker process: at most `maxInFlight` requests
// at once (the rest wait, inside their deadline), and a circuit breaker that fails calls fast
// while the server keeps failing, then lets one probe through after a cool-down.

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly serverId: string,
    readonly retryAfterMs: number,
  ) {
    super(`downstream server "${serverId}" is failing; Switchyard stopped sending it calls for now (circuit open, retry after ${Math.ceil(retryAfterMs / 1000)} s)`);
  }
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly serverId: string,
    private readonly failureThreshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.failures < this.failureThreshold) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half_open' : 'open';
  }

  /** Throws CircuitOpenError unless a call may go out now. Call `success`/`failure` after it. */
  admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half_open' && !this.probing) {
      this.probing = true; // exactly one probe per cool-down
      return;
    }
    const waited = this.now() - this.openedAt;
    throw new CircuitOpenError(this.serverId, Math.max(0, this.cooldownMs - waited) || this.cooldownMs);
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
  }

  /** A call ended without a verdict (cancelled): let the next call probe. */
  settle(): void {
    this.probing = false;
  }

  /** A transport failure (answers, including JSON-RPC errors, are successes for the breaker). */
  failure(): void {
    this.failures++;
    if (this.failures >= this.failureThreshold) {
      this.openedAt = this.now();
      this.probing = false;
    }
  }
}

/** A counting semaphore whose waiters can give up (deadline, cancellation). */
export class Limiter {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const index = this.waiters.indexOf(wake);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal!.reason ?? new Error('aborted'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }
}
