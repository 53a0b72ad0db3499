/**
 * Admitted requests that do not hold an environment yet, in arrival order: those waiting for capacity (bounded by a
 * timer) and those waiting for their own cold start. An environment of a request's key that comes free goes to the
 * earliest of either kind.
 */
import type { EnvironmentTarget, ExecutionEnvironment } from '../environments/execution-environment.js';

export interface Pending {
  seq: number;
  target: EnvironmentTarget;
  key: string;
  functionId: string;
  memoryMb: number;
  reservedConcurrency: number | undefined;
  timer?: NodeJS.Timeout;
  resolve(env: ExecutionEnvironment): void;
  reject(error: Error): void;
}

export class WaitingRequests {
  /** Waiting for capacity, in arrival order. */
  readonly #queued: Pending[] = [];
  /** Waiting for their own cold start. */
  readonly #starting: Pending[] = [];

  /** Queued for capacity; `onTimeout` runs if it is still queued after `waitMs`. */
  enqueue(pending: Pending, waitMs: number, onTimeout: (pending: Pending) => void): void {
    this.#queued.push(pending);
    pending.timer = setTimeout(() => {
      if (this.take(pending)) onTimeout(pending);
    }, waitMs);
  }

  /** Its cold start has begun: it may still take a warm environment of its key released first. */
  starting(pending: Pending): void {
    this.#starting.push(pending);
  }

  /** Whether it still waits for its own cold start (not served by a released environment meanwhile). */
  isStarting(pending: Pending): boolean {
    return this.#starting.includes(pending);
  }

  /** Removes the request; false if it was no longer waiting (already served). */
  take(pending: Pending): boolean {
    clearTimeout(pending.timer);
    for (const list of [this.#queued, this.#starting]) {
      const i = list.indexOf(pending);
      if (i >= 0) {
        list.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /** The earliest waiting request that an environment of `key` serves. */
  earliestFor(key: string): Pending | undefined {
    let best: Pending | undefined;
    for (const list of [this.#queued, this.#starting]) {
      for (const p of list) if (p.key === key && (!best || p.seq < best.seq)) best = p;
    }
    return best;
  }

  /** Those waiting for capacity, in arrival order (a copy). */
  queued(): Pending[] {
    return [...this.#queued];
  }

  get queuedCount(): number {
    return this.#queued.length;
  }
}
