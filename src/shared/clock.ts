/** Time is injected so tests can drive it: reading it, and waiting on it. */
export interface Timer {
  /** Stops the timer if it has not fired yet (idempotent). */
  cancel(): void;
}

export interface Clock {
  now(): number;
  /**
   * Calls fn once, when this clock reaches now() + delayMs. Timers never keep the process alive: whoever sets one
   * owns cancelling it on close. Delays and ages that tests must drive (async retries, event ages) use this.
   */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** Node's timers take at most 2^31 - 1 ms; a longer delay re-arms until the deadline. */
const MAX_NODE_DELAY_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const deadline = Date.now() + Math.max(0, delayMs);
    let handle: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = deadline - Date.now();
      handle = setTimeout(left > MAX_NODE_DELAY_MS ? arm : fn, Math.min(Math.max(0, left), MAX_NODE_DELAY_MS));
      handle.unref();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};
