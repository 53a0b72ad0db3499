/**
 * The decisions of asynchronous invocation (LAMBDA_REFERENCE §7.1), pure: whether an event may start an attempt,
 * and what happens after one. Function errors (an error, a timeout, a crash) are retried up to
 * MaximumRetryAttempts, about 1 min then 2 min later; throttles and platform failures are not attempts and are
 * retried with exponential backoff (1 s doubling to 5 min); an event older than MaximumEventAgeInSeconds is dropped
 * (EventAgeExceeded), including when its next retry would come after that age.
 */
import type { DestinationCondition } from '../../model/async-event.js';

export interface RetryDelays {
  /** Before the 2nd, 3rd… attempt after a function error; the last entry repeats. */
  functionErrorMs: readonly number[];
  throttleBaseMs: number;
  throttleMaxMs: number;
}

export const LAMBDA_RETRY_DELAYS: RetryDelays = { functionErrorMs: [60_000, 120_000], throttleBaseMs: 1_000, throttleMaxMs: 300_000 };

export interface EventLimits {
  maximumRetryAttempts: number;
  maximumEventAgeMs: number;
}

export interface EventProgress {
  enqueuedMs: number;
  /** Attempts counted so far (after an attempt: including it). */
  attempts: number;
  throttles: number;
}

export type AttemptResult = 'success' | 'function-error' | 'throttled' | 'platform-error';

export type BeforeAttempt = { kind: 'run' } | { kind: 'finish'; condition: Exclude<DestinationCondition, 'Success'> };

export type NextStep =
  | { kind: 'finish'; condition: DestinationCondition }
  | { kind: 'retry'; dueMs: number; attempts: number; throttles: number };

export function expiresAtMs(event: Pick<EventProgress, 'enqueuedMs'>, limits: EventLimits): number {
  return event.enqueuedMs + limits.maximumEventAgeMs;
}

export function decideBeforeAttempt(event: EventProgress, limits: EventLimits, nowMs: number): BeforeAttempt {
  if (nowMs >= expiresAtMs(event, limits)) return { kind: 'finish', condition: 'EventAgeExceeded' };
  // Only after a crash mid-attempt (its attempt stays counted the second time): nothing left to try.
  if (event.attempts > limits.maximumRetryAttempts) return { kind: 'finish', condition: 'RetriesExhausted' };
  return { kind: 'run' };
}

/**
 * After a try: event.attempts counts it when it was an attempt (a function outcome), and does not when it was
 * throttled or failed in the platform (those are not attempts).
 */
export function decideAfterAttempt(event: EventProgress, result: AttemptResult, limits: EventLimits, delays: RetryDelays, nowMs: number): NextStep {
  const expiry = expiresAtMs(event, limits);
  switch (result) {
    case 'success':
      return { kind: 'finish', condition: 'Success' };
    case 'function-error': {
      if (event.attempts > limits.maximumRetryAttempts) return { kind: 'finish', condition: 'RetriesExhausted' };
      const table = delays.functionErrorMs;
      const delay = table[Math.min(event.attempts - 1, table.length - 1)] ?? 0;
      const dueMs = nowMs + delay;
      if (dueMs >= expiry) return { kind: 'finish', condition: 'EventAgeExceeded' };
      return { kind: 'retry', dueMs, attempts: event.attempts, throttles: 0 };
    }
    case 'throttled':
    case 'platform-error': {
      const delay = throttleBackoffMs(event.throttles, delays);
      // Due no later than its expiry, where decideBeforeAttempt drops it.
      return { kind: 'retry', dueMs: Math.min(nowMs + delay, expiry), attempts: event.attempts, throttles: event.throttles + 1 };
    }
  }
}

/** base · 2^throttles, at most max. */
export function throttleBackoffMs(throttles: number, delays: RetryDelays): number {
  return Math.min(delays.throttleBaseMs * 2 ** Math.min(throttles, 30), delays.throttleMaxMs);
}
