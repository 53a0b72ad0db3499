/**
 * A Clock that moves only when a test says so. advance(ms) moves time forward and fires every timer that falls
 * due, in due order, each with now() reading its own due time (a timer set by a firing timer fires too, if it falls
 * due within the advance).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { systemClock, type Clock, type Timer } from '../../src/shared/clock.js';

interface Pending {
  dueMs: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  #nowMs: number;
  #seq = 0;
  readonly #pending = new Set<Pending>();

  constructor(startMs = Date.now()) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry: Pending = { dueMs: this.#nowMs + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#pending.add(entry);
    return { cancel: () => void this.#pending.delete(entry) };
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#pending.size;
  }

  /** The due time of the next timer, if any. */
  nextDueMs(): number | undefined {
    return this.#next()?.dueMs;
  }

  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (let next = this.#next(); next !== undefined && next.dueMs <= target; next = this.#next()) {
      this.#pending.delete(next);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.fn();
    }
    this.#nowMs = target;
  }

  /**
   * advance(ms), then one turn of the event loop: whatever the fired timers did synchronously and in promise
   * continuations (no I/O) has happened when this resolves.
   */
  async tick(ms = 0): Promise<void> {
    this.advance(ms);
    await nextTurn();
  }

  #next(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#pending) if (!best || p.dueMs < best.dueMs || (p.dueMs === best.dueMs && p.seq < best.seq)) best = p;
    return best;
  }
}

/** A Clock reading now() from the given function, with real timers (tests that only shift or freeze time). */
export function clockReading(now: () => number): Clock {
  return { now, setTimer: (delayMs, fn) => systemClock.setTimer(delayMs, fn) };
}
